import MedLedgerCrypto
import MedLedgerStore
import MedLedgerWire
import Testing

/// The blob store on the fault-injecting file system: a crash at any point keeps every blob whose
/// put returned, keeps erased every blob whose delete returned, and never leaves a name with
/// other bytes under it.
@Suite("blob store crash recovery")
struct BlobStoreCrashTests {
    static let directory = "/data/blobs"

    /// One seed: puts and deletes until a scheduled crash freezes the disk, crash, reopen, check.
    static func run(seed: UInt64) throws -> (acknowledged: Int, operations: Int) {
        let fs = SimulatedFileSystem(seed: seed)
        var rng = SplitMix64(seed: seed ^ 0xB10B)
        let blobs = (0..<24).map { BlobStoreTests.blob("seed \(seed) blob \($0)", 1 + Int(rng.next() % 3000)) }
        let hashes = blobs.map(BlobStore.hash(of:))
        var putAcknowledged = Set<Int>()
        var deleteAcknowledged = Set<Int>()
        var operations = 0

        var store = try BlobStore(directory: directory, fileSystem: fs)
        fs.scheduleCrash(afterOperations: Int(rng.next() % 60))
        running: for index in blobs.indices {
            do {
                operations += 1
                _ = try store.put(blobs[index])
                putAcknowledged.insert(index)
                // Now and then erase an earlier blob, or put one again.
                if index > 2, rng.next() % 3 == 0 {
                    let victim = Int(rng.next() % UInt64(index))
                    if putAcknowledged.contains(victim) {
                        operations += 1
                        // In doubt until the delete returns: a crash may or may not keep its removal.
                        putAcknowledged.remove(victim)
                        try store.delete(hashes[victim])
                        deleteAcknowledged.insert(victim)
                    }
                }
                if rng.next() % 4 == 0, let again = putAcknowledged.sorted().randomElement(using: &rng) {
                    operations += 1
                    _ = try store.put(blobs[again])
                }
            } catch {
                #expect(error.code == .unavailable, "seed \(seed): \(error)")
                break running
            }
        }
        fs.crash(seed: seed)

        store = try BlobStore(directory: directory, fileSystem: fs)
        #expect(fs.volatileList(directory + "/tmp") == [], "seed \(seed): tmp/ not emptied")
        let present = Set(try store.hashes())
        #expect(present.isSubset(of: Set(hashes)), "seed \(seed): a blob nobody put")
        for index in blobs.indices {
            let name = "seed \(seed), blob \(index)"
            do {
                let bytes = try store.get(hashes[index])
                #expect(bytes == blobs[index], "\(name): other bytes")
                #expect(!deleteAcknowledged.contains(index), "\(name): erased, but back after the crash")
            } catch {
                #expect(error.code == .notFound, "\(name): \(error)")
                #expect(!putAcknowledged.contains(index), "\(name): put returned, but lost in the crash")
            }
        }
        return (putAcknowledged.count + deleteAcknowledged.count, operations)
    }

    @Test("after a crash at any of 300 seeded points, acknowledged puts and deletes hold and no name has other bytes")
    func seeds() throws {
        var acknowledged = 0
        for seed in 0..<UInt64(300) { acknowledged += try Self.run(seed: seed).acknowledged }
        #expect(acknowledged > 300, "the crashes should not all come before any put")
    }
}
