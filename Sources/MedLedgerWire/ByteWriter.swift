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
        withUnsafeBytes(of: value.bigEndian) { appendRaw($0) }
    }

    public mutating func write(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { appendRaw($0) }
    }

    public mutating func write(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { appendRaw($0) }
    }

    public mutating func write(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    /// Appends raw memory through the contiguous fast path of `Array.append(contentsOf:)`.
    @inline(__always)
    mutating func appendRaw(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw.bindMemory(to: UInt8.self))
    }

    /// Raw bytes from memory (a `bytes[N]` field held inline).
    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) { appendRaw(raw) }

    /// Raw bytes with no length prefix (a `bytes[N]` field).
    public mutating func writeRaw<C: Collection>(_ raw: C) where C.Element == UInt8 {
        bytes.append(contentsOf: raw)
    }

    /// A `bytes<=M` field: `u32` length, then the bytes.
    public mutating func writeLengthPrefixed<C: Collection>(_ raw: C) where C.Element == UInt8 {
        write(UInt32(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// A `bytes<=M` field written in place by `body`: the length is filled in afterwards.
    public mutating func writeLengthPrefixed(_ body: (inout ByteWriter) -> Void) {
        let start = count
        write(UInt32(0))
        body(&self)
        let length = UInt32(count - start - 4)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: length.bigEndian, toByteOffset: start, as: UInt32.self) }
    }

    /// A `string<=M` field: `u32` length, then the UTF-8 bytes.
    public mutating func write(_ string: String) {
        let utf8 = string.utf8
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A value that knows its own canonical encoding.
    public mutating func write<T: WireEncodable>(_ value: T) {
        value.encode(to: &self)
    }

    /// An `optional T`: tag `0` alone, or tag `1` then the value.
    @inlinable
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
