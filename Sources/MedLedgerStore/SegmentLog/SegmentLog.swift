import Dispatch
import MedLedgerWire
import Synchronization

/// The chain on disk: an append-only log of committed blocks in zlib-compressed, checksummed
/// segment files (Protocol/LOG.md).
///
/// `append` returns only when the block is durable, and appends that wait together share one
/// fsync (group commit). Opening the log recovers a torn last write and refuses to start over
/// corruption anywhere else. Safe to use from several threads.
public final class SegmentLog: Sendable {
    public struct Options: Sendable {
        /// A segment rolls before it would grow past this.
        public var maxSegmentSize: UInt64
        /// zlib level 1-9; 0 stores records uncompressed.
        public var compressionLevel: Int32
        /// Every `indexInterval`-th height gets an index entry.
        public var indexInterval: UInt16

        public init(maxSegmentSize: UInt64 = 64 << 20, compressionLevel: Int32 = 6, indexInterval: UInt16 = 16) {
            self.maxSegmentSize = maxSegmentSize
            self.compressionLevel = compressionLevel
            self.indexInterval = indexInterval
        }
    }

    /// What opening the log found and did.
    public struct RecoveryReport: Sendable, CustomStringConvertible {
        /// A torn last record that was cut off: where, how many bytes, and where they were copied.
        public var tornTail: (path: String, offset: UInt64, bytes: UInt64, quarantinedTo: String)?
        public var indexRebuilt: Bool
        public var segments: Int
        public var lastHeight: UInt64

        public var description: String {
            var text = "\(segments) segment(s), last height \(lastHeight)"
            if indexRebuilt { text += "; index rebuilt" }
            if let torn = tornTail {
                text += "; torn write of \(torn.bytes) bytes cut at \(torn.path) offset \(torn.offset), copied to \(torn.quarantinedTo)"
            }
            return text
        }
    }

    struct Segment: Sendable {
        var startHeight: UInt64
        var path: String
        var file: any StoreFile
        var size: UInt64
    }

    final class Pending: @unchecked Sendable {
        let bytes: [UInt8]
        let height: UInt64
        let done = DispatchSemaphore(value: 0)
        var error: StoreError?

        init(bytes: [UInt8], height: UInt64) {
            self.bytes = bytes
            self.height = height
        }
    }

    struct State: Sendable {
        var segments: [Segment]
        var index: SegmentIndex
        /// The last durable height.
        var lastHeight: UInt64
        /// The last accepted height and block hash (durable or waiting in `pending`).
        var acceptedHeight: UInt64
        var acceptedHash: Bytes32
        var pending: [Pending] = []
        var writing = false
        var failure: StoreError?
        var closed = false
        var syncs: UInt64 = 0
        /// How long recent fsyncs of segment files took (ns), oldest first; at most
        /// `recentSyncsKept`, taken by ``takeSyncDurations()``.
        var recentSyncs: [UInt64] = []
        /// Records made durable since the index file was last written.
        var unindexedRecords = 0
    }

    /// The index file (with its durable frontier) is rewritten at least every this many records, so
    /// that recovery's zone of doubt stays small.
    static let indexWriteInterval = 256

    public let directory: String
    public let chainID: String
    public let options: Options
    let fileSystem: any FileSystem
    let state: Mutex<State>
    /// Runs the group-commit writer, one batch at a time.
    let writer = DispatchQueue(label: "medledger.segment-log.writer")

    init(directory: String, chainID: String, options: Options, fileSystem: any FileSystem, state: State) {
        self.directory = directory
        self.chainID = chainID
        self.options = options
        self.fileSystem = fileSystem
        self.state = Mutex(state)
    }

    /// The last durable height; 0 for an empty log.
    public var lastHeight: UInt64 { state.withLock { $0.lastHeight } }

    /// How many fsyncs of segment files appends have made (group commit makes it fewer than appends).
    public var syncCount: UInt64 { state.withLock { $0.syncs } }

    static let recentSyncsKept = 256

    /// How long the fsyncs of segment files since the last call took, in nanoseconds, oldest first
    /// (at most the last 256): for the node's fsync latency metric.
    public func takeSyncDurations() -> [UInt64] {
        state.withLock { state in
            defer { state.recentSyncs = [] }
            return state.recentSyncs
        }
    }

    /// The segment files, oldest first.
    public var segmentPaths: [String] { state.withLock { $0.segments.map(\.path) } }

    // MARK: Appending

    /// Appends the next block and returns once it is durable.
    ///
    /// - Throws: `invalidArgument` if the block is not the next height or does not link to the
    ///   previous block; `io` if writing failed, after which the log refuses further appends
    ///   (reopen it: recovery finds where the disk really is).
    public func append(_ block: CommittedBlock) throws(StoreError) {
        try submit(block).wait()
    }

    /// A submitted append: ``wait()`` returns once it is durable.
    public struct AppendTicket: Sendable {
        let pending: Pending
        public var height: UInt64 { pending.height }

        /// Blocks until the record is durable; throws if writing it failed.
        public func wait() throws(StoreError) {
            pending.done.wait()
            pending.done.signal()  // later waits return at once
            if let error = pending.error { throw error }
        }
    }

    /// Queues the next block for writing and returns at once. Blocks submitted back to back are
    /// written together and share one fsync (group commit); each is durable when its ticket's
    /// ``AppendTicket/wait()`` returns. Submit in height order.
    public func submit(_ block: CommittedBlock) throws(StoreError) -> AppendTicket {
        let (bytes, height) = SegmentFormat.encodeRecord(block, compressionLevel: options.compressionLevel)
        let pending = Pending(bytes: bytes, height: height)
        let blockHash = block.block.header.hash
        let lead: Bool = try state.withLock { (state) throws(StoreError) -> Bool in
            if let failure = state.failure { throw StoreError(.unavailable, "the log failed earlier: \(failure)", path: directory) }
            guard !state.closed else { throw StoreError(.unavailable, "the log is closed", path: directory) }
            guard height == state.acceptedHeight + 1 else {
                throw StoreError(.invalidArgument, "append of height \(height), but the next height is \(state.acceptedHeight + 1)", height: height)
            }
            guard state.acceptedHeight == 0 || block.block.header.previousHash == state.acceptedHash else {
                throw StoreError(.invalidArgument, "block \(height) does not link to block \(state.acceptedHeight)", height: height)
            }
            state.acceptedHeight = height
            state.acceptedHash = blockHash
            state.pending.append(pending)
            if state.writing { return false }
            state.writing = true
            return true
        }
        if lead { writer.async { self.writePending() } }
        return AppendTicket(pending: pending)
    }

    /// The group-commit leader: writes whatever is waiting, fsyncs once, wakes the waiters; repeats
    /// until nothing waits.
    private func writePending() {
        while true {
            let (batch, last) = state.withLock { state -> ([Pending], Segment?) in
                let batch = state.pending
                state.pending = []
                if batch.isEmpty { state.writing = false }
                return (batch, state.segments.last)
            }
            guard !batch.isEmpty, var segment = last else { return }
            var rolled: [Segment] = []
            var indexed: [(UInt64, UInt64, UInt64)] = []
            var failure: StoreError?
            var syncDurations: [UInt64] = []
            func timedSync(_ file: any StoreFile) throws(StoreError) {
                let started = DispatchTime.now().uptimeNanoseconds
                try file.sync()
                syncDurations.append(DispatchTime.now().uptimeNanoseconds - started)
            }
            do throws(StoreError) {
                var dirty = false
                for item in batch {
                    if segment.size > UInt64(SegmentFormat.segmentHeaderSize),
                        segment.size + UInt64(item.bytes.count) > options.maxSegmentSize
                    {
                        if dirty { try timedSync(segment.file) }
                        dirty = false
                        rolled.append(segment)
                        segment = try createSegment(startHeight: item.height)
                    }
                    try segment.file.write(item.bytes, at: segment.size)
                    indexed.append((item.height, segment.startHeight, segment.size))
                    segment.size += UInt64(item.bytes.count)
                    dirty = true
                }
                if dirty { try timedSync(segment.file) }
            } catch {
                failure = error
            }
            let indexToWrite: SegmentIndex? = state.withLock { state in
                state.syncs += 1
                state.recentSyncs.append(contentsOf: syncDurations)
                if state.recentSyncs.count > Self.recentSyncsKept { state.recentSyncs.removeFirst(state.recentSyncs.count - Self.recentSyncsKept) }
                if let failure {
                    state.failure = failure
                    return nil
                }
                // Segments that rolled keep their final size; the new last one replaces the old last.
                if !rolled.isEmpty {
                    state.segments.removeLast()
                    state.segments.append(contentsOf: rolled)
                }
                state.segments.removeAll { $0.path == segment.path }
                state.segments.append(segment)
                state.segments.sort { $0.startHeight < $1.startHeight }
                for (height, start, offset) in indexed { state.index.note(height: height, segmentStart: start, offset: offset) }
                state.lastHeight = batch.last!.height
                // Everything up to here is fsynced: the frontier recovery trusts.
                state.index.frontier = SegmentIndex.Entry(height: state.lastHeight, segmentStart: segment.startHeight, offset: segment.size)
                state.unindexedRecords += batch.count
                guard !rolled.isEmpty || state.unindexedRecords >= Self.indexWriteInterval else { return nil }
                state.unindexedRecords = 0
                return state.index
            }
            if let indexToWrite { try? writeIndex(indexToWrite) }
            for item in batch {
                item.error = failure
                item.done.signal()
            }
        }
    }

    private func createSegment(startHeight: UInt64) throws(StoreError) -> Segment {
        let path = Path.join(directory, SegmentFormat.segmentName(startHeight: startHeight))
        let file = try fileSystem.open(path, create: true)
        let header = SegmentFormat.segmentHeader(startHeight: startHeight, chainID: chainID)
        try file.truncate(to: 0)
        try file.write(header, at: 0)
        try file.sync()
        try fileSystem.syncDirectory(directory)
        return Segment(startHeight: startHeight, path: path, file: file, size: UInt64(header.count))
    }

    func writeIndex(_ index: SegmentIndex) throws(StoreError) {
        try fileSystem.writeAtomically(index.encoded, to: Path.join(directory, SegmentIndex.fileName))
    }

    // MARK: Reading

    /// The committed block at `height`, its checksum verified.
    public func read(height: UInt64) throws(StoreError) -> CommittedBlock {
        let (segment, start) = try locate(height)
        var offset = start.offset
        var current = start.height
        while true {
            let (header, headerBytes) = try readHeader(segment, at: offset)
            guard header.height == current else {
                throw StoreError(.corrupt, "expected the record of height \(current), found \(header.height)", path: segment.path, offset: offset, height: current)
            }
            if current == height {
                let stored = try segment.file.read(at: offset + UInt64(SegmentFormat.recordHeaderSize), count: Int(header.storedLength))
                guard stored.count == Int(header.storedLength),
                    SegmentFormat.checksumMatches(header, headerBytes: headerBytes, stored: stored)
                else {
                    throw StoreError(.corrupt, "the record's CRC does not match", path: segment.path, offset: offset, height: height)
                }
                return try SegmentFormat.decodeRecord(header, stored: stored, path: segment.path, offset: offset)
            }
            offset += header.totalSize
            current += 1
        }
    }

    /// The blocks from `from` through `to`, in order.
    public func blocks(from: UInt64, through to: UInt64) throws(StoreError) -> [CommittedBlock] {
        guard from <= to else { return [] }
        var blocks: [CommittedBlock] = []
        for height in from...to { blocks.append(try read(height: height)) }
        return blocks
    }

    private func locate(_ height: UInt64) throws(StoreError) -> (Segment, (height: UInt64, offset: UInt64)) {
        try state.withLock { (state) throws(StoreError) -> (Segment, (height: UInt64, offset: UInt64)) in
            guard height >= 1, height <= state.lastHeight else {
                throw StoreError(.notFound, "height \(height) is not in the log (it holds 1 to \(state.lastHeight))", height: height)
            }
            guard let segment = state.segments.last(where: { $0.startHeight <= height }) else {
                throw StoreError(.notFound, "no segment holds height \(height)", height: height)
            }
            if let entry = state.index.entry(atOrBelow: height), entry.segmentStart == segment.startHeight {
                return (segment, (entry.height, entry.offset))
            }
            return (segment, (segment.startHeight, UInt64(SegmentFormat.segmentHeaderSize)))
        }
    }

    func readHeader(_ segment: Segment, at offset: UInt64) throws(StoreError) -> (SegmentFormat.RecordHeader, [UInt8]) {
        let bytes = try segment.file.read(at: offset, count: SegmentFormat.recordHeaderSize)
        return (try SegmentFormat.parseRecordHeader(bytes, path: segment.path, offset: offset), bytes)
    }

    // MARK: Closing

    /// Writes the index and closes the files. Appends after this fail.
    public func close() {
        state.withLock { $0.closed = true }
        writer.sync {}  // let the writer finish what was submitted
        let (segments, index) = state.withLock { state -> ([Segment], SegmentIndex?) in
            guard !state.segments.isEmpty else { return ([], nil) }
            defer { state.segments = [] }
            return (state.segments, state.failure == nil ? state.index : nil)
        }
        if let index { try? writeIndex(index) }
        for segment in segments { segment.file.close() }
    }
}
