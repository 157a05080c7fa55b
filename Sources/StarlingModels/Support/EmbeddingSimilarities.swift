/// Cosine similarities among a fixed list of items, with each item's embedding normalised once, so that comparing
/// many pairs costs one dot product per pair.
///
/// Made by ``RecommendationEngine/embeddingSimilarities(of:)``; it holds copies of the vectors, so it stays valid
/// after the engine's lock is released.
public struct EmbeddingSimilarities: Sendable {
    /// The unit vectors, `dimensions` floats per listed item; zeros for an item without an embedding.
    private let vectors: [Float]
    private let dimensions: Int

    init(vectors: [Float], dimensions: Int) {
        self.vectors = vectors
        self.dimensions = dimensions
    }

    /// The cosine similarity of the `a`-th and `b`-th listed items; 0 when either has no embedding.
    public func similarity(_ a: Int, _ b: Int) -> Float {
        self.vectors.withUnsafeBufferPointer { vectors in
            VectorMath.dot(
                vectors.baseAddress! + a * self.dimensions,
                vectors.baseAddress! + b * self.dimensions,
                self.dimensions
            )
        }
    }
}
