/// Selects the `k` highest-scoring candidates with a bounded min-heap: O(n log k), no full sort.
struct TopK {
    private(set) var heap: [(id: Int32, score: Float)] = []
    let k: Int

    init(_ k: Int) {
        self.k = k
        self.heap.reserveCapacity(k)
    }

    /// The lowest score kept, once full; candidates at or below it cannot enter.
    @inline(__always)
    var threshold: Float {
        self.heap.count < self.k ? -.infinity : self.heap[0].score
    }

    @inline(__always)
    mutating func offer(_ id: Int32, _ score: Float) {
        guard self.k > 0 else { return }
        if self.heap.count < self.k {
            self.heap.append((id, score))
            var child = self.heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard self.heap[child].score < self.heap[parent].score else { break }
                self.heap.swapAt(child, parent)
                child = parent
            }
        } else if score > self.heap[0].score {
            self.heap[0] = (id, score)
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < self.heap.count else { break }
                var smallest = left
                if left + 1 < self.heap.count, self.heap[left + 1].score < self.heap[left].score { smallest = left + 1 }
                guard self.heap[smallest].score < self.heap[parent].score else { break }
                self.heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
    }

    /// The kept candidates, best first (ties by lower id first, for determinism).
    func sorted() -> [(id: Int32, score: Float)] {
        self.heap.sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
    }
}
