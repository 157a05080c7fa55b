extension Event {
    private static let formatVersion: UInt8 = 1

    /// Encodes the event as a compact binary payload for the event log.
    public func encoded() -> [UInt8] {
        var writer = BinaryWriter(capacity: 64 + self.user.utf8.count + (self.item?.utf8.count ?? 0))
        self.encode(into: &writer)
        return writer.bytes
    }

    /// Appends the binary payload to `writer`.
    public func encode(into writer: inout BinaryWriter) {
        writer.write(Self.formatVersion)
        writer.write(self.type.name)
        writer.write(self.user)
        writer.write(optional: self.item)
        writer.write(optional: self.session)
        writer.write(optional: self.id)
        writer.write(self.timestamp.milliseconds)
        writer.write(self.receivedAt.milliseconds)
        if let value = self.value {
            writer.write(UInt8(1))
            writer.write(value)
        } else {
            writer.write(UInt8(0))
        }
        writer.writeVarint(UInt64(self.context.count))
        for (key, value) in self.context {
            writer.write(key)
            switch value {
            case .string(let s):
                writer.write(UInt8(0))
                writer.write(s)
            case .number(let d):
                writer.write(UInt8(1))
                writer.write(d)
            case .bool(let b):
                writer.write(UInt8(b ? 3 : 2))
            }
        }
    }

    /// Decodes a payload written by ``encoded()``.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(BinaryFormatError) {
        var reader = BinaryReader(bytes)
        guard try reader.readUInt8() == Self.formatVersion else { throw BinaryFormatError.malformed }
        let type = EventType(try reader.readString())
        let user = try reader.readString()
        let item = try reader.readOptionalString()
        let session = try reader.readOptionalString()
        let id = try reader.readOptionalString()
        let timestamp = try reader.readTime()
        let receivedAt = try reader.readTime()
        let value: Double?
        switch try reader.readUInt8() {
        case 0: value = nil
        case 1: value = try reader.readDouble()
        default: throw BinaryFormatError.malformed
        }
        // An entry takes at least a key length and a tag.
        let count = try reader.readCount(elementSize: 2)
        var context: [(key: String, value: ContextValue)] = []
        context.reserveCapacity(count)
        for _ in 0..<count {
            let key = try reader.readString()
            switch try reader.readUInt8() {
            case 0: context.append((key, .string(try reader.readString())))
            case 1: context.append((key, .number(try reader.readDouble())))
            case 2: context.append((key, .bool(false)))
            case 3: context.append((key, .bool(true)))
            default: throw BinaryFormatError.malformed
            }
        }
        guard reader.remaining == 0 else { throw BinaryFormatError.malformed }
        self.init(
            type: type,
            user: user,
            item: item,
            session: session,
            id: id,
            timestamp: timestamp,
            receivedAt: receivedAt,
            value: value,
            context: context
        )
    }

    /// Decodes a payload written by ``encoded()``.
    public init(decoding bytes: [UInt8]) throws(BinaryFormatError) {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(BinaryFormatError) in try Event(decoding: buffer) }
        }
        self = try result.get()
    }
}
