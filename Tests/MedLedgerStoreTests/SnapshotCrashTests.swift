import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire
import Testing

/// Snapshots on the fault-injecting file system: a crash while writing or pruning never costs
/// the newest snapshot whose write returned, and never leaves a damaged one to skip.
@Suite("state snapshot crash recovery")
struct SnapshotCrashTests {
    static let directory = "/data/snapshots"

    @Test("after a crash at any of 150 seeded points, the newest acknowledged snapshot (or a newer one) loads")
    func seeds() throws {
        let story = SnapshotTests.story
        var acknowledgedTotal = 0
        for seed in 0..<UInt64(150) {
            let fs = SimulatedFileSystem(seed: seed)
            var rng = SplitMix64(seed: seed ^ 0x5AA9)
            let options = SnapshotStore.Options(interval: 2, keep: 1 + Int(seed % 2))
            var store = try SnapshotStore(directory: Self.directory, options: options, fileSystem: fs)
            fs.scheduleCrash(afterOperations: Int(rng.next() % 40))
            var acknowledged: UInt64?
            for state in story.chain.states {
                do {
                    if try store.writeIfDue(state) != nil { acknowledged = state.height }
                } catch {
                    #expect(error.code == .unavailable, "seed \(seed): \(error)")
                    break
                }
            }
            fs.crash(seed: seed)

            store = try SnapshotStore(directory: Self.directory, options: options, fileSystem: fs)
            let loaded = store.loadNewest(genesis: story.chain.genesis)
            #expect(loaded.skipped.isEmpty, "seed \(seed): \(loaded)")
            if let acknowledged {
                acknowledgedTotal += 1
                let snapshot = try #require(loaded.snapshot, "seed \(seed): the snapshot at \(acknowledged) is lost")
                #expect(snapshot.height >= acknowledged, "seed \(seed)")
                var state = snapshot.state
                var original = story.chain.states[Int(snapshot.height)]
                #expect(state.stateRoot == original.stateRoot, "seed \(seed)")
            }
            #expect(try store.heights().count <= options.keep + 1, "seed \(seed): pruning lost track")
        }
        #expect(acknowledgedTotal > 50)
    }
}
