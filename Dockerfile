# The Starling image the manifests in deploy/kubernetes/ reference (starling:latest; push it to your registry and
# change the image there). No container engine is reachable from the development machines, so this file is not built
# in CI: it is kept minimal, and every step is one the README's set-up also runs.
#
#   docker build -t starling:latest .
#
# Build stage: the Swift 6.3 toolchain; the Swift runtime is linked statically, so the run stage needs no toolchain.
FROM swift:6.3-bookworm AS build
WORKDIR /src
# The whole package (the manifest names its test targets too); .dockerignore leaves out builds and data.
COPY . .
RUN swift build -c release --product starling --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/starling" /starling

# Run stage: Debian with what Foundation's networking loads at run time (libcurl) and CA certificates.
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libcurl4 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/starling --create-home starling
COPY --from=build /starling /usr/local/bin/starling
USER 10001
WORKDIR /var/lib/starling
EXPOSE 8080
# Listening beyond loopback needs API keys (STARLING_API_KEYS or --api-keys) or --insecure-no-auth.
ENTRYPOINT ["/usr/local/bin/starling"]
CMD ["serve", "--host", "0.0.0.0", "--data-dir", "/var/lib/starling/data"]
