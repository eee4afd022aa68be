import MedLedgerLedger
import MedLedgerWire
import Testing

@Suite("StateTree map behaviour")
struct StateTreeTests {
    @Test func emptyTreeHasZeroRootAndProvesAbsence() {
        let tree = StateTree()
        #expect(tree.rootHash == .zero)
        #expect(tree.rootHash == StateTree.emptyRootHash)
        #expect(tree.isEmpty && tree.count == 0)
        #expect(tree[Array("anything".utf8)] == nil)
        let proof = tree.proof(for: Array("anything".utf8))
        #expect(proof == StateProof(terminal: .empty, siblings: []))
        #expect(proof.verify(root: .zero, key: Array("anything".utf8), value: nil))
        #expect(!proof.verify(root: .zero, key: Array("anything".utf8), value: []))
        #expect(Array(tree).isEmpty)
    }

    @Test func singleLeafIsTheRoot() {
        var tree = StateTree()
        let key = Array("patient/1".utf8)
        let value = Array("registered".utf8)
        tree.set(key, value)
        let expected = ReferenceStateRoot.sha(
            [0x00] + ReferenceStateRoot.sha(key) + ReferenceStateRoot.sha(value))
        #expect(tree.rootHash.bytes == expected)
        #expect(tree.count == 1)
        #expect(tree[key] == value)

        let presence = tree.proof(for: key)
        #expect(presence.depth == 0)
        #expect(presence.verify(root: tree.rootHash, key: key, value: value))
        // Another key is absent: the only leaf occupies its path at depth 0.
        let other = Array("patient/2".utf8)
        let absence = tree.proof(for: other)
        #expect(absence.depth == 0)
        #expect(absence.verify(root: tree.rootHash, key: other, value: nil))
        #expect(!absence.verify(root: tree.rootHash, key: key, value: nil))
    }

    @Test func twoLeavesSharingALongPrefix() {
        let (a, b) = PrefixSharingKeys.pair(sharing: 20)
        let shared = PrefixSharingKeys.sharedBits(a, b)
        #expect(shared >= 20)
        var tree = StateTree()
        tree.set(a, [1])
        tree.set(b, [2])
        #expect(tree.rootHash.bytes == ReferenceStateRoot.root([a: [1], b: [2]]))
        for (key, value) in [(a, [UInt8(1)]), (b, [2])] {
            let proof = tree.proof(for: key)
            // One level per shared bit, plus the level where the paths part.
            #expect(proof.depth == shared + 1)
            #expect(proof.siblings.dropLast().allSatisfy { $0 == nil })
            #expect(proof.siblings.last! != nil)
            #expect(proof.verify(root: tree.rootHash, key: key, value: value))
        }
        // Deleting one lifts the other back up to the root.
        tree.set(a, nil)
        #expect(tree.proof(for: b).depth == 0)
        #expect(tree.rootHash.bytes == ReferenceStateRoot.root([b: [2]]))
    }

    @Test func deletingEverythingGivesTheZeroRoot() {
        var random = StateTreeRandom(seed: 7)
        let map = random.map(count: 500)
        var tree = StateTree()
        for (key, value) in map { tree.set(key, value) }
        #expect(tree.rootHash != .zero)
        for (index, key) in map.keys.shuffled(using: &random).enumerated() {
            tree.set(key, nil)
            if index % 50 == 0 { #expect(tree.checkInvariants()) }
        }
        #expect(tree.isEmpty)
        #expect(tree.rootHash == .zero)
        #expect(tree.proof(for: [1, 2, 3]) == StateProof(terminal: .empty, siblings: []))
    }

    @Test func getSetAndDeleteBehaveLikeADictionary() {
        var random = StateTreeRandom(seed: 11)
        var tree = StateTree()
        var model: [[UInt8]: [UInt8]] = [:]
        let keys = (0..<300).map { _ in random.bytes(Int.random(in: 0...6, using: &random)) }
        for _ in 0..<5000 {
            let key = keys.randomElement(using: &random)!
            let value: [UInt8]? =
                Bool.random(using: &random) ? random.bytes(Int.random(in: 0...3, using: &random)) : nil
            tree.set(key, value)
            model[key] = value
            #expect(tree[key] == value)
        }
        #expect(tree.checkInvariants())
        #expect(tree.count == model.count)
        for key in keys { #expect(tree[key] == model[key]) }
        #expect(tree.rootHash.bytes == ReferenceStateRoot.root(model))
    }

    /// Enough keys for the sorted index to split into many runs, then deletions that merge
    /// them again, with snapshots taken along the way.
    @Test func manyKeysUnderChurnStayConsistent() {
        var random = StateTreeRandom(seed: 13)
        let map = random.map(count: 20000)
        var tree = StateTree()
        var model: [[UInt8]: [UInt8]] = [:]
        var snapshots: [(StateTree, [[UInt8]: [UInt8]])] = []
        for (index, (key, value)) in map.enumerated() {
            tree.set(key, value)
            model[key] = value
            if index % 5000 == 0 { snapshots.append((tree, model)) }
        }
        #expect(tree.checkInvariants())
        for (index, key) in map.keys.shuffled(using: &random).prefix(19000).enumerated() {
            tree.set(key, nil)
            model[key] = nil
            if index % 4000 == 0 {
                #expect(tree.checkInvariants())
                snapshots.append((tree, model))
            }
        }
        #expect(tree.checkInvariants())
        #expect(tree.count == 1000)
        #expect(tree.map(\.key) == model.keys.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(tree.rootHash.bytes == ReferenceStateRoot.root(model))
        for (snapshot, expected) in snapshots {
            #expect(snapshot.checkInvariants())
            #expect(snapshot.count == expected.count)
            #expect(snapshot.rootHash.bytes == ReferenceStateRoot.root(expected))
            #expect(snapshot.map(\.key) == expected.keys.sorted { $0.lexicographicallyPrecedes($1) })
        }
    }

    @Test func subscriptAssignmentSetsAndDeletes() {
        var tree = StateTree()
        tree[[1]] = [10]
        tree[[2]] = []
        #expect(tree[[2]] == [])
        #expect(tree.count == 2)
        tree[[1]] = nil
        #expect(tree[[1]] == nil)
        #expect(tree.count == 1)
        // An empty value is a value, not an absence.
        #expect(tree.rootHash != .zero)
        #expect(tree.proof(for: [2]).verify(root: tree.rootHash, key: [2], value: []))
        #expect(!tree.proof(for: [2]).verify(root: tree.rootHash, key: [2], value: nil))
    }

    @Test func rewritingTheSameValueChangesNothing() {
        var tree = StateTree([(key: [1], value: [1]), (key: [2], value: [2])])
        let root = tree.rootHash
        #expect(!tree.hasPendingWrites)
        tree.set([1], [1])
        tree.set([3], nil)
        #expect(!tree.hasPendingWrites)
        #expect(tree.rootHash == root)
    }

    @Test func iterationIsInKeyByteOrder() {
        var random = StateTreeRandom(seed: 3)
        let map = random.map(count: 3000)
        var tree = StateTree()
        for (key, value) in map { tree.set(key, value) }
        let sortedKeys = map.keys.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(tree.map(\.key) == sortedKeys)
        #expect(tree.allSatisfy { map[$0.key] == $0.value })

        // A proper prefix sorts first, and 0xFF after 0x7F (bytes are unsigned).
        let small = StateTree([
            (key: [0x61, 0x62], value: []), (key: [0x61], value: []), (key: [0xFF], value: []),
            (key: [0x7F], value: []),
        ])
        #expect(small.map(\.key) == [[0x61], [0x61, 0x62], [0x7F], [0xFF]])
    }

    @Test func rangeAndPrefixIteration() {
        var tree = StateTree()
        for patient in 0..<50 {
            for consent in 0..<20 {
                tree.set(Array("consent/\(1000 + patient)/\(100 + consent)".utf8), [UInt8(consent)])
            }
        }
        let prefix = Array("consent/1017/".utf8)
        let matches = Array(tree.entries(withPrefix: prefix))
        #expect(matches.count == 20)
        #expect(matches.allSatisfy { $0.key.starts(with: prefix) })
        #expect(matches.map(\.value) == (0..<20).map { [UInt8($0)] })
        #expect(Array(tree.entries(withPrefix: Array("nothing/".utf8))).isEmpty)

        let from = Array(tree.entries(from: Array("consent/1049/110".utf8)))
        #expect(from.count == 10)
        #expect(from.first?.key == Array("consent/1049/110".utf8))
        #expect(Array(tree.entries(from: Array("consent/1049/1101".utf8))).count == 9)
        #expect(Array(tree.entries(from: [])).count == 1000)
        #expect(Array(tree.entries(from: [0xFF])).isEmpty)
    }

    @Test func snapshotsAreIndependentOfLaterWrites() {
        var random = StateTreeRandom(seed: 5)
        let map = random.map(count: 2000)
        var committed = StateTree()
        for (key, value) in map { committed.set(key, value) }
        let committedRoot = committed.rootHash

        // Speculate on a copy, then on a copy of the copy, before and after hashing.
        var speculative = committed
        let iterator = committed.makeIterator()
        var changed = map
        for key in map.keys.shuffled(using: &random).prefix(300) {
            let value: [UInt8]? = Bool.random(using: &random) ? nil : random.bytes(8)
            speculative.set(key, value)
            changed[key] = value
        }
        for _ in 0..<300 {
            let key = random.bytes(12)
            speculative.set(key, [9])
            changed[key] = [9]
        }
        let unhashedSnapshot = speculative
        let speculativeRoot = speculative.rootHash
        #expect(speculativeRoot.bytes == ReferenceStateRoot.root(changed))
        speculative.set(Array("later".utf8), [1])
        #expect(unhashedSnapshot.rootHash == speculativeRoot)
        #expect(speculative.rootHash != speculativeRoot)

        #expect(speculative.checkInvariants() && committed.checkInvariants())
        // The committed tree, its iterator and its proofs saw none of it.
        #expect(committed.rootHash == committedRoot)
        #expect(committed.count == map.count)
        #expect(Array(IteratorSequence(iterator)).count == map.count)
        for key in map.keys.prefix(200) {
            #expect(committed[key] == map[key])
            #expect(committed.proof(for: key).verify(root: committedRoot, key: key, value: map[key]))
        }
        #expect(committed.rootHash.bytes == ReferenceStateRoot.root(map))
    }

    @Test func snapshotsAcrossThreadsHashIndependently() async {
        var random = StateTreeRandom(seed: 9)
        let map = random.map(count: 5000)
        let extra = map.merging(random.map(count: 1000)) { _, new in new }
        var base = StateTree()
        for (key, value) in map { base.set(key, value) }
        // Leave the shared nodes unhashed, then hash the tree from several threads at once, take
        // proofs from it, and write to a copy of it, all at the same time.
        let shared = base
        let proofKeys = Array(map.keys.prefix(50))
        let results = await withTaskGroup(of: (String, Bytes32).self) { group in
            for _ in 0..<3 {
                group.addTask { ("shared", shared.rootHash) }
            }
            group.addTask {
                for key in proofKeys { _ = shared.proof(for: key) }
                return ("shared", shared.rootHash)
            }
            group.addTask {
                var copy = shared
                for (key, value) in extra { copy.set(key, value) }
                return ("copy", copy.rootHash)
            }
            return await group.reduce(into: [(String, Bytes32)]()) { $0.append($1) }
        }
        let sharedRoots = Set(results.filter { $0.0 == "shared" }.map(\.1))
        #expect(sharedRoots == [Bytes32(ReferenceStateRoot.root(map))!])
        #expect(results.filter { $0.0 == "copy" }.map(\.1) == [Bytes32(ReferenceStateRoot.root(extra))!])
        #expect(base.rootHash == sharedRoots.first)
        for key in proofKeys { #expect(base.proof(for: key).verify(root: base.rootHash, key: key, value: map[key])) }
    }
}
