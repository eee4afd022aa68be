import MedLedgerLedger
import MedLedgerWire
import Testing

@Suite("StateTree root determinism")
struct StateTreeDeterminismTests {
    /// The root depends on the set of pairs only: not on the order of writes, nor on keys
    /// written and deleted again, nor on values overwritten along the way.
    @Test(arguments: 0..<12)
    func rootIgnoresWriteOrderAndHistory(seed: UInt64) {
        var random = StateTreeRandom(seed: 1000 + seed)
        let map = random.map(count: Int.random(in: 0...800, using: &random))

        var direct = StateTree()
        for (key, value) in map.shuffled(using: &random) { direct.set(key, value) }

        var winding = StateTree()
        let junk = random.map(count: 300).filter { map[$0.key] == nil }
        var writes: [([UInt8], [UInt8]?)] = []
        writes += junk.map { ($0.key, $0.value) }
        writes += map.map { ($0.key, random.bytes(5)) }  // wrong values first
        writes.shuffle(using: &random)
        for (index, write) in writes.enumerated() {
            winding.set(write.0, write.1)
            // Hash part-way sometimes, so that dirty and clean nodes mix.
            if index % 97 == 0 { _ = winding.rootHash }
        }
        var finishing: [([UInt8], [UInt8]?)] = junk.map { ($0.key, nil) } + map.map { ($0.key, $0.value) }
        finishing.shuffle(using: &random)
        for write in finishing { winding.set(write.0, write.1) }

        #expect(direct.count == map.count)
        #expect(winding.count == map.count)
        #expect(direct.checkInvariants() && winding.checkInvariants())
        #expect(direct.rootHash == winding.rootHash)
        #expect(direct.rootHash.bytes == ReferenceStateRoot.root(map))
    }

    /// Agreement with the separately written reference over maps of many sizes, including the
    /// sizes around the parallel hashing threshold.
    @Test(arguments: [0, 1, 2, 3, 4, 5, 8, 16, 100, 1000, 2047, 2048, 5000])
    func rootMatchesTheReferenceImplementation(size: Int) {
        var random = StateTreeRandom(seed: UInt64(size) &* 31 &+ 5)
        let map = random.map(count: size)
        var tree = StateTree()
        for (key, value) in map { tree.set(key, value) }
        #expect(tree.rootHash.bytes == ReferenceStateRoot.root(map))
    }

    @Test func bulkInitialiserMatchesSetByHand() {
        var random = StateTreeRandom(seed: 77)
        let map = random.map(count: 400)
        let a = StateTree(map.map { (key: $0.key, value: $0.value) })
        var b = StateTree()
        for (key, value) in map.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) { b.set(key, value) }
        #expect(a.rootHash == b.rootHash)
    }
}
