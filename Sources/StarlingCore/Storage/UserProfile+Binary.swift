extension UserProfile {
    /// Appends the profile's binary form (used by checkpoints and by the profiles published to Redis).
    public func encode(into w: inout BinaryWriter) {
        w.write(self.user)
        w.write(self.version)
        w.write(self.eventCount)
        w.write(self.firstSeen.milliseconds)
        w.write(self.lastSeen.milliseconds)
        w.writeVarint(UInt64(self.recent.count))
        for r in self.recent {
            w.write(r.item)
            w.write(r.type.name)
            w.write(r.timestamp.milliseconds)
        }
        w.writeVarint(UInt64(self.interacted.count))
        for item in self.interacted { w.write(item.name) }
        w.writeVarint(UInt64(self.typeCounts.count))
        for (type, count) in self.typeCounts {
            w.write(type)
            w.write(count)
        }
    }

    /// Reads what ``encode(into:)`` wrote.
    public init(decoding r: inout BinaryReader) throws(BinaryFormatError) {
        self.init(user: try r.readString())
        self.version = try r.readUInt64()
        self.eventCount = try r.readUInt64()
        self.firstSeen = try r.readTime()
        self.lastSeen = try r.readTime()
        for _ in 0..<(try r.readCount(elementSize: 10)) {
            let item = try r.readString()
            let type = EventType(try r.readString())
            self.recent.append(Interaction(item: item, type: type, timestamp: try r.readTime()))
        }
        for _ in 0..<(try r.readCount()) { self.interacted.insert(ItemKey(try r.readString())) }
        for _ in 0..<(try r.readCount(elementSize: 9)) {
            let type = try r.readString()
            self.typeCounts[type] = try r.readUInt64()
        }
    }

    /// How many of the profile's events are of the given types: it grows exactly when such an event is applied,
    /// so cached lists remember it and are valid only while it has not moved (see `--bust-on`).
    public func count(of types: Set<String>) -> UInt64 {
        // Wrapping: the count is compared for equality only, and a published profile may hold any counts.
        types.reduce(0) { $0 &+ (self.typeCounts[$1] ?? 0) }
    }
}
