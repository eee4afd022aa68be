/// Reads canonical encodings (Protocol/WIRE.md section 1) strictly, reporting the offset of the
/// first byte of whatever field breaks a rule.
///
/// Every length and count is checked against its limit before anything is allocated, and a read
/// that fails leaves the position where the failing field starts.
public struct ByteReader: Sendable {
    @usableFromInline let bytes: [UInt8]
    /// Offset of the next byte to read, counted from the start of the buffer.
    public private(set) var position: Int
    /// The layer offsets are reported in.
    public let layer: WireError.Layer

    public init(_ bytes: [UInt8], layer: WireError.Layer = .message) {
        self.bytes = bytes
        self.position = 0
        self.layer = layer
    }

    /// Bytes left to read.
    public var remaining: Int { bytes.count - position }

    public var isAtEnd: Bool { position == bytes.count }

    /// An error of this reader's layer at `offset`.
    public func error(_ code: WireError.Code, at offset: Int, _ detail: String) -> WireError {
        WireError(code, layer: layer, offset: offset, detail)
    }

    @inline(__always)
    mutating func take(_ count: Int, what: String) throws(WireError) -> ArraySlice<UInt8> {
        guard count <= remaining else {
            throw error(.truncated, at: position, "\(what) needs \(count) bytes, \(remaining) left")
        }
        let slice = bytes[position..<position + count]
        position += count
        return slice
    }

    public mutating func readU8(_ what: String = "u8") throws(WireError) -> UInt8 {
        try take(1, what: what).first!
    }

    /// A big-endian integer of `T`'s width, loaded in one go; `what` is only used to build an error.
    @inline(__always)
    mutating func load<T: FixedWidthInteger>(_: T.Type, what: @autoclosure () -> String) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else {
            throw error(.truncated, at: position, "\(what()) needs \(size) bytes, \(remaining) left")
        }
        let value = bytes.withUnsafeBytes { T(bigEndian: $0.loadUnaligned(fromByteOffset: position, as: T.self)) }
        position += size
        return value
    }

    public mutating func readU16(_ what: String = "u16") throws(WireError) -> UInt16 { try load(UInt16.self, what: what) }

    public mutating func readU32(_ what: String = "u32") throws(WireError) -> UInt32 { try load(UInt32.self, what: what) }

    public mutating func readU64(_ what: String = "u64") throws(WireError) -> UInt64 { try load(UInt64.self, what: what) }

    /// A `bytes[32]` field, without allocating.
    public mutating func readBytes32(_ what: String = "bytes") throws(WireError) -> Bytes32 {
        guard 32 <= remaining else { throw error(.truncated, at: position, "\(what) needs 32 bytes, \(remaining) left") }
        let value = bytes.withUnsafeBytes { Bytes32(loading: $0, at: position) }
        position += 32
        return value
    }

    /// A `bytes[64]` field, without allocating.
    public mutating func readBytes64(_ what: String = "bytes") throws(WireError) -> Bytes64 {
        guard 64 <= remaining else { throw error(.truncated, at: position, "\(what) needs 64 bytes, \(remaining) left") }
        let value = bytes.withUnsafeBytes { Bytes64(low: Bytes32(loading: $0, at: position), high: Bytes32(loading: $0, at: position + 32)) }
        position += 64
        return value
    }

    public mutating func readBool(_ what: String = "bool") throws(WireError) -> Bool {
        let start = position
        switch try readU8(what) {
        case 0: return false
        case 1: return true
        case let other: throw error(.invalidBool, at: start, "\(what) is \(other); a bool is 0 or 1")
        }
    }

    /// Exactly `count` raw bytes (a `bytes[N]` field).
    public mutating func readFixed(_ count: Int, _ what: String = "bytes") throws(WireError) -> [UInt8] {
        Array(try take(count, what: what))
    }

    /// A `bytes<=max` field.
    public mutating func readLengthPrefixed(max: Int, _ what: String = "bytes") throws(WireError) -> [UInt8] {
        let start = position
        let length = try load(UInt32.self, what: "length of \(what)")
        guard length <= max else {
            throw error(.lengthExceedsLimit, at: start, "\(what) declares \(length) bytes; at most \(max) allowed")
        }
        guard Int(length) <= remaining else {
            position = start
            throw error(.truncated, at: start, "\(what) declares \(length) bytes, \(remaining - 4) left")
        }
        return Array(try take(Int(length), what: what))
    }

    /// A `bytes<=max` field as a slice of the buffer (no copy).
    mutating func readLengthPrefixedSlice(max: Int, _ what: String) throws(WireError) -> ArraySlice<UInt8> {
        let start = position
        let length = try load(UInt32.self, what: "length of \(what)")
        guard length <= max else {
            position = start
            throw error(.lengthExceedsLimit, at: start, "\(what) declares \(length) bytes; at most \(max) allowed")
        }
        guard Int(length) <= remaining else {
            position = start
            throw error(.truncated, at: start, "\(what) declares \(length) bytes, \(remaining) left")
        }
        let slice = bytes[position..<position + Int(length)]
        position += Int(length)
        return slice
    }

    /// A `string<=max` field, which must be valid UTF-8.
    public mutating func readString(max: Int, _ what: String = "string") throws(WireError) -> String {
        let start = position
        let raw = try readLengthPrefixedSlice(max: max, what)
        // ASCII (the common case) needs no decoding; anything else goes through the validating init.
        if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        guard let string = String(validating: raw, as: UTF8.self) else {
            position = start
            throw error(.invalidUTF8, at: start, "\(what) is not valid UTF-8")
        }
        return string
    }

    /// A chain id: `string<=64` of `a-z 0-9 - . _`, not empty.
    public mutating func readChainID(_ what: String = "chain_id") throws(WireError) -> String {
        let start = position
        let raw = try readLengthPrefixed(max: WireLimits.chainIDMaxLength, what)
        guard ChainID.isValid(raw) else {
            throw error(.invalidChainID, at: start, "\(what) must be 1 to 64 characters of a-z 0-9 - . _")
        }
        return String(decoding: raw, as: UTF8.self)
    }

    /// An `optional T`.
    public mutating func readOptional<T>(
        _ what: String, _ body: (inout ByteReader) throws(WireError) -> T
    ) throws(WireError) -> T? {
        let start = position
        switch try load(UInt8.self, what: "optional tag of \(what)") {
        case 0: return nil
        case 1: return try body(&self)
        case let tag: throw error(.invalidOptionalTag, at: start, "optional tag of \(what) is \(tag); 0 or 1 allowed")
        }
    }

    /// A `list<=max of T`. `ordered` is asked of each element with its predecessor and must say
    /// whether the pair is in canonical order.
    public mutating func readList<T: WireDecodable>(
        max: Int, _ what: String, ordered: ((T, T) -> Bool)? = nil
    ) throws(WireError) -> [T] {
        let start = position
        let count = try load(UInt32.self, what: "count of \(what)")
        guard count <= max else {
            throw error(.countExceedsLimit, at: start, "\(what) declares \(count) elements; at most \(max) allowed")
        }
        var values: [T] = []
        // Reserve no more than the remaining bytes could possibly hold: the count is attacker-chosen.
        values.reserveCapacity(Swift.min(Int(count), remaining))
        for _ in 0..<count {
            let elementStart = position
            let value = try T(from: &self)
            if let ordered, let previous = values.last, !ordered(previous, value) {
                throw error(.nonCanonical, at: elementStart, "\(what) is not in canonical order")
            }
            values.append(value)
        }
        return values
    }

    /// Fails with `trailing_bytes` unless everything was read.
    public func expectEnd(_ what: String = "payload") throws(WireError) {
        guard isAtEnd else {
            throw error(.trailingBytes, at: position, "\(remaining) bytes left after the end of the \(what)")
        }
    }

    /// The bytes from `start` up to the current position (for signing inputs and ordering checks).
    public func bytes(from start: Int) -> ArraySlice<UInt8> {
        bytes[start..<position]
    }
}

/// Chain id rules (Protocol/WIRE.md section 1).
public enum ChainID {
    /// Whether `raw` is 1 to 64 bytes of `a-z 0-9 - . _`.
    public static func isValid<C: Collection>(_ raw: C) -> Bool where C.Element == UInt8 {
        guard !raw.isEmpty, raw.count <= WireLimits.chainIDMaxLength else { return false }
        return raw.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E
                || byte == 0x5F
        }
    }

    /// Whether `chainID` is a valid chain id.
    public static func isValid(_ chainID: String) -> Bool { isValid(Array(chainID.utf8)) }
}
