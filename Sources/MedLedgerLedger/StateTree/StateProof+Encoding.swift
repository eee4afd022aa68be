import MedLedgerWire

// Protocol/STATE.md section 3.1:
//
//   u8        terminal          0 = empty, 1 = leaf
//   bytes[32] leaf_key_hash     only when terminal = 1
//   bytes[32] leaf_value_hash   only when terminal = 1
//   u16       depth             0 to 256
//   bytes[⌈depth/8⌉] bitmap     bit i (MSB first) set: sibling i is non-empty
//   bytes[32] × popcount        the non-empty siblings, from the root down

extension StateProof: WireCodable {
    /// The most bytes an encoded proof can take: a leaf and 256 non-empty siblings.
    public static let maximumEncodedCount = 1 + 64 + 2 + 32 + 32 * maximumDepth

    /// Appends the canonical encoding. The proof must have at most ``maximumDepth`` siblings.
    public func encode(to writer: inout ByteWriter) {
        precondition(siblings.count <= Self.maximumDepth, "a state proof has at most 256 levels")
        switch terminal {
        case .empty:
            writer.write(UInt8(0))
        case .leaf(let keyHash, let valueHash):
            writer.write(UInt8(1))
            writer.write(keyHash)
            writer.write(valueHash)
        }
        writer.write(UInt16(siblings.count))
        var bitmap = [UInt8](repeating: 0, count: (siblings.count + 7) / 8)
        for (level, sibling) in siblings.enumerated() where sibling != nil {
            bitmap[level / 8] |= 0x80 >> UInt8(level % 8)
        }
        writer.writeRaw(bitmap)
        for case let sibling? in siblings { writer.write(sibling) }
    }

    /// Reads one proof, enforcing every rule of Protocol/STATE.md section 3.1.
    public init(from reader: inout ByteReader) throws(WireError) {
        let tagOffset = reader.position
        switch try reader.readU8("terminal") {
        case 0:
            terminal = .empty
        case 1:
            let keyHash = try Bytes32(from: &reader)
            let valueHash = try Bytes32(from: &reader)
            terminal = .leaf(keyHash: keyHash, valueHash: valueHash)
        case let other:
            throw reader.error(.unknownEnum, at: tagOffset, "terminal is \(other); 0 (empty) or 1 (leaf) allowed")
        }

        let depthOffset = reader.position
        let depth = Int(try reader.readU16("depth"))
        guard depth <= Self.maximumDepth else {
            throw reader.error(
                .countExceedsLimit, at: depthOffset, "depth is \(depth); a state proof has at most 256 levels")
        }

        let bitmapOffset = reader.position
        let bitmap = try reader.readFixed((depth + 7) / 8, "sibling bitmap")
        if depth % 8 != 0, bitmap[bitmap.count - 1] & (0xFF >> UInt8(depth % 8)) != 0 {
            throw reader.error(.nonCanonical, at: bitmapOffset, "sibling bitmap has bits set beyond depth \(depth)")
        }
        func isSet(_ level: Int) -> Bool { bitmap[level / 8] & (0x80 >> UInt8(level % 8)) != 0 }
        if depth > 0, !isSet(depth - 1) {
            throw reader.error(
                .nonCanonical, at: bitmapOffset, "the deepest sibling (level \(depth - 1)) must be non-empty")
        }

        var siblings: [Bytes32?] = []
        siblings.reserveCapacity(depth)
        for level in 0..<depth {
            guard isSet(level) else {
                siblings.append(nil)
                continue
            }
            let siblingOffset = reader.position
            let sibling = try Bytes32(from: &reader)
            guard sibling != .zero else {
                throw reader.error(
                    .nonCanonical, at: siblingOffset, "sibling \(level) is all zeros; an empty sibling is a clear bit")
            }
            siblings.append(sibling)
        }
        self.siblings = siblings
    }
}
