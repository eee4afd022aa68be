import MedLedgerCrypto
import MedLedgerWire
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Encrypted record contents on disk, addressed by SHA-256 of the ciphertext (Protocol/LOG.md
/// section 9).
///
/// A blob is only ever ciphertext (Protocol/LEDGER.md section 7): the store never sees a key or a
/// plaintext. Its name is its hash, so a blob is written once and never changes; ``put(_:)`` is
/// idempotent and ``get(_:)`` re-hashes every read, so it returns the bytes that were put or
/// throws `corrupt`, never other bytes. ``delete(_:)`` is erasure: the file's name is gone for
/// good once it returns.
///
/// Safe to use from several threads. One store per directory: opening it removes what crashed
/// writes left in `tmp/`.
public final class BlobStore: Sendable {
    /// The default largest blob: 64 MiB.
    public static let defaultMaxBlobSize = 64 << 20

    /// The directory holding the blobs.
    public let directory: String
    /// The largest blob ``put(_:)`` accepts and ``get(_:)`` reads.
    public let maxBlobSize: Int
    let fileSystem: any FileSystem
    /// Numbers temporary files, so that concurrent puts of the same blob never share one.
    let temporaryCounter = Atomic<UInt64>(0)

    /// Opens (or creates) the store in `directory`.
    ///
    /// - Throws: `invalidArgument` for a limit that is not positive; `io` if the directory
    ///   cannot be created or cleaned.
    public init(
        directory: String, maxBlobSize: Int = BlobStore.defaultMaxBlobSize,
        fileSystem: any FileSystem = PosixFileSystem()
    ) throws(StoreError) {
        guard maxBlobSize > 0, maxBlobSize <= Int(UInt32.max) else {
            throw StoreError(.invalidArgument, "the blob size limit must be 1 byte to 4 GiB, not \(maxBlobSize)")
        }
        self.directory = directory
        self.maxBlobSize = maxBlobSize
        self.fileSystem = fileSystem
        try fileSystem.createDirectoryDurably(directory)
        try fileSystem.createDirectoryDurably(Path.join(directory, Self.temporaryDirectoryName))
        // Whatever is in tmp/ is a write that never reached its rename: no blob, just garbage.
        let temporaries = Path.join(directory, Self.temporaryDirectoryName)
        let leftovers = try fileSystem.list(temporaries)
        for name in leftovers { try fileSystem.remove(Path.join(temporaries, name)) }
        if !leftovers.isEmpty { try fileSystem.syncDirectory(temporaries) }
    }

    static let temporaryDirectoryName = "tmp"

    // MARK: Names

    /// The fan-out subdirectory of `hash`: its first byte, two lower-case hex digits.
    public static func subdirectoryName(of hash: Bytes32) -> String { String(hash.hex.prefix(2)) }

    /// The file name of `hash`: 64 lower-case hex digits.
    public static func fileName(of hash: Bytes32) -> String { hash.hex }

    /// Where the blob `hash` lives: `DIRECTORY/ab/abcd…` for a hash starting `ab`.
    public func path(of hash: Bytes32) -> String {
        Path.join(Path.join(directory, Self.subdirectoryName(of: hash)), Self.fileName(of: hash))
    }

    /// The hash a blob is stored under.
    public static func hash(of ciphertext: [UInt8]) -> Bytes32 { Bytes32(SHA256.hash(ciphertext).bytes)! }

    // MARK: Operations

    /// Stores `ciphertext` and returns its SHA-256, once it is durable: written to a temporary
    /// file, fsynced, renamed into place, directory fsynced.
    ///
    /// Putting a blob that is already stored (and intact) writes nothing; a stored copy that no
    /// longer hashes right is replaced.
    ///
    /// - Throws: `invalidArgument` if `ciphertext` is larger than ``maxBlobSize`` (checked
    ///   before anything is written); `io` if writing failed.
    @discardableResult
    public func put(_ ciphertext: [UInt8]) throws(StoreError) -> Bytes32 {
        guard ciphertext.count <= maxBlobSize else {
            throw StoreError(
                .invalidArgument, "a blob of \(ciphertext.count) bytes is over the limit of \(maxBlobSize) bytes")
        }
        let hash = Self.hash(of: ciphertext)
        let subdirectory = Path.join(directory, Self.subdirectoryName(of: hash))
        let path = Path.join(subdirectory, Self.fileName(of: hash))
        if fileSystem.exists(path), (try? get(hash)) != nil {
            // Already here. Its name may have been renamed into place by a concurrent put that has
            // not fsynced the directory yet: make it durable before saying so.
            try fileSystem.syncDirectory(subdirectory)
            return hash
        }
        try fileSystem.createDirectoryDurably(subdirectory)

        let temporary = Path.join(
            Path.join(directory, Self.temporaryDirectoryName),
            "\(hash.hex).\(getpid()).\(temporaryCounter.wrappingAdd(1, ordering: .relaxed).newValue)")
        do {
            let file = try fileSystem.open(temporary, create: true)
            defer { file.close() }
            try file.truncate(to: 0)
            try file.write(ciphertext, at: 0)
            try file.sync()
        } catch {
            try? fileSystem.remove(temporary)
            throw error
        }
        do {
            try fileSystem.rename(temporary, to: path)
        } catch {
            try? fileSystem.remove(temporary)
            throw error
        }
        try fileSystem.syncDirectory(subdirectory)
        return hash
    }

    /// The blob whose SHA-256 is `hash`, checked against it.
    ///
    /// - Throws: `notFound` if there is no such blob; `corrupt`, naming the file, if its bytes no
    ///   longer hash to `hash` or it is larger than any blob the store accepts; `io` if reading
    ///   failed.
    public func get(_ hash: Bytes32) throws(StoreError) -> [UInt8] {
        let path = path(of: hash)
        let file: any StoreFile
        do {
            file = try fileSystem.open(path, create: false)
        } catch  where error.code == .notFound {
            throw StoreError(.notFound, "no blob \(hash.hex)", path: path)
        }
        defer { file.close() }
        let size = try file.size()
        guard size <= UInt64(maxBlobSize) else {
            throw StoreError(
                .corrupt, "the blob file is \(size) bytes, over the limit of \(maxBlobSize): not read", path: path)
        }
        let bytes = try file.read(at: 0, count: Int(size))
        guard bytes.count == Int(size) else {
            throw StoreError(.corrupt, "the blob file ended after \(bytes.count) of \(size) bytes", path: path)
        }
        let actual = Self.hash(of: bytes)
        guard actual == hash else {
            throw StoreError(.corrupt, "the blob's bytes hash to \(actual.hex), not to its name", path: path)
        }
        return bytes
    }

    /// Whether a blob named `hash` is stored (its bytes are not checked: ``get(_:)`` does that).
    public func contains(_ hash: Bytes32) -> Bool { fileSystem.exists(path(of: hash)) }

    /// Erases the blob `hash`: removes its file and fsyncs the directory, so the name does not
    /// come back after a crash. Erasing a blob that is not there does nothing.
    ///
    /// Removing a file does not overwrite its blocks on the device; what protects erased contents
    /// is that they were only ever ciphertext (Protocol/THREAT-MODEL.md).
    public func delete(_ hash: Bytes32) throws(StoreError) {
        let subdirectory = Path.join(directory, Self.subdirectoryName(of: hash))
        let path = Path.join(subdirectory, Self.fileName(of: hash))
        if fileSystem.exists(path) {
            do {
                try fileSystem.remove(path)
            } catch {
                // A concurrent delete got there first: the blob is gone either way.
                guard !fileSystem.exists(path) else { throw error }
            }
        }
        // Also when the file was already gone: a concurrent delete may not have fsynced yet.
        if fileSystem.exists(subdirectory) { try fileSystem.syncDirectory(subdirectory) }
    }

    /// Every stored blob's hash, in ascending order (names that are not blob names are ignored).
    public func hashes() throws(StoreError) -> [Bytes32] {
        var result: [Bytes32] = []
        for subdirectory in try fileSystem.list(directory).sorted() {
            guard subdirectory.utf8.count == 2, subdirectory != Self.temporaryDirectoryName else { continue }
            for name in try fileSystem.list(Path.join(directory, subdirectory)) {
                guard name.utf8.count == 64, name == name.lowercased(), name.hasPrefix(subdirectory),
                    let hash = Bytes32(hex: name)
                else { continue }
                result.append(hash)
            }
        }
        return result.sorted()
    }
}
