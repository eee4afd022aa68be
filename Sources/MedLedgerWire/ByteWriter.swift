/// Appends canonical encodings (Protocol/WIRE.md section 1) to a growing byte array.
///
/// Writing never fails: limits are the decoder's business, and a value built by our own code is
/// checked by the type that holds it (see ``WireLimits``).
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func write(_ value: UInt8) {
        bytes.append(value)
    }

    public mutating func write(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    public mutating func write(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    public mutating func write(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    public mutating func write(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    /// Raw bytes with no length prefix (a `bytes[N]` field).
    public mutating func writeRaw<C: Collection>(_ raw: C) where C.Element == UInt8 {
        bytes.append(contentsOf: raw)
    }

    /// A `bytes<=M` field: `u32` length, then the bytes.
    public mutating func writeLengthPrefixed<C: Collection>(_ raw: C) where C.Element == UInt8 {
        write(UInt32(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// A `string<=M` field: `u32` length, then the UTF-8 bytes.
    public mutating func write(_ string: String) {
        writeLengthPrefixed(Array(string.utf8))
    }

    /// A value that knows its own canonical encoding.
    public mutating func write<T: WireEncodable>(_ value: T) {
        value.encode(to: &self)
    }

    /// An `optional T`: tag `0` alone, or tag `1` then the value.
    public mutating func writeOptional<T>(_ value: T?, _ body: (inout ByteWriter, T) -> Void) {
        if let value {
            write(UInt8(1))
            body(&self, value)
        } else {
            write(UInt8(0))
        }
    }

    /// A `list<=M of T`: `u32` count, then each element.
    public mutating func writeList<T: WireEncodable>(_ values: [T]) {
        write(UInt32(values.count))
        for value in values { value.encode(to: &self) }
    }
}
