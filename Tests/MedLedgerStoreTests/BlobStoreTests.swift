import Dispatch
import Foundation
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire
import Synchronization
import Testing

/// A fresh temporary directory, removed at the end of the test.
final class ScratchDirectory {
    let path: String

    init(_ label: String) {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent("medledger-\(label)-\(UUID().uuidString)")
            .path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func join(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Flips one bit of `file` at `offset`.
    static func flipBit(in file: String, at offset: Int) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[offset] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }

    static func contents(of file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    }

    static func write(_ bytes: [UInt8], to file: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }
}

@Suite("blob store")
struct BlobStoreTests {
    static func blob(_ label: String, _ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var counter: UInt32 = 0
        while bytes.count < count {
            bytes += SHA256.hash(Array(label.utf8) + withUnsafeBytes(of: counter.bigEndian, Array.init)).bytes
            counter += 1
        }
        return Array(bytes.prefix(count))
    }

    @Test("a blob put is read back, under its SHA-256, in the subdirectory of its first byte")
    func roundTrip() throws {
        let dir = ScratchDirectory("blobs")
        let store = try BlobStore(directory: dir.path)
        let ciphertext = Self.blob("round trip", 70_000)
        let hash = try store.put(ciphertext)
        #expect(hash == Bytes32(SHA256.hash(ciphertext).bytes))
        #expect(store.contains(hash))
        #expect(try store.get(hash) == ciphertext)
        let prefix = String(hash.hex.prefix(2))
        #expect(store.path(of: hash) == dir.join("\(prefix)/\(hash.hex)"))
        #expect(FileManager.default.fileExists(atPath: dir.join("\(prefix)/\(hash.hex)")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.join("tmp")).isEmpty)
        // The empty blob is a blob too.
        let empty = try store.put([])
        #expect(empty.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(try store.get(empty) == [])
        #expect(try store.hashes() == [hash, empty].sorted())
        // A new store on the same directory sees them.
        let reopened = try BlobStore(directory: dir.path)
        #expect(try reopened.get(hash) == ciphertext)
    }

    @Test("a record's ciphertext is stored under the anchor's ciphertext_hash")
    func recordCiphertext() throws {
        let dir = ScratchDirectory("blobs")
        let store = try BlobStore(directory: dir.path)
        let sealed = try RecordCrypto.encrypt(Array("HbA1c 5.4 %".utf8), record: Bytes32(repeating: 7))
        #expect(try store.put(sealed.ciphertext) == sealed.ciphertextHash)
        let back = try store.get(sealed.ciphertextHash)
        #expect(
            try RecordCrypto.decrypt(back, dataKey: sealed.dataKey, record: Bytes32(repeating: 7))
                == Array("HbA1c 5.4 %".utf8))
    }

    @Test("putting a blob twice writes it once; a damaged copy is replaced by the next put")
    func idempotentPut() throws {
        let dir = ScratchDirectory("blobs")
        let store = try BlobStore(directory: dir.path)
        let ciphertext = Self.blob("idempotent", 5000)
        let hash = try store.put(ciphertext)
        let path = store.path(of: hash)
        let inode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int)
        #expect(try store.put(ciphertext) == hash)
        // Not rewritten: the same file (a rewrite renames a new inode into place).
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int == inode)
        #expect(try store.hashes() == [hash])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.join("tmp")).isEmpty)

        try ScratchDirectory.flipBit(in: path, at: 100)
        #expect(try store.put(ciphertext) == hash)
        #expect(try store.get(hash) == ciphertext)
    }

    @Test("a tampered, truncated or swapped blob file is reported corrupt with its path, never returned")
    func tampering() throws {
        let dir = ScratchDirectory("blobs")
        let store = try BlobStore(directory: dir.path)
        let ciphertext = Self.blob("tamper", 4096)
        let hash = try store.put(ciphertext)
        let path = store.path(of: hash)
        func expectCorrupt(_ what: Comment) {
            do {
                let bytes = try store.get(hash)
                Issue.record("\(what): got \(bytes.count) bytes instead of an error")
            } catch {
                #expect(error.code == .corrupt, what)
                #expect(error.path == path, what)
            }
        }
        try ScratchDirectory.flipBit(in: path, at: 4000)
        expectCorrupt("one bit flipped")
        try ScratchDirectory.write(Array(ciphertext.prefix(4095)), to: path)
        expectCorrupt("the last byte cut off")
        try ScratchDirectory.write(Self.blob("another blob", 4096), to: path)
        expectCorrupt("another blob's bytes under this name")
        try ScratchDirectory.write([], to: path)
        expectCorrupt("emptied")
        #expect(store.contains(hash), "contains does not read the file")
    }

    @Test("delete erases the file, durably and idempotently; a missing blob is notFound")
    func deleteAndMissing() throws {
        let dir = ScratchDirectory("blobs")
        let store = try BlobStore(directory: dir.path)
        let keep = try store.put(Self.blob("keep", 300))
        let erase = try store.put(Self.blob("erase", 300))
        try store.delete(erase)
        #expect(!store.contains(erase))
        #expect(!FileManager.default.fileExists(atPath: store.path(of: erase)))
        #expect(throws: StoreError.self) { try store.get(erase) }
        do {
            _ = try store.get(erase)
        } catch {
            #expect(error.code == .notFound)
            #expect(error.path == store.path(of: erase))
        }
        try store.delete(erase)
        try store.delete(Bytes32(repeating: 0xAB))  // never stored, its subdirectory absent
        #expect(try store.get(keep) == Self.blob("keep", 300))
        #expect(try store.hashes() == [keep])
        // Put again after erasure (a replica re-sending it) stores it again.
        #expect(try store.put(Self.blob("erase", 300)) == erase)
        #expect(store.contains(erase))
    }

    @Test("the size limit is checked before anything is written, and bounds reads")
    func sizeLimit() throws {
        let dir = ScratchDirectory("blobs")
        #expect(throws: StoreError.self) { try BlobStore(directory: dir.path, maxBlobSize: 0) }
        let store = try BlobStore(directory: dir.path, maxBlobSize: 1024)
        #expect(BlobStore.defaultMaxBlobSize == 64 << 20)
        let atLimit = try store.put(Self.blob("at limit", 1024))
        do {
            _ = try store.put(Self.blob("over", 1025))
            Issue.record("a blob over the limit was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
        }
        #expect(try store.hashes() == [atLimit])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.join("tmp")).isEmpty)

        // A larger blob, stored under a higher limit, is not read into memory under this one.
        let big = try BlobStore(directory: dir.path, maxBlobSize: 4096).put(Self.blob("big", 2048))
        do {
            _ = try store.get(big)
            Issue.record("a blob over the limit was read")
        } catch {
            #expect(error.code == .corrupt)
        }
    }

    @Test("opening removes what crashed writes left in tmp/; names that are not blobs are ignored")
    func leftovers() throws {
        let dir = ScratchDirectory("blobs")
        let store = try BlobStore(directory: dir.path)
        let hash = try store.put(Self.blob("survivor", 100))
        try ScratchDirectory.write([1, 2, 3], to: dir.join("tmp/\(Bytes32(repeating: 1).hex).1.1"))
        try ScratchDirectory.write([1, 2, 3], to: dir.join("\(hash.hex.prefix(2))/notes.txt"))
        let reopened = try BlobStore(directory: dir.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.join("tmp")).isEmpty)
        #expect(try reopened.hashes() == [hash])
    }

    @Test("concurrent puts, gets and deletes from several threads")
    func concurrency() throws {
        let dir = ScratchDirectory("blobs")
        let store = try BlobStore(directory: dir.path)
        let blobs = (0..<16).map { Self.blob("concurrent \($0)", 1000 + $0 * 97) }
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            let blob = blobs[index % blobs.count]
            do {
                let hash = try store.put(blob)  // four threads put each blob
                if try store.get(hash) != blob { failures.withLock { $0.append("blob \(index % 16) read back wrong") } }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(try store.hashes() == blobs.map(BlobStore.hash(of:)).sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.join("tmp")).isEmpty)
        DispatchQueue.concurrentPerform(iterations: 32) { index in
            do { try store.delete(BlobStore.hash(of: blobs[index % blobs.count])) } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(try store.hashes() == [])
    }
}
