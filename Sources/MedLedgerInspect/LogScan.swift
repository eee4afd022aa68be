import MedLedgerStore
import MedLedgerWire

/// Something wrong with the log itself: what, and where (file, offset, height).
public struct LogProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Bytes on disk that are not what was written (a CRC, a header, a broken sequence).
        case corrupt
        /// The last record of the last segment cut short: what a crash mid-append leaves. Opening
        /// the log copies it to `quarantine/` and truncates it (Protocol/LOG.md section 7).
        case tornWrite = "torn write"
        /// A segment of another format or chain.
        case wrongFormat = "wrong format"
        /// A block that breaks a rule of the chain (a hash link, a root, a chain id).
        case invalidBlock = "invalid block"
        /// A commit certificate that does not decide its block.
        case invalidCommit = "invalid commit"
        /// A file that could not be read.
        case unreadable
    }

    public var kind: Kind
    public var message: String
    public var path: String?
    public var offset: UInt64?
    public var height: UInt64?
    public var hint: String?

    public init(
        _ kind: Kind, _ message: String, path: String? = nil, offset: UInt64? = nil, height: UInt64? = nil, hint: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.path = path
        self.offset = offset
        self.height = height
        self.hint = hint
    }

    /// The store's error, where it happened, as a problem of the log.
    init(_ error: StoreError, height: UInt64? = nil) {
        let kind: Kind =
            switch error.code {
            case .wrongFormat: .wrongFormat
            case .io, .notFound: .unreadable
            default: .corrupt
            }
        self.init(kind, error.message, path: error.path, offset: error.offset, height: error.height ?? height)
    }

    /// `FILE, offset N, height H`, as much of it as is known.
    public var location: String {
        var parts: [String] = []
        if let path { parts.append(path) }
        if let offset { parts.append("offset \(offset)") }
        if let height { parts.append("height \(height)") }
        return parts.joined(separator: ", ")
    }

    public var description: String {
        var text = "\(kind.rawValue): \(message)"
        if !location.isEmpty { text += " (\(location))" }
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }
}

/// One record of a segment, its header checked (and its CRC, when the scan read its bytes).
public struct LogRecord: Sendable {
    public var segment: LogDirectory.Segment
    /// Where the record starts in the segment file.
    public var offset: UInt64
    public var header: SegmentFormat.RecordHeader
    /// The stored bytes, CRC-checked; empty when the scan read the header only.
    public var stored: [UInt8]

    public var height: UInt64 { header.height }

    /// The block inside: inflated to exactly its inflated length and decoded strictly as a
    /// canonical CommittedBlock (Protocol/LOG.md section 8).
    public func block() throws(LogProblem) -> CommittedBlock {
        do {
            return try SegmentFormat.decodeRecord(header, stored: stored, path: segment.path, offset: offset)
        } catch {
            throw LogProblem(error, height: header.height)
        }
    }
}

/// What scanning one segment found, up to its end or its first problem.
public struct SegmentScan: Sendable {
    public var segment: LogDirectory.Segment
    /// The start height in the segment's header, when the header is sound.
    public var startHeight: UInt64?
    public var records = 0
    public var firstHeight: UInt64?
    public var lastHeight: UInt64?
    /// The records' stored (possibly compressed) bytes, headers not included.
    public var storedBytes: UInt64 = 0
    /// The records' inflated lengths: the canonical blocks' bytes.
    public var inflatedBytes: UInt64 = 0
    /// Records kept compressed (codec 1, zlib).
    public var compressedRecords = 0
    /// Where the records of the heights an index file names start (1, 1 + interval, ...), by
    /// height: what judging the index needs, and not one entry per record of a long chain.
    public var offsets: [UInt64: UInt64] = [:]
    /// The first problem; the scan stopped there.
    public var problem: LogProblem?
    /// Whether the visitor stopped the scan.
    public var stoppedEarly = false

    init(segment: LogDirectory.Segment) { self.segment = segment }
}

/// A walk over the whole log: every segment's scan, in order.
public struct LogWalk: Sendable {
    public var chainID: String
    public var scans: [SegmentScan] = []
    /// The last height walked over (0 if none).
    public var lastHeight: UInt64 = 0
    /// Whether the visitor stopped the walk early.
    public var stoppedEarly = false

    public var records: Int { scans.reduce(0) { $0 + $1.records } }
}

/// Where the records stop being known durable (Protocol/LOG.md section 7): damage before it is
/// corruption, damage at or after it starts a torn tail that opening the log cuts off.
public struct LogFrontier: Hashable, Sendable {
    /// The start height of the segment it is in, and the offset in that segment.
    public var segmentStart: UInt64
    public var offset: UInt64
    /// The last height the index says was fsynced; nil when there is no sound index, and only the
    /// newest segment is in doubt.
    public var height: UInt64?

    /// Whether damage at `offset` of the segment starting at `segmentStart` is in the doubtful tail.
    public func inDoubt(segmentStart start: UInt64, offset: UInt64) -> Bool {
        (start, offset) >= (segmentStart, self.offset)
    }
}

extension LogDirectory {
    /// The chain id in the first segment header that has one, read without checking the rest of
    /// the header; nil if no segment has one to read.
    public func storedChainID() -> String? {
        for segment in segments {
            guard let file = try? ReadOnlyFile(segment.path),
                let bytes = try? file.read(at: 0, count: SegmentFormat.segmentHeaderSize),
                bytes.count == SegmentFormat.segmentHeaderSize, Array(bytes[0..<4]) == SegmentFormat.segmentMagic
            else { continue }
            let length = Int(bytes[16])
            guard (1...64).contains(length) else { continue }
            let id = String(decoding: bytes[17..<(17 + length)], as: UTF8.self)
            if ChainID.isValid(id) { return id }
        }
        return nil
    }

    /// The chain id of the log: the first segment's, its header checked in full.
    public func chainID() throws(LogProblem) -> String {
        let first = segments[0]
        let bytes = try ReadOnlyFile(first.path).read(at: 0, count: SegmentFormat.segmentHeaderSize)
        let id = storedChainID() ?? ""
        do {
            _ = try SegmentFormat.parseSegmentHeader(bytes, chainID: id, path: first.path)
        } catch {
            throw LogProblem(error)
        }
        return id
    }

    /// The index, if opening the log would trust it: it decodes, every entry points inside its
    /// segment, and the last entry lands on the header of a record of its height.
    public func trustedIndex() -> SegmentIndex? {
        guard let bytes = indexFile, let index = SegmentIndex.decode(bytes) else { return nil }
        for entry in index.entries {
            guard let segment = segments.first(where: { $0.startHeight == entry.segmentStart }),
                entry.height >= segment.startHeight, entry.offset >= UInt64(SegmentFormat.segmentHeaderSize),
                entry.offset + UInt64(SegmentFormat.recordHeaderSize) <= segment.size
            else { return nil }
        }
        guard let last = index.entries.last else { return index }
        guard let segment = segments.first(where: { $0.startHeight == last.segmentStart }),
            let bytes = try? ReadOnlyFile(segment.path).read(at: last.offset, count: SegmentFormat.recordHeaderSize),
            let header = try? SegmentFormat.parseRecordHeader(bytes, path: segment.path, offset: last.offset),
            header.height == last.height
        else { return nil }
        return index
    }

    /// The durable frontier opening the log would use: the trusted index's, else the start of the
    /// newest segment.
    public func frontier() -> LogFrontier {
        if let index = trustedIndex() {
            return LogFrontier(segmentStart: index.frontier.segmentStart, offset: index.frontier.offset, height: index.frontier.height)
        }
        return LogFrontier(
            segmentStart: segments.last?.startHeight ?? 1, offset: UInt64(SegmentFormat.segmentHeaderSize), height: nil)
    }

    /// Walks every record of every segment in height order, checking what opening the log checks
    /// (Protocol/LOG.md section 7) on every record, not only the tail: segment headers, start
    /// heights that follow each other, record headers, CRCs, the height sequence, and that the
    /// records the index's frontier says were fsynced are there. Damage before the frontier is
    /// `corrupt`, after it `tornWrite`. Stops at the first problem, which it throws.
    ///
    /// - Parameters:
    ///   - fullFrom: records below this height are walked over by their headers alone (no CRC).
    ///   - visit: called with each sound record, in order; return false to stop.
    @discardableResult
    public func walk(
        chainID: String, fullFrom: UInt64 = 1, _ visit: (LogRecord) throws(LogProblem) -> Bool
    ) throws(LogProblem) -> LogWalk {
        let frontier = frontier()
        var walk = LogWalk(chainID: chainID)
        for (index, segment) in segments.enumerated() {
            let scan = try self.scan(
                segment, chainID: chainID, isNewest: index == segments.count - 1, expectedStart: walk.lastHeight + 1,
                frontier: frontier, fullFrom: fullFrom, visit: visit)
            walk.scans.append(scan)
            if let last = scan.lastHeight { walk.lastHeight = last }
            if let problem = scan.problem { throw problem }
            if scan.stoppedEarly {
                walk.stoppedEarly = true
                return walk
            }
        }
        // Records the index says were fsynced must all be there.
        if let height = frontier.height,
            !segments.contains(where: { $0.startHeight == frontier.segmentStart && $0.size >= frontier.offset })
        {
            let segment = segments.first { $0.startHeight == frontier.segmentStart }
            throw LogProblem(
                .corrupt,
                "records that were fsynced (through height \(height), says the index) are missing: "
                    + (segment.map { "\($0.name) ends at offset \($0.size), before the frontier at offset \(frontier.offset)" }
                        ?? "there is no \(SegmentFormat.segmentName(startHeight: frontier.segmentStart))"),
                path: segment?.path ?? Path.join(path, SegmentFormat.segmentName(startHeight: frontier.segmentStart)),
                offset: segment?.size ?? frontier.offset, height: min(height, walk.lastHeight + 1))
        }
        return walk
    }

    /// Scans one segment: its header, then its records to the end or the first problem, which is
    /// recorded in the result. A visitor's problem is thrown.
    ///
    /// - Parameters:
    ///   - expectedStart: the height the segment must start at; nil to accept its header's.
    ///   - frontier: where damage stops being corruption and starts a torn tail.
    ///   - fullFrom: records from this height on are read in full and their CRC checked; below it
    ///     only their headers are read (the default reads headers only).
    ///   - visit: called with each sound record; return false to stop.
    public func scan(
        _ segment: Segment, chainID: String, isNewest: Bool, expectedStart: UInt64?, frontier: LogFrontier,
        fullFrom: UInt64 = .max, visit: (LogRecord) throws(LogProblem) -> Bool = { _ in true }
    ) throws(LogProblem) -> SegmentScan {
        var scan = SegmentScan(segment: segment)
        let headerSize = UInt64(SegmentFormat.segmentHeaderSize)
        let segmentInDoubt = frontier.inDoubt(segmentStart: segment.startHeight, offset: headerSize)
        let file: ReadOnlyFile
        let size: UInt64
        let start: UInt64
        do throws(LogProblem) {
            file = try ReadOnlyFile(segment.path)
            size = try file.size()
            let header = try file.read(at: 0, count: SegmentFormat.segmentHeaderSize)
            do {
                start = try SegmentFormat.parseSegmentHeader(header, chainID: chainID, path: segment.path)
            } catch {
                // A newest segment whose header never became durable: a crash while rolling.
                let complete = header.count == SegmentFormat.segmentHeaderSize && Self.be32(header, 92) == Zlib.crc32(header[0..<92])
                if isNewest, size <= headerSize, !complete {
                    throw LogProblem(
                        .tornWrite, "the newest segment's header was never completely written (\(size) bytes): a crash while rolling",
                        path: segment.path, offset: 0)
                }
                throw LogProblem(error)
            }
        } catch {
            scan.problem = error
            return scan
        }
        scan.startHeight = start
        guard start == segment.startHeight else {
            scan.problem = LogProblem(
                .corrupt, "the segment's header says start height \(start), its name \(segment.startHeight)",
                path: segment.path, offset: 8)
            return scan
        }
        if let expectedStart, start != expectedStart {
            let torn = expectedStart > 1 && segmentInDoubt
            scan.problem = LogProblem(
                torn ? .tornWrite : .corrupt,
                expectedStart == 1
                    ? "the first segment starts at height \(start), not 1"
                    : "the segment starts at height \(start) but the one before it ends at height \(expectedStart - 1)",
                path: segment.path, offset: 8, height: expectedStart)
            return scan
        }

        var offset = headerSize
        var expected = start
        while offset < size {
            let record: LogRecord
            do throws(LogProblem) {
                record = try readRecord(
                    file, segment: segment, at: offset, size: size, expectedHeight: expected,
                    inDoubt: frontier.inDoubt(segmentStart: segment.startHeight, offset: offset), withBytes: expected >= fullFrom)
            } catch {
                scan.problem = error
                return scan
            }
            let header = record.header
            scan.records += 1
            scan.firstHeight = scan.firstHeight ?? expected
            scan.lastHeight = expected
            scan.storedBytes += UInt64(header.storedLength)
            scan.inflatedBytes += UInt64(header.inflatedLength)
            if header.codec == .zlib { scan.compressedRecords += 1 }
            if let interval = indexInterval, (expected - 1) % interval == 0 { scan.offsets[expected] = offset }
            if try !visit(record) {
                scan.stoppedEarly = true
                return scan
            }
            offset += header.totalSize
            expected += 1
        }
        return scan
    }

    /// Reads and checks the record at `offset`: damage in the doubtful tail is `tornWrite`, as
    /// `SegmentLog.open` judges it, anything else `corrupt`.
    private func readRecord(
        _ file: ReadOnlyFile, segment: Segment, at offset: UInt64, size: UInt64, expectedHeight: UInt64, inDoubt: Bool,
        withBytes: Bool
    ) throws(LogProblem) -> LogRecord {
        let remaining = size - offset
        func problem(_ message: String) -> LogProblem {
            LogProblem(inDoubt ? .tornWrite : .corrupt, message, path: segment.path, offset: offset, height: expectedHeight)
        }
        guard remaining >= UInt64(SegmentFormat.recordHeaderSize) else {
            throw problem("the file ends \(remaining) bytes into a \(SegmentFormat.recordHeaderSize)-byte record header")
        }
        let headerBytes = try file.read(at: offset, count: SegmentFormat.recordHeaderSize)
        let header: SegmentFormat.RecordHeader
        do {
            header = try SegmentFormat.parseRecordHeader(headerBytes, path: segment.path, offset: offset)
        } catch {
            if headerBytes.allSatisfy({ $0 == 0 }) { throw problem("zeros where a record header belongs (space allocated but never written)") }
            throw problem("damaged record header: \(error.message)")
        }
        guard header.totalSize <= remaining else {
            throw problem("the record runs past the end of the file: \(remaining) of its \(header.totalSize) bytes are there")
        }
        var stored: [UInt8] = []
        if withBytes {
            stored = try file.read(at: offset + UInt64(SegmentFormat.recordHeaderSize), count: Int(header.storedLength))
            guard SegmentFormat.checksumMatches(header, headerBytes: headerBytes, stored: stored) else {
                throw problem("the record's CRC does not match")
            }
        }
        guard header.height == expectedHeight else {
            throw problem("a record of height \(header.height) where height \(expectedHeight) belongs")
        }
        return LogRecord(segment: segment, offset: offset, header: header, stored: stored)
    }

    static func be32(_ bytes: [UInt8], _ at: Int) -> UInt32 { bytes[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
}
