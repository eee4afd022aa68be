import MedLedgerLedger
import MedLedgerWire

/// State snapshots for fast restarts (Protocol/LOG.md section 10).
///
/// The state is a function of the genesis and the chain, so a snapshot is only ever a shortcut:
/// every `interval` blocks the node writes one (atomically), the newest `keep` are kept, and on
/// start the newest one that checks out is loaded and the log replays from it. A snapshot that
/// does not check out (CRC, format, chain, restored state root, or disagreement with the log) is
/// moved to `quarantine/` and the next older one is tried; with none left the state is rebuilt
/// from genesis. Losing snapshots costs time, never data.
///
/// A value holding only its settings; every call goes to the file system, so it is safe to use
/// from several threads, though two writers of the same height would race for the rename (the
/// runtime writes from one place).
public struct SnapshotStore: Sendable {
    public struct Options: Sendable {
        /// A snapshot is due at every height that is a multiple of this (at least 1).
        public var interval: UInt64
        /// How many snapshots to keep, newest first (at least 1).
        public var keep: Int
        /// zlib level 1-9; 0 stores the payload uncompressed.
        public var compressionLevel: Int32
        /// The largest stored or inflated payload written or read.
        public var maxPayloadBytes: Int

        public init(
            interval: UInt64 = 1000, keep: Int = 2, compressionLevel: Int32 = 6,
            maxPayloadBytes: Int = SnapshotFormat.defaultMaxPayloadBytes
        ) {
            self.interval = interval
            self.keep = keep
            self.compressionLevel = compressionLevel
            self.maxPayloadBytes = maxPayloadBytes
        }
    }

    /// The conventional name of the directory under a node's data directory.
    public static let directoryName = "snapshots"
    static let quarantineName = "quarantine"

    public let directory: String
    public let options: Options
    let fileSystem: any FileSystem

    /// Opens (or creates) the snapshot directory, removing temporary files a crash left behind.
    ///
    /// - Throws: `invalidArgument` for an interval or keep count of 0.
    public init(directory: String, options: Options = Options(), fileSystem: any FileSystem = PosixFileSystem())
        throws(StoreError)
    {
        guard options.interval >= 1, options.keep >= 1, (0...9).contains(options.compressionLevel),
            options.maxPayloadBytes > 0
        else {
            throw StoreError(
                .invalidArgument, "snapshot options need interval >= 1, keep >= 1, level 0-9 and a positive size limit")
        }
        self.directory = directory
        self.options = options
        self.fileSystem = fileSystem
        try fileSystem.createDirectoryDurably(directory)
        var removed = false
        for name in try fileSystem.list(directory) where name.hasSuffix(".mlsnap.tmp") {
            try fileSystem.remove(Path.join(directory, name))
            removed = true
        }
        if removed { try fileSystem.syncDirectory(directory) }
    }

    /// The path of the snapshot at `height`.
    public func path(height: UInt64) -> String { Path.join(directory, SnapshotFormat.fileName(height: height)) }

    /// Whether a snapshot is due after the block at `height`.
    public func isDue(height: UInt64) -> Bool { height > 0 && height % options.interval == 0 }

    /// The heights of the snapshot files present, ascending (their contents unchecked).
    public func heights() throws(StoreError) -> [UInt64] {
        try fileSystem.list(directory).compactMap(SnapshotFormat.height(ofSnapshotNamed:)).sorted()
    }

    // MARK: Writing

    /// Writes the snapshot of `state`, the state after block `height` whose hash is `blockHash`,
    /// atomically and durably (temporary file, fsync, rename, directory fsync), then removes all
    /// but the newest ``Options/keep`` snapshots. Returns its path.
    ///
    /// `state` is a value: the runtime may hand a copy to a background queue and go on applying
    /// blocks while it is written.
    ///
    /// - Throws: `invalidArgument` if `height` and `blockHash` are not the state's, or the state
    ///   is over the size limit; `io` if writing failed (the node carries on: a snapshot is only a
    ///   shortcut).
    @discardableResult
    public func write(state: LedgerState, height: UInt64, blockHash: Bytes32) throws(StoreError) -> String {
        guard state.height == height, state.lastBlockHash == blockHash else {
            throw StoreError(
                .invalidArgument,
                "the state is after block \(state.height) (\(state.lastBlockHash.hex)), not block \(height) (\(blockHash.hex))",
                height: height)
        }
        let bytes = try SnapshotFormat.encode(
            state, compressionLevel: options.compressionLevel, maxPayloadBytes: options.maxPayloadBytes)
        let path = path(height: height)
        try fileSystem.writeAtomically(bytes, to: path)
        try prune()
        return path
    }

    /// Writes a snapshot of `state` if one is due at its height (``isDue(height:)``); returns its path.
    @discardableResult
    public func writeIfDue(_ state: LedgerState) throws(StoreError) -> String? {
        guard isDue(height: state.height) else { return nil }
        return try write(state: state, height: state.height, blockHash: state.lastBlockHash)
    }

    /// Removes all but the newest ``Options/keep`` snapshots.
    public func prune() throws(StoreError) {
        let heights = try heights()
        guard heights.count > options.keep else { return }
        for height in heights.dropLast(options.keep) { try fileSystem.remove(path(height: height)) }
        try fileSystem.syncDirectory(directory)
    }

    // MARK: Loading

    /// Loads and checks the snapshot at `height` (Protocol/LOG.md section 10.3).
    ///
    /// - Throws: `notFound` if there is none; `wrongFormat` or `corrupt` if it does not check out.
    public func load(height: UInt64, genesis: Genesis) throws(StoreError) -> LedgerState {
        let path = path(height: height)
        let bytes: [UInt8]
        do {
            bytes = try fileSystem.readAll(path)
        } catch  where error.code == .notFound {
            throw StoreError(.notFound, "no snapshot at height \(height)", path: path, height: height)
        }
        let (header, state) = try SnapshotFormat.decode(
            bytes, genesis: genesis, path: path, maxPayloadBytes: options.maxPayloadBytes)
        guard header.height == height else {
            throw StoreError(
                .corrupt, "the file named for height \(height) holds the state after block \(header.height)",
                path: path, height: height)
        }
        return state
    }

    /// What ``loadNewest(genesis:notAbove:verify:)`` found.
    public struct Loaded: Sendable, CustomStringConvertible {
        /// The newest snapshot that checked out, and the height it is at; nil when none did.
        public var snapshot: (state: LedgerState, height: UInt64)?
        /// The snapshots passed over, newest first, each with why (the error names its file).
        public var skipped: [StoreError]
        /// Where rejected snapshots were moved.
        public var quarantined: [String]

        public var description: String {
            var text = snapshot.map { "loaded the snapshot at height \($0.height)" } ?? "no usable snapshot"
            for error in skipped { text += "; skipped: \(error)" }
            return text
        }
    }

    /// The newest snapshot that checks out, trying older ones when it does not.
    ///
    /// A snapshot that is damaged, of another format or chain, or refused by `verify` is moved to
    /// `quarantine/` (never read again; kept for the operator). One above `maxHeight` (newer
    /// than the log, say after a repair) is passed over but left in place. An I/O error is
    /// reported and the snapshot left in place.
    ///
    /// - Parameters:
    ///   - maxHeight: the highest usable height (the log's last height).
    ///   - verify: checks a snapshot that decoded and whose state root checked out against
    ///     something else (``recoverState(genesis:log:)`` checks it against the log); returns why
    ///     it is refused, or nil.
    public func loadNewest(
        genesis: Genesis, notAbove maxHeight: UInt64 = .max,
        verify: (_ header: SnapshotFormat.Header, _ state: LedgerState) -> StoreError? = { _, _ in nil }
    ) -> Loaded {
        var loaded = Loaded(snapshot: nil, skipped: [], quarantined: [])
        let heights: [UInt64]
        do {
            heights = try self.heights()
        } catch {
            loaded.skipped.append(error)
            return loaded
        }
        for height in heights.reversed() {
            let path = path(height: height)
            guard height <= maxHeight else {
                loaded.skipped.append(
                    StoreError(
                        .invalidArgument, "the snapshot is newer than the log, which ends at height \(maxHeight)",
                        path: path, height: height))
                continue
            }
            do throws(StoreError) {
                let bytes = try fileSystem.readAll(path)
                let (header, state) = try SnapshotFormat.decode(
                    bytes, genesis: genesis, path: path, maxPayloadBytes: options.maxPayloadBytes)
                guard header.height == height else {
                    throw StoreError(
                        .corrupt, "the file named for height \(height) holds the state after block \(header.height)",
                        path: path, height: height)
                }
                if let refusal = verify(header, state) { throw refusal }
                loaded.snapshot = (state, height)
                return loaded
            } catch {
                loaded.skipped.append(error)
                if error.code == .corrupt || error.code == .wrongFormat, let moved = try? quarantine(path) {
                    loaded.quarantined.append(moved)
                }
            }
        }
        return loaded
    }

    /// Moves `path` into `quarantine/` (durably); returns where it went.
    func quarantine(_ path: String) throws(StoreError) -> String {
        let quarantine = Path.join(directory, Self.quarantineName)
        try fileSystem.createDirectoryDurably(quarantine)
        var target = Path.join(quarantine, Path.name(of: path))
        var attempt = 1
        while fileSystem.exists(target) {
            attempt += 1
            target = Path.join(quarantine, Path.name(of: path) + ".\(attempt)")
        }
        try fileSystem.rename(path, to: target)
        try fileSystem.syncDirectory(quarantine)
        try fileSystem.syncDirectory(directory)
        return target
    }
}
