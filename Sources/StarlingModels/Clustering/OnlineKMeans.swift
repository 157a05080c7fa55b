/// Online k-means over embeddings: each update moves the nearest centroid towards the point.
///
/// Centroids start from the first `k` distinct points seen; afterwards each point moves its centroid by
/// `1 / count`, floored at ``Configuration/minimumRate`` so that segments keep following drifting users.
public struct OnlineKMeans: Sendable {
    /// Configuration of ``OnlineKMeans``.
    public struct Configuration: Sendable {
        /// Number of segments. Defaults to 16.
        public var clusters: Int
        /// The smallest step a centroid takes towards a point. Defaults to 0.001.
        public var minimumRate: Float

        public init(clusters: Int = 16, minimumRate: Float = 0.001) {
            precondition(clusters > 0, "clusters must be positive")
            self.clusters = clusters
            self.minimumRate = minimumRate
        }
    }

    public let configuration: Configuration
    public let dimensions: Int
    /// Centroids, row-major.
    public private(set) var centroids: [Float] = []
    public private(set) var counts: [Int] = []

    public init(dimensions: Int, configuration: Configuration = .init()) {
        self.dimensions = dimensions
        self.configuration = configuration
    }

    public var clusterCount: Int { self.counts.count }

    /// The nearest centroid to `point`, or `nil` before any exists.
    public func nearest(_ point: ArraySlice<Float>) -> Int? {
        guard !self.counts.isEmpty else { return nil }
        var best = 0
        var bestDistance = Float.infinity
        self.centroids.withUnsafeBufferPointer { c in
            point.withUnsafeBufferPointer { p in
                for cluster in 0..<self.counts.count {
                    let distance = VectorMath.squaredDistance(
                        c.baseAddress! + cluster * self.dimensions,
                        p.baseAddress!,
                        self.dimensions
                    )
                    if distance < bestDistance {
                        bestDistance = distance
                        best = cluster
                    }
                }
            }
        }
        return best
    }

    /// Assigns `point` to its nearest centroid (creating centroids while fewer than `k` exist) and moves that
    /// centroid towards it. Returns the cluster.
    @discardableResult
    public mutating func update(_ point: ArraySlice<Float>) -> Int {
        if self.counts.count < self.configuration.clusters {
            self.centroids.append(contentsOf: point)
            self.counts.append(1)
            return self.counts.count - 1
        }
        let cluster = self.nearest(point)!
        self.counts[cluster] += 1
        let rate = max(1 / Float(self.counts[cluster]), self.configuration.minimumRate)
        let base = cluster * self.dimensions
        var k = 0
        for value in point {
            self.centroids[base + k] += rate * (value - self.centroids[base + k])
            k += 1
        }
        return cluster
    }

    public mutating func restore(centroids: [Float], counts: [Int]) {
        self.centroids = centroids
        self.counts = counts
    }
}
