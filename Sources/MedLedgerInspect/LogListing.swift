import MedLedgerStore
import MedLedgerWire

/// `medledger-inspect log ls`: the segments, the index and the quarantine, from record headers
/// alone (quick on a large log; `log verify` reads everything).
///
/// Damage does not stop the listing: each segment is scanned on its own and its first problem is
/// shown under it.
public struct LogListing: Sendable {
    public var directory: LogDirectory
    /// The first segment's chain id, if its header can be read.
    public var chainID: String?
    public var scans: [SegmentScan]
    /// Gaps or overlaps between segments, by segment name.
    public var sequenceProblems: [String: String]
    public var index: LogIndexStatus

    public init(_ directory: LogDirectory) {
        self.directory = directory
        let chainID = directory.storedChainID()
        self.chainID = chainID
        var scans: [SegmentScan] = []
        var sequenceProblems: [String: String] = [:]
        var nextHeight: UInt64? = 1
        let frontier = directory.frontier()
        for (position, segment) in directory.segments.enumerated() {
            // Reading headers never fails through a visitor, so this does not throw.
            let scan =
                (try? directory.scan(
                    segment, chainID: chainID ?? "", isNewest: position == directory.segments.count - 1, expectedStart: nil,
                    frontier: frontier))
                ?? SegmentScan(segment: segment)
            if let start = scan.startHeight, let expected = nextHeight, start != expected {
                sequenceProblems[segment.name] =
                    expected == 1
                    ? "the first segment starts at height \(start), not 1"
                    : start > expected
                        ? "gap: heights \(expected) to \(start - 1) are in no segment"
                        : "overlap: it starts at height \(start), but the segment before it reaches height \(expected - 1)"
            }
            nextHeight = scan.problem == nil ? scan.lastHeight.map { $0 + 1 } ?? scan.startHeight : nil
            scans.append(scan)
        }
        self.scans = scans
        self.sequenceProblems = sequenceProblems
        index = LogIndexStatus.check(directory, scans: scans)
    }

    public var text: String {
        let first = scans.compactMap(\.firstHeight).min()
        let last = scans.compactMap(\.lastHeight).max()
        let records = scans.reduce(0) { $0 + $1.records }
        let range = first.map { "heights \($0) to \(last!), " } ?? "no records, "
        var lines = LogText.fields([
            ("log", directory.path),
            ("chain", chainID ?? "unknown (the first segment's header is unreadable)"),
            (
                "segments",
                "\(directory.segments.count): \(range)\(LogText.count(records, "record")), \(directory.segmentBytes) bytes"
            ),
        ])
        lines.append("")
        var rows = [["segment", "heights", "bytes", "records", "zlib", "stored", "inflated", "ratio"]]
        var notes: [Int: [String]] = [:]
        for scan in scans {
            rows.append([
                scan.segment.name, LogText.heights(scan.firstHeight, scan.lastHeight), String(scan.segment.size),
                String(scan.records), String(scan.compressedRecords), String(scan.storedBytes), String(scan.inflatedBytes),
                LogText.ratio(inflated: scan.inflatedBytes, stored: scan.storedBytes),
            ])
            var segmentNotes: [String] = []
            if let sequence = sequenceProblems[scan.segment.name] { segmentNotes.append("    ! \(sequence)") }
            if let problem = scan.problem {
                var place: [String] = []
                if let offset = problem.offset { place.append("offset \(offset)") }
                if let height = problem.height { place.append("height \(height)") }
                let at = place.isEmpty ? "" : " (\(place.joined(separator: ", ")))"
                segmentNotes.append("    ! \(problem.kind.rawValue): \(LogText.safe(problem.message))\(at)")
            }
            notes[rows.count - 1] = segmentNotes
        }
        for (row, line) in LogText.table(rows, right: [2, 3, 4, 5, 6, 7], indent: "  ").enumerated() {
            lines.append(line)
            lines += notes[row] ?? []
        }
        lines.append("")
        let quarantineBytes = directory.quarantine.reduce(0) { $0 + $1.size }
        lines += LogText.fields([
            ("index", "\(SegmentIndex.fileName) \(index.text)"),
            (
                "quarantine",
                directory.quarantine.isEmpty
                    ? "empty"
                    : "\(LogText.count(directory.quarantine.count, "file")), \(quarantineBytes) bytes cut off by recovery or repair (never read back)"
            ),
        ])
        if !directory.quarantine.isEmpty {
            let rows = directory.quarantine.map { [LogText.safe($0.name), "\($0.size) bytes"] }
            lines += LogText.table(rows, right: [1], indent: "  ")
        }
        lines.append("")
        lines.append("(from record headers only: `medledger-inspect log verify` checks every CRC, block and certificate)")
        return lines.joined(separator: "\n")
    }
}

/// `medledger-inspect log stats`: what the log holds, by the numbers.
public struct LogStats: Sendable {
    public var directory: String
    public var chainID: String
    public var segments: Int
    /// The segment files' total size.
    public var fileBytes: UInt64
    public var blocks: UInt64 = 0
    public var firstTime: UInt64?
    public var lastTime: UInt64?
    /// Transactions by type name, in type code order (unknown codes last).
    public var transactionsByType: [(name: String, count: Int)] = []
    public var transactions = 0
    public var evidence = 0
    /// The records' stored bytes (headers not included) and their inflated lengths.
    public var storedBytes: UInt64 = 0
    public var inflatedBytes: UInt64 = 0
    public var compressedRecords = 0

    /// Reads every block of the log.
    ///
    /// - Throws: ``LogProblem`` at the first damaged record.
    public init(_ directory: LogDirectory) throws(LogProblem) {
        self.directory = directory.path
        chainID = try directory.chainID()
        segments = directory.segments.count
        fileBytes = directory.segmentBytes
        var counts: [UInt16: Int] = [:]
        var blocks: UInt64 = 0
        var firstTime: UInt64?
        var lastTime: UInt64?
        var transactions = 0
        var evidence = 0
        let walk = try directory.walk(chainID: chainID) { record throws(LogProblem) -> Bool in
            let block = try record.block().block
            blocks += 1
            firstTime = firstTime ?? block.header.time
            lastTime = block.header.time
            transactions += block.transactions.count
            evidence += block.evidence.count
            for transaction in block.transactions { counts[transaction.txType, default: 0] += 1 }
            return true
        }
        self.blocks = blocks
        self.firstTime = firstTime
        self.lastTime = lastTime
        self.transactions = transactions
        self.evidence = evidence
        transactionsByType = counts.keys.sorted().map { code in
            (LogDump.typeName(code) ?? "unknown type \(code)", counts[code]!)
        }
        for scan in walk.scans {
            storedBytes += scan.storedBytes
            inflatedBytes += scan.inflatedBytes
            compressedRecords += scan.compressedRecords
        }
    }

    public var ratio: String { LogText.ratio(inflated: inflatedBytes, stored: storedBytes) }

    public var text: String {
        var pairs: [(String, String)] = [
            ("log", directory),
            ("chain", chainID),
            ("blocks", blocks == 0 ? "none, in \(LogText.count(segments, "segment"))" : "\(blocks), heights 1 to \(blocks), in \(LogText.count(segments, "segment"))"),
        ]
        if let firstTime, let lastTime {
            pairs.append(("time", "\(LogText.isoTime(ms: firstTime)) to \(LogText.isoTime(ms: lastTime))"))
        }
        pairs.append(("transactions", String(transactions)))
        let records = Int(blocks)
        let after: [(String, String)] = [
            ("evidence", String(evidence)),
            ("on disk", "\(fileBytes) bytes in segment files (\(SegmentFormat.segmentHeaderSize)-byte segment headers, \(SegmentFormat.recordHeaderSize)-byte record headers)"),
            ("stored", "\(storedBytes) bytes of records: \(compressedRecords) zlib, \(records - compressedRecords) stored as is"),
            ("inflated", "\(inflatedBytes) bytes of canonical blocks"),
            ("ratio", "\(ratio) (inflated / stored)"),
        ]
        let width = (pairs + after).map(\.0.count).max()
        var lines = LogText.fields(pairs, width: width)
        lines += LogText.table(transactionsByType.map { [$0.name, String($0.count)] }, right: [1], indent: "  ")
        lines += LogText.fields(after, width: width)
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        .object([
            ("chain_id", .string(chainID)), ("segments", .int(segments)), ("blocks", .int(blocks)),
            ("first_time", firstTime.map { .int($0) } ?? .null), ("last_time", lastTime.map { .int($0) } ?? .null),
            ("transactions", .int(transactions)),
            ("transactions_by_type", .object(transactionsByType.map { ($0.name, .int($0.count)) })),
            ("evidence", .int(evidence)), ("file_bytes", .int(fileBytes)), ("stored_bytes", .int(storedBytes)),
            ("inflated_bytes", .int(inflatedBytes)), ("compressed_records", .int(compressedRecords)),
        ])
    }
}
