/// The net signal of every (user, item) pair, by user and by item: the sparse matrix iALS fits, kept up to date one
/// event at a time so that a user (or item) can be folded in exactly against it.
///
/// Memory is two `Int32` ids and two `Float` signals per distinct pair (one entry in the user's row, one in the
/// item's); a pair whose signals cancel to 0 is removed.
public struct ImplicitFeedback: Sendable {
    /// One row: column ids in ascending order and their net signals.
    public struct Row: Sendable, Equatable {
        public internal(set) var ids: [Int32] = []
        public internal(set) var signals: [Float] = []

        /// An empty row.
        public init() {}

        /// A row from ids in ascending order and their signals.
        public init(ids: [Int32], signals: [Float]) {
            precondition(ids.count == signals.count, "a row needs one signal per id")
            self.ids = ids
            self.signals = signals
        }

        /// Adds `signal` to column `id`'s net signal.
        mutating func add(_ id: Int32, _ signal: Float) {
            var low = 0
            var high = self.ids.count
            while low < high {
                let mid = (low + high) / 2
                if self.ids[mid] < id { low = mid + 1 } else { high = mid }
            }
            if low < self.ids.count, self.ids[low] == id {
                self.signals[low] += signal
                if self.signals[low] == 0 {
                    self.ids.remove(at: low)
                    self.signals.remove(at: low)
                }
            } else if signal != 0 {
                self.ids.insert(id, at: low)
                self.signals.insert(signal, at: low)
            }
        }
    }

    /// Each user's items.
    public private(set) var users: [Row] = []
    /// Each item's users.
    public private(set) var items: [Row] = []

    public init() {}

    /// The matrix of `interactions`, with room for `userCount` users and `itemCount` items.
    public init(_ interactions: [FactorTrainer.Interaction], userCount: Int, itemCount: Int) {
        self.users = Array(repeating: Row(), count: userCount)
        self.items = Array(repeating: Row(), count: itemCount)
        for interaction in interactions {
            self.add(user: interaction.user, item: interaction.item, signal: interaction.signal)
        }
    }

    /// Restores the matrix from its users' rows (``users``).
    public init(users: [Row], itemCount: Int) {
        self.users = users
        self.items = Array(repeating: Row(), count: itemCount)
        for (user, row) in users.enumerated() {
            for (item, signal) in zip(row.ids, row.signals) {
                while self.items.count <= Int(item) { self.items.append(Row()) }
                self.items[Int(item)].add(Int32(user), signal)
            }
        }
    }

    /// Adds `signal` to the pair's net signal.
    public mutating func add(user: Int32, item: Int32, signal: Float) {
        while self.users.count <= Int(user) { self.users.append(Row()) }
        while self.items.count <= Int(item) { self.items.append(Row()) }
        self.users[Int(user)].add(item, signal)
        self.items[Int(item)].add(user, signal)
    }
}
