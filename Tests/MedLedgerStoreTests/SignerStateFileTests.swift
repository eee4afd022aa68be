@testable import MedLedgerStore
import MedLedgerWire
import Testing

@Suite("signer state file")
struct SignerStateFileTests {
    @Test("a crash at any point of a save leaves the old state or the new one, never a mix or nothing")
    func crashDuringSave() throws {
        let old: [UInt8] = Array("height 7 round 0 precommit".utf8)
        let new: [UInt8] = Array("height 7 round 1 prevote".utf8)
        var sawOld = false
        var sawNew = false
        for crashAfter in 0..<8 {
            for seed in UInt64(0)..<40 {
                let fs = SimulatedFileSystem(seed: seed)
                try fs.createDirectoryDurably("/node")
                let file = SignerStateFile(directory: "/node", fileSystem: fs)
                try file.save(old)
                fs.scheduleCrash(afterOperations: crashAfter)
                let saved = (try? file.save(new)) != nil
                fs.crash(seed: seed)
                let loaded = try file.load()
                #expect(loaded == old || loaded == new, "crash after \(crashAfter) operations, seed \(seed): \(String(describing: loaded))")
                if saved { #expect(loaded == new, "a save that returned must survive (seed \(seed))") }
                sawOld = sawOld || loaded == old
                sawNew = sawNew || loaded == new
            }
        }
        #expect(sawOld && sawNew, "the crashes should land on both sides of the rename")
    }

    @Test("a damaged file is refused, not guessed")
    func damaged() throws {
        let fs = SimulatedFileSystem(seed: 1)
        try fs.createDirectoryDurably("/node")
        let file = SignerStateFile(directory: "/node", fileSystem: fs)
        #expect(try file.load() == nil)
        try file.save([1, 2, 3])
        try fs.flipStoredBit(file.path, offset: 11)
        #expect(throws: StoreError.self) { try file.load() }
    }
}
