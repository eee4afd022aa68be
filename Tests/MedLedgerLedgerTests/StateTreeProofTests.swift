import MedLedgerLedger
import MedLedgerWire
import Testing

@Suite("StateProof verification and encoding")
struct StateTreeProofTests {
    /// A tree of random entries with its root, hashed.
    static func randomTree(seed: UInt64, count: Int) -> (tree: StateTree, map: [[UInt8]: [UInt8]], root: Bytes32) {
        var random = StateTreeRandom(seed: seed)
        let map = random.map(count: count)
        var tree = StateTree()
        for (key, value) in map { tree.set(key, value) }
        let root = tree.rootHash
        return (tree, map, root)
    }

    @Test(arguments: [1, 2, 3, 10, 1000, 20000])
    func presenceAndAbsenceProofsVerify(size: Int) throws {
        let (tree, map, root) = Self.randomTree(seed: UInt64(size), count: size)
        var random = StateTreeRandom(seed: 99)
        var leafAbsences = 0
        var emptyAbsences = 0
        for key in map.keys.prefix(300) {
            let proof = tree.proof(for: key)
            #expect(proof.verify(root: root, key: key, value: map[key]))
            #expect(!proof.verify(root: root, key: key, value: nil))
            #expect(try StateProof(canonicalBytes: proof.canonicalBytes) == proof)
        }
        for _ in 0..<300 {
            let key = random.bytes(Int.random(in: 41...50, using: &random))  // longer than any stored key
            let proof = tree.proof(for: key)
            #expect(proof.verify(root: root, key: key, value: nil))
            #expect(!proof.verify(root: root, key: key, value: []))
            #expect(try StateProof(canonicalBytes: proof.canonicalBytes) == proof)
            if case .empty = proof.terminal { emptyAbsences += 1 } else { leafAbsences += 1 }
        }
        // Both kinds of absence occur once the tree has a few levels.
        if size >= 10 {
            #expect(emptyAbsences > 0)
            #expect(leafAbsences > 0)
        }
    }

    @Test func proofsTakenBeforeHashingAreTheSame() {
        var random = StateTreeRandom(seed: 4)
        let map = random.map(count: 3000)
        var tree = StateTree()
        for (key, value) in map { tree.set(key, value) }
        let keys = Array(map.keys.prefix(20)) + [[0xAB, 0xCD]]
        #expect(tree.hasPendingWrites)
        let early = keys.map { tree.proof(for: $0) }
        let root = tree.rootHash
        #expect(!tree.hasPendingWrites)
        #expect(early == keys.map { tree.proof(for: $0) })
        for (key, proof) in zip(keys, early) { #expect(proof.verify(root: root, key: key, value: map[key])) }
    }

    @Test func tamperedProofsFail() {
        let (tree, map, root) = Self.randomTree(seed: 21, count: 5000)
        var random = StateTreeRandom(seed: 22)
        let presentKey = map.keys.first!
        let absentKeys = (0..<40).map { _ in random.bytes(45) }
        let absentWithLeaf = absentKeys.first { if case .leaf = tree.proof(for: $0).terminal { true } else { false } }!
        let absentWithEmpty = absentKeys.first { tree.proof(for: $0).terminal == .empty }!

        for (key, value) in [(presentKey, map[presentKey]), (absentWithLeaf, nil), (absentWithEmpty, nil)] {
            let proof = tree.proof(for: key)
            #expect(proof.verify(root: root, key: key, value: value))

            // Each sibling changed, emptied, or an empty one filled.
            for level in proof.siblings.indices {
                var changed = proof
                if let sibling = proof.siblings[level] {
                    var bytes = sibling.bytes
                    bytes[level % 32] ^= 0x01
                    changed.siblings[level] = Bytes32(bytes)!
                    #expect(!changed.verify(root: root, key: key, value: value), "sibling \(level) changed")
                    changed.siblings[level] = nil
                } else {
                    changed.siblings[level] = Bytes32(repeating: 0x5A)
                }
                #expect(!changed.verify(root: root, key: key, value: value), "sibling \(level) presence flipped")
            }
            // A level removed or added.
            var shorter = proof
            shorter.siblings.removeLast()
            #expect(!shorter.verify(root: root, key: key, value: value))
            var longer = proof
            longer.siblings.append(Bytes32(repeating: 0x11))
            #expect(!longer.verify(root: root, key: key, value: value))

            // The terminal changed.
            switch proof.terminal {
            case .leaf(let keyHash, let valueHash):
                var flipped = keyHash.bytes
                flipped[31] ^= 0x80
                for terminal in [
                    StateProof.Terminal.empty,
                    .leaf(keyHash: Bytes32(flipped)!, valueHash: valueHash),
                    .leaf(keyHash: keyHash, valueHash: Bytes32(repeating: 0x22)),
                ] {
                    var changed = proof
                    changed.terminal = terminal
                    #expect(!changed.verify(root: root, key: key, value: value))
                }
            case .empty:
                var changed = proof
                changed.terminal = .leaf(keyHash: Bytes32(repeating: 1), valueHash: Bytes32(repeating: 2))
                #expect(!changed.verify(root: root, key: key, value: value))
            }

            // Wrong value, wrong key, wrong root.
            #expect(!proof.verify(root: root, key: key, value: (value ?? []) + [0]))
            if value != nil { #expect(!proof.verify(root: root, key: key, value: nil)) }
            #expect(!proof.verify(root: root, key: key + [0], value: value))
            var otherRoot = root.bytes
            otherRoot[0] ^= 0x01
            #expect(!proof.verify(root: Bytes32(otherRoot)!, key: key, value: value))
            #expect(!proof.verify(root: .zero, key: key, value: value))
        }
    }

    /// Every single-bit change of an encoded proof either fails to decode or fails to verify:
    /// the bitmap, the depth, the terminal tag, the leaf and every sibling are all covered.
    @Test func everyBitFlipOfAnEncodedProofIsCaught() {
        let (tree, map, root) = Self.randomTree(seed: 31, count: 300)
        var random = StateTreeRandom(seed: 32)
        let present = Array(map.keys.prefix(3))
        let absent = (0..<3).map { _ in random.bytes(45) }
        for key in present + absent {
            let encoded = tree.proof(for: key).canonicalBytes
            for bit in 0..<(encoded.count * 8) {
                var bytes = encoded
                bytes[bit / 8] ^= 0x80 >> UInt8(bit % 8)
                guard let decoded = try? StateProof(canonicalBytes: bytes) else { continue }
                #expect(!decoded.verify(root: root, key: key, value: map[key]), "bit \(bit) of \(Hex.encode(encoded))")
            }
        }
    }

    @Test func encodingLayoutIsAsSpecified() throws {
        let empty = StateProof(terminal: .empty, siblings: [])
        #expect(empty.canonicalBytes == [0x00, 0x00, 0x00])
        let leaf = StateProof(
            terminal: .leaf(keyHash: Bytes32(repeating: 0xAA), valueHash: Bytes32(repeating: 0xBB)),
            siblings: [nil, Bytes32(repeating: 0x01), nil, nil, nil, nil, nil, nil, Bytes32(repeating: 0x02)])
        let expected: [UInt8] =
            [0x01] + [UInt8](repeating: 0xAA, count: 32) + [UInt8](repeating: 0xBB, count: 32)
            + [0x00, 0x09, 0b0100_0000, 0b1000_0000]
            + [UInt8](repeating: 0x01, count: 32) + [UInt8](repeating: 0x02, count: 32)
        #expect(leaf.canonicalBytes == expected)
        #expect(try StateProof(canonicalBytes: expected) == leaf)
    }

    // MARK: Decoding rejections

    static func rejection(_ bytes: [UInt8]) -> WireError? {
        do {
            _ = try StateProof(canonicalBytes: bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func truncatedProofsAreRejected() {
        let (tree, map, _) = Self.randomTree(seed: 41, count: 1000)
        for key in [map.keys.first!, [0x01, 0x02]] {
            let encoded = tree.proof(for: key).canonicalBytes
            for length in 0..<encoded.count {
                #expect(Self.rejection(Array(encoded.prefix(length)))?.code == .truncated, "prefix of \(length)")
            }
        }
    }

    @Test func trailingBytesAreRejected() {
        let (tree, map, _) = Self.randomTree(seed: 42, count: 1000)
        let encoded = tree.proof(for: map.keys.first!).canonicalBytes
        let error = Self.rejection(encoded + [0x00])
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == encoded.count)
        // A sibling more than the bitmap announces is trailing bytes too.
        #expect(Self.rejection(encoded + [UInt8](repeating: 0x33, count: 32))?.code == .trailingBytes)
    }

    @Test func tooManySiblingsAreRejectedBeforeReadingThem() throws {
        // depth 257: more levels than a 256-bit path has.
        var bytes: [UInt8] = [0x00, 0x01, 0x01] + [UInt8](repeating: 0xFF, count: 33)
        bytes += [UInt8](repeating: 0x44, count: 32 * 257)
        let error = Self.rejection(bytes)
        #expect(error?.code == .countExceedsLimit)
        #expect(error?.offset == 1)
        #expect(Self.rejection([0x00, 0xFF, 0xFF])?.code == .countExceedsLimit)

        // depth 256 with every sibling present is the largest proof, and is fine.
        let largest = StateProof(terminal: .empty, siblings: (0..<256).map { _ in Bytes32(repeating: 0x44) })
        #expect(largest.canonicalBytes.count == 3 + 32 + 256 * 32)
        #expect(try StateProof(canonicalBytes: largest.canonicalBytes) == largest)
    }

    @Test func nonCanonicalShapesAreRejected() {
        // Unknown terminal tag.
        var error = Self.rejection([0x02, 0x00, 0x00])
        #expect(error?.code == .unknownEnum)
        #expect(error?.offset == 0)

        // Bits beyond the depth in the last bitmap byte (depth 3, bits 0 and 7 set).
        error = Self.rejection([0x00, 0x00, 0x03, 0b0010_0001] + [UInt8](repeating: 9, count: 64))
        #expect(error?.code == .nonCanonical)
        #expect(error?.offset == 3)

        // The deepest sibling empty.
        error = Self.rejection([0x00, 0x00, 0x02, 0b1000_0000] + [UInt8](repeating: 9, count: 32))
        #expect(error?.code == .nonCanonical)
        #expect(error?.offset == 3)

        // A sibling written out as 32 zero bytes instead of a clear bit.
        error = Self.rejection(
            [0x00, 0x00, 0x02, 0b1100_0000] + [UInt8](repeating: 0, count: 32) + [UInt8](repeating: 9, count: 32))
        #expect(error?.code == .nonCanonical)
        #expect(error?.offset == 4)

        // In memory, verify holds such shapes to the same rules.
        let zeroSibling = StateProof(terminal: .empty, siblings: [.zero, Bytes32(repeating: 9)])
        #expect(!zeroSibling.verify(root: .zero, key: [1], value: nil))
        let emptyLast = StateProof(terminal: .empty, siblings: [Bytes32(repeating: 9), nil])
        #expect(!emptyLast.verify(root: .zero, key: [1], value: nil))
    }
}
