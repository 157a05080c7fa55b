// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "starling",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "starling", targets: ["starling"]),
        .executable(name: "starling-bench", targets: ["StarlingBench"]),
        .library(name: "StarlingCore", targets: ["StarlingCore"]),
        .library(name: "StarlingEventLog", targets: ["StarlingEventLog"]),
        .library(name: "StarlingModels", targets: ["StarlingModels"]),
        .library(name: "StarlingStream", targets: ["StarlingStream"]),
        .library(name: "StarlingServing", targets: ["StarlingServing"]),
        .library(name: "StarlingHTTP", targets: ["StarlingHTTP"]),
        .library(name: "StarlingRedis", targets: ["StarlingRedis"]),
        .library(name: "StarlingCluster", targets: ["StarlingCluster"]),
        .library(name: "StarlingClient", targets: ["StarlingClient"]),
        .library(name: "StarlingKafka", targets: ["StarlingKafka"]),
    ],
    // Optional system dependencies are traits, off by default, so that a plain `swift build` needs only the
    // toolchain. A trait gates the dependency here and its module's sources with `#if` (SwiftPM still compiles a
    // trait-gated module, empty).
    traits: [
        .trait(
            name: "Kafka",
            description: "Kafka as the event log (starling serve --kafka), through librdkafka (apt: librdkafka-dev)."
        ),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
    ],
    targets: [
        .target(
            name: "StarlingCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "StarlingEventLog",
            dependencies: [
                "StarlingCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"]), .brew(["librdkafka"])]
        ),
        .target(
            name: "StarlingKafka",
            dependencies: [
                "StarlingCore",
                .target(name: "CRdKafka", condition: .when(traits: ["Kafka"])),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "StarlingModels",
            dependencies: ["StarlingCore"]
        ),
        .target(
            name: "StarlingStream",
            dependencies: [
                "StarlingCore",
                "StarlingModels",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "StarlingServing",
            dependencies: ["StarlingCore", "StarlingModels", "StarlingStream"]
        ),
        // The SDK for apps: Foundation only, so that iOS and macOS apps take nothing else with it.
        .target(name: "StarlingClient"),
        .target(
            name: "StarlingEvaluation",
            dependencies: ["StarlingCore", "StarlingModels"]
        ),
        .target(
            name: "StarlingHTTP",
            dependencies: [
                "StarlingCore",
                "StarlingServing",
                "StarlingStream",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Static assets compiled into the binary as bytes (nothing is read from disk at run time): the built-in
            // dashboard (GET /dashboard), the browser SDK (a link to sdk/js/starling.js, its source) and the demo page.
            resources: [
                .embedInCode("Dashboard/dashboard.html"),
                .embedInCode("Assets/starling.js"),
                .embedInCode("Assets/demo.html"),
            ]
        ),
        .target(
            name: "StarlingRedis",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "StarlingCluster",
            dependencies: [
                "StarlingCore",
                "StarlingModels",
                "StarlingStream",
                "StarlingServing",
                "StarlingRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "StarlingServer",
            dependencies: [
                "StarlingCore",
                "StarlingEventLog",
                "StarlingModels",
                "StarlingStream",
                "StarlingServing",
                "StarlingHTTP",
                "StarlingCluster",
                "StarlingRedis",
                .target(name: "StarlingKafka", condition: .when(traits: ["Kafka"])),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "starling",
            dependencies: [
                "StarlingCore",
                "StarlingEventLog",
                "StarlingModels",
                "StarlingServing",
                "StarlingServer",
                "StarlingHTTP",
                "StarlingStream",
                "StarlingEvaluation",
                "StarlingRedis",
                .target(name: "StarlingKafka", condition: .when(traits: ["Kafka"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "StarlingBench",
            dependencies: [
                "StarlingCore",
                "StarlingEventLog",
                "StarlingModels",
                "StarlingStream",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "StarlingCoreTests", dependencies: ["StarlingCore"]),
        .testTarget(name: "StarlingModelsTests", dependencies: ["StarlingCore", "StarlingModels"]),
        .testTarget(
            name: "StarlingEventLogTests",
            dependencies: ["StarlingCore", "StarlingEventLog", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "StarlingStreamTests",
            dependencies: [
                "StarlingCore", "StarlingEventLog", "StarlingModels", "StarlingStream", "StarlingTestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "StarlingHTTPTests",
            dependencies: [
                "StarlingCore", "StarlingEventLog", "StarlingModels", "StarlingStream", "StarlingServing",
                "StarlingHTTP", "StarlingServer", "StarlingRedis", "StarlingTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "StarlingServingTests",
            dependencies: [
                "StarlingCore", "StarlingModels", "StarlingServing", "StarlingTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "StarlingEvaluationTests",
            dependencies: ["StarlingCore", "StarlingModels", "StarlingEvaluation"]
        ),
        .target(
            name: "StarlingTestSupport",
            dependencies: ["StarlingCore", "StarlingRedis"],
            path: "Tests/StarlingTestSupport"
        ),
        .testTarget(
            name: "StarlingRedisTests",
            dependencies: [
                "StarlingRedis",
                "StarlingTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "StarlingIntegrationTests",
            dependencies: ["StarlingClient", "StarlingCore", "StarlingEvaluation", "StarlingModels", "StarlingTestSupport"]
        ),
        .testTarget(
            name: "StarlingKafkaTests",
            dependencies: [
                "StarlingCore", "StarlingTestSupport",
                .target(name: "StarlingKafka", condition: .when(traits: ["Kafka"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "StarlingClusterTests",
            dependencies: [
                "StarlingCore", "StarlingModels", "StarlingStream", "StarlingServing", "StarlingRedis", "StarlingCluster",
                "StarlingTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

// Decoder fuzzing (docs/reliability.md, "Decoders fuzzed"): the targets and the mutation driver that `swift test`
// runs live in StarlingFuzzing. The libFuzzer driver links only against libFuzzer's runtime with sanitizer flags,
// which scripts/fuzz passes, so it exists only when that script sets STARLING_LIBFUZZER.
package.targets.append(
    .target(
        name: "StarlingFuzzing",
        dependencies: [
            "StarlingCore", "StarlingEventLog", "StarlingModels", "StarlingStream", "StarlingServing", "StarlingRedis",
            "StarlingCluster",
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Tests/StarlingFuzzing"
    )
)
package.targets.append(
    .testTarget(
        name: "StarlingFuzzTests",
        dependencies: [
            "StarlingCore", "StarlingEventLog", "StarlingModels", "StarlingStream", "StarlingServing", "StarlingRedis",
            "StarlingCluster", "StarlingFuzzing",
        ]
    )
)
if Context.environment["STARLING_LIBFUZZER"] != nil {
    package.targets.append(
        .executableTarget(name: "StarlingFuzzer", dependencies: ["StarlingFuzzing"], path: "Tests/StarlingFuzzer")
    )
}

for target in package.targets where [.regular, .test, .executable].contains(target.type) {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
