import StarlingCore

/// The on-disk framing of one log record.
///
/// ```
/// u32 body length | u32 CRC-32C | body
/// body = i64 offset | i64 append time (wall-clock ns) | payload
/// ```
/// All integers little-endian. The CRC covers the body after the offset, so that a record can be framed and
/// checksummed before the log assigns its offset (outside the log's lock). The offset itself is checked by
/// recovery, which requires each record to carry the offset its position implies, so a corrupt offset is caught as
/// surely as a corrupt payload.
enum RecordCodec {
    static let headerSize = 8
    static let bodyPrefixSize = 16
    /// The largest payload accepted, to bound recovery's memory on corrupt length fields.
    static let maxPayloadSize = 16 * 1_024 * 1_024

    static func encodedSize(payloadCount: Int) -> Int {
        headerSize + bodyPrefixSize + payloadCount
    }

    /// Appends a framed record to `buffer`, with offset 0; the log patches the offset with ``setOffset(_:at:in:)``.
    static func append(appendedAt: Int64, payload: [UInt8], to buffer: inout [UInt8]) {
        let offset: Int64 = 0
        let bodyLength = bodyPrefixSize + payload.count
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: headerSize + bodyLength))
        buffer.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress! + start
            base.storeBytes(of: UInt32(bodyLength).littleEndian, toByteOffset: 0, as: UInt32.self)
            base.storeBytes(of: offset.littleEndian, toByteOffset: 8, as: Int64.self)
            base.storeBytes(of: appendedAt.littleEndian, toByteOffset: 16, as: Int64.self)
            payload.withUnsafeBytes { p in
                if p.count > 0 { (base + 24).copyMemory(from: p.baseAddress!, byteCount: p.count) }
            }
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: base + 16, count: bodyLength - 8))
            base.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
    }

    /// Writes `offset` into the record framed at `position`.
    static func setOffset(_ offset: Int64, at position: Int, in buffer: UnsafeMutableRawBufferPointer) {
        buffer.storeBytes(of: offset.littleEndian, toByteOffset: position + 8, as: Int64.self)
    }

    /// One decoded frame header.
    struct Frame {
        var offset: Int64
        var appendedAt: Int64
        /// Byte range of the payload within the buffer.
        var payload: Range<Int>
        /// Size of the whole framed record.
        var size: Int
    }

    enum DecodeResult {
        case frame(Frame)
        /// Not enough bytes for a whole record.
        case incomplete
        /// The record fails its CRC or has an impossible length.
        case corrupt(String)
    }

    /// Decodes the record at `position` in `buffer`.
    static func decode(_ buffer: UnsafeRawBufferPointer, at position: Int, verify: Bool) -> DecodeResult {
        guard buffer.count - position >= headerSize else { return .incomplete }
        let bodyLength = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: position, as: UInt32.self)))
        guard bodyLength >= bodyPrefixSize, bodyLength <= bodyPrefixSize + maxPayloadSize else {
            return .corrupt("impossible record length \(bodyLength)")
        }
        guard buffer.count - position >= headerSize + bodyLength else { return .incomplete }
        let body = UnsafeRawBufferPointer(rebasing: buffer[(position + headerSize)..<(position + headerSize + bodyLength)])
        if verify {
            let stored = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: position + 4, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: body[8...])) == stored else { return .corrupt("checksum mismatch") }
        }
        let offset = Int64(littleEndian: body.loadUnaligned(fromByteOffset: 0, as: Int64.self))
        let appendedAt = Int64(littleEndian: body.loadUnaligned(fromByteOffset: 8, as: Int64.self))
        let payloadStart = position + headerSize + bodyPrefixSize
        return .frame(
            Frame(
                offset: offset,
                appendedAt: appendedAt,
                payload: payloadStart..<(position + headerSize + bodyLength),
                size: headerSize + bodyLength
            )
        )
    }
}
