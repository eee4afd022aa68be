import Synchronization

/// An in-memory ``FileSystem`` that loses, tears and reorders what was not made durable when it
/// is told to crash, fails chosen calls, and flips bits on read: the disk of a deterministic
/// simulator (TigerBeetle's `src/simulator.zig`), where every failure replays from its seed.
///
/// A process killed with SIGKILL keeps the page cache, so it cannot show that a store fsyncs what
/// it must. This type can: it keeps, for every file, the bytes a crash cannot take away (the
/// *durable image*) apart from what reads see (the *volatile view*), and for every directory the
/// entries that are on disk apart from the ones callers see.
///
/// ## Files: what a crash keeps
///
/// A file is an inode. Each has a durable image, a volatile view (what ``StoreFile/read(at:count:)``
/// and ``StoreFile/size()`` return) and the list, in issue order, of its *pending* writes and
/// truncates: those since its last ``StoreFile/sync()``. `sync()` applies them all, in order, to
/// the durable image and empties the list. ``crash(seed:)`` settles each pending operation on its
/// own, in issue order, over the durable image:
///
/// - a write is **kept** whole, **lost**, or **torn**, by ``Configuration/writeOutcomes``
///   (default one third each). A torn write keeps a prefix of its bytes: with
///   ``TearGranularity/byte`` (the default, the harshest) any length from 1 to `count - 1`; with
///   ``TearGranularity/sectors(size:)`` a prefix that ends on a multiple of the sector size in
///   *file* offsets (a write that crosses no sector boundary is kept or lost, never torn).
/// - a write that is lost or torn and that had extended the file leaves the rest of its range
///   **zero-filled**, half the time, when ``Configuration/zeroFilledExtensions`` is on (the
///   default): the new size reached the disk but the data did not (XFS's and ext4 writeback mode's
///   "NUL bytes after a crash"). Otherwise the file ends where the kept bytes end.
/// - a write may be lost while a later one is kept (the file system wrote its pages back out of
///   order): the lost range keeps its old durable bytes, or reads as zeros where the durable
///   image was shorter, a hole before the kept write. With ``Configuration/pendingWritesSurviveInOrder`` the kept operations
///   are instead a prefix of the list: the cut falls before any of the `n` operations or after the
///   last, uniformly; those before it are kept, a write at it is lost or torn (by those two
///   weights), the rest are lost.
/// - a truncate is kept or lost, with probability ``Configuration/truncateSurvival`` (default ½).
///
/// So a file whose every write was followed by a successful `sync()` always comes back byte for
/// byte; a file with pending operations comes back as its durable image with each of them kept,
/// lost or torn. This holds for every inode, named or not: a removed file that a crash brings back
/// carries its durable image with its pending writes settled the same way.
///
/// ## Names: what a crash keeps
///
/// These calls are each one *directory operation*: `open(_:create: true)` when it creates the
/// file, `createDirectory(_:)` (one operation for each missing level), `remove(_:)` and
/// `rename(_:to:)`. Callers see it at once. It stays pending until ``syncDirectory(_:)`` of a
/// directory it touches: the parent of the created or removed name, and for a rename either the
/// source's or the destination's parent (a rename is one journal transaction on ext4 and XFS, so
/// it is durable or undone as a whole, never both names nor neither). Syncing a file does not
/// make its name durable.
///
/// At a crash each pending directory operation survives on its own, with probability
/// ``Configuration/directoryOperationSurvival`` (default ½). Survivors apply in issue order, so
/// the latest surviving operation on a name decides it. Hence, before the directory is synced:
/// - a created file may vanish, and its content with it, even if the file itself was synced;
/// - a renamed file may be back under its old name, and a name it replaced keeps its old inode
///   and content;
/// - a removed file may come back;
/// - a created directory may vanish together with everything under it, until its *parent* is
///   synced (`mkdir` is an entry in the parent);
/// - operations on different names survive independently of their order: after creating `a` then
///   `b`, `b` alone may survive. That is harsher than ext4's and XFS's ordered journals and within
///   POSIX, which promises no order without an fsync.
///
/// After ``crash(seed:)`` nothing is pending: every file's volatile view is its durable image,
/// every directory lists exactly its durable entries, inodes no name reaches are gone, and every
/// handle opened before the crash throws ``StoreError/Code/unavailable``.
///
/// ## Crashing in the middle of a workload
///
/// ``scheduleCrash(afterOperations:)`` lets a number of *counted* operations run and then freezes
/// the machine: the next counted operation throws ``StoreError/Code/unavailable`` without any
/// effect, and so does every call after it (but ``exists(_:)``, which cannot throw) until
/// ``crash(seed:)``. Counted operations are the calls that can change the disk:
/// `open(_:create: true)`, `createDirectory`, `remove`, `rename`, `syncDirectory`, and a file's
/// `write`, `truncate` and `sync`. Reads, `size`, `list`, `exists`, `open(_:create: false)` and
/// `close` are not counted. ``Statistics/operations`` counts them, so a test runs its workload
/// once to learn how many there are, then crashes it after each count in turn.
///
/// ## Failures and damage
///
/// ``injectFailure(_:after:path:)`` makes a chosen call throw ``StoreError/Code/io`` once, as a
/// full disk or a failing device would:
/// - a failed `write` may have written a prefix of its bytes (as a short `pwrite` before `ENOSPC`
///   does); that prefix is pending like any write;
/// - a failed `sync` settles the file's pending operations at once, as a crash would, and forgets
///   them, while reads go on seeing them: Linux marks the pages clean after a failed writeback,
///   so a later `sync()` succeeds without making them durable (PostgreSQL's "fsyncgate"). A store
///   must treat a failed fsync as fatal;
/// - any other failed call has no effect.
///
/// ``flipBitOnRead(_:offset:bit:)`` and ``Configuration/readBitFlipProbability`` corrupt what
/// reads return (not what is stored); ``flipStoredBit(_:offset:bit:)``,
/// ``truncateStored(_:to:)`` and ``overwriteStored(_:at:with:)`` change what is stored, durable
/// image and volatile view alike; ``plantFile(_:content:)`` creates a file, its directories and
/// its content already durable.
///
/// ## Observing
///
/// ``statistics`` counts calls, syncs, directory syncs and bytes written. ``volatileContent(_:)``
/// and ``volatileList(_:)`` show what callers see; ``durableContent(_:)`` and ``durableList(_:)``
/// what a crash would leave if nothing pending survived; ``isDurable(_:)``,
/// ``pendingFileOperations(_:)`` and ``pendingDirectoryOperations`` whether anything is still at
/// risk. None of them is counted, and all answer on a frozen machine.
///
/// ## Paths
///
/// Plain strings split on `/`. There is one root: a leading `/` and a relative path name the same
/// entry, empty and `.` components are ignored and `..` removes the previous one. Errors follow
/// ``PosixFileSystem``'s: `open(_:create: false)` of a missing file and `list` of a missing
/// directory throw ``StoreError/Code/notFound``, as does `open(_:create: true)` in a missing
/// directory; every other failure (removing or renaming a missing name, opening a directory, a
/// file where a directory should be) throws ``StoreError/Code/io``. `list` returns names sorted.
///
/// ## Threads and determinism
///
/// Every call takes one `Mutex`, so threads may share the file system and its handles (the log's
/// group commit syncs from whichever thread leads). Randomness comes from SplitMix64 only: a crash
/// from its own seed, and a failed write's prefix and ``crash()`` from a generator seeded by
/// ``Configuration/seed``. The same calls in the same order give the same result; calls racing on
/// several threads may come in another order on the next run, and then a scheduled crash falls
/// elsewhere: a test replays exactly from its seed only if its calls are ordered.
public final class SimulatedFileSystem: FileSystem {
    let state: Mutex<State>

    /// The settings this file system was made with.
    public let configuration: Configuration

    /// A file system with the default, harshest crash model, seeded with `seed`.
    public convenience init(seed: UInt64 = 0) {
        self.init(configuration: Configuration(seed: seed))
    }

    public init(configuration: Configuration) {
        configuration.check()
        self.configuration = configuration
        state = Mutex(State(configuration: configuration))
    }

    /// Runs `body` under the lock, with typed throws.
    func locked<Result: Sendable>(_ body: (inout State) throws(StoreError) -> Result) throws(StoreError) -> Result {
        try state.withLock { (state: inout State) throws(StoreError) -> Result in try body(&state) }
    }

    // MARK: FileSystem

    public func open(_ path: String, create: Bool) throws(StoreError) -> any StoreFile {
        let (inode, epoch) = try locked { (state) throws(StoreError) in
            (try state.open(path, create: create), state.epoch)
        }
        return SimulatedFile(system: self, inode: inode, epoch: epoch, path: path)
    }

    public func list(_ directory: String) throws(StoreError) -> [String] {
        try locked { (state) throws(StoreError) in try state.list(directory) }
    }

    public func createDirectory(_ path: String) throws(StoreError) {
        try locked { (state) throws(StoreError) in try state.createDirectory(path) }
    }

    public func exists(_ path: String) -> Bool {
        state.withLock { $0.exists(path) }
    }

    public func remove(_ path: String) throws(StoreError) {
        try locked { (state) throws(StoreError) in try state.remove(path) }
    }

    public func rename(_ from: String, to: String) throws(StoreError) {
        try locked { (state) throws(StoreError) in try state.rename(from, to: to) }
    }

    public func syncDirectory(_ path: String) throws(StoreError) {
        try locked { (state) throws(StoreError) in try state.syncDirectory(path) }
    }
}

extension SimulatedFileSystem {
    /// How a crash treats what was not made durable, and which faults are on from the start.
    ///
    /// The defaults are the harshest model the durability contract allows.
    public struct Configuration: Sendable {
        /// Seeds ``SimulatedFileSystem/crash()`` and the prefix a failed write leaves, and decides
        /// which reads ``readBitFlipProbability`` corrupts.
        public var seed: UInt64
        /// Where a torn write may end.
        public var tearGranularity: TearGranularity = .byte
        /// How often a pending write is kept, lost or torn at a crash.
        public var writeOutcomes: WriteOutcomes = WriteOutcomes(kept: 1, lost: 1, torn: 1)
        /// Whether a lost or torn write that extended its file may leave its range zero-filled.
        public var zeroFilledExtensions: Bool = true
        /// Whether a crash keeps a prefix of each file's pending operations rather than each on its own.
        public var pendingWritesSurviveInOrder: Bool = false
        /// The probability that a pending truncate survives a crash.
        public var truncateSurvival: Double = 0.5
        /// The probability that a pending directory operation survives a crash.
        public var directoryOperationSurvival: Double = 0.5
        /// The probability that a read returns its bytes with one bit flipped. Which reads, and
        /// which bit, depend only on the seed, the path, the offset and the count, so the same read
        /// is corrupted the same way every time, whatever the threads do.
        public var readBitFlipProbability: Double = 0
        /// The largest file, in bytes; a write or truncate past it throws `io` ("File too large").
        public var maximumFileSize: UInt64 = 1 << 32

        public init(seed: UInt64 = 0) {
            self.seed = seed
        }

        func check() {
            precondition(
                writeOutcomes.kept + writeOutcomes.lost + writeOutcomes.torn > 0, "every write outcome has weight 0")
            if case .sectors(let size) = tearGranularity { precondition(size > 0, "a sector has at least one byte") }
            precondition(maximumFileSize <= UInt64(Int.max), "files are indexed by Int")
        }
    }

    /// Where a torn write may end.
    public enum TearGranularity: Sendable, Hashable {
        /// After any byte: the harshest, as a device that persists less than a sector atomically.
        case byte
        /// On a multiple of `size` bytes of the file (512 for a classic disk sector, 4096 for a page).
        case sectors(size: Int)
    }

    /// Relative weights of a pending write's fates at a crash (a weight of 0 rules a fate out).
    public struct WriteOutcomes: Sendable, Hashable {
        public var kept: Int
        public var lost: Int
        public var torn: Int

        public init(kept: Int, lost: Int, torn: Int) {
            precondition(kept >= 0 && lost >= 0 && torn >= 0, "weights are not negative")
            self.kept = kept
            self.lost = lost
            self.torn = torn
        }
    }

    /// A kind of call that ``SimulatedFileSystem/injectFailure(_:after:path:)`` can make fail.
    public enum Operation: String, Sendable, Hashable, CaseIterable {
        case open, read, write, truncate, sync, createDirectory, remove, rename, syncDirectory
    }

    /// What the file system has done since it was made (all crashes included).
    public struct Statistics: Sendable, Hashable {
        /// Counted operations (see ``SimulatedFileSystem/scheduleCrash(afterOperations:)``),
        /// attempted, whether they succeeded or not.
        public var operations = 0
        /// Successful file syncs.
        public var syncs = 0
        /// Successful directory syncs.
        public var directorySyncs = 0
        /// Successful writes, and the bytes they wrote (a failed write's prefix included).
        public var writes = 0
        public var bytesWritten: UInt64 = 0
        public var reads = 0
        public var bytesRead: UInt64 = 0
        public var truncates = 0
        /// Directory operations: files and directories created, names removed, renames.
        public var directoryOperations = 0
        /// Calls made to fail by ``SimulatedFileSystem/injectFailure(_:after:path:)``.
        public var injectedFailures = 0
        /// Reads returned with a bit flipped.
        public var readBitFlips = 0
        public var crashes = 0

        public init() {}
    }
}
