import MedLedgerWire

extension SegmentLog {
    /// Opens (or creates) the log in `directory`, recovering a torn last write (Protocol/LOG.md section 7).
    ///
    /// - Throws: `corrupt` naming file, offset and height when a record before the tail is damaged
    ///   (the node must not start: see ``repair(directory:chainID:truncateAfter:fileSystem:)``);
    ///   `wrongFormat` for a segment of another chain or format.
    public static func open(
        directory: String, chainID: String, options: Options = Options(), fileSystem: any FileSystem = PosixFileSystem()
    ) throws(StoreError) -> (log: SegmentLog, report: RecoveryReport) {
        try fileSystem.createDirectoryDurably(directory)
        // Again even if it existed: a process that died between mkdir and the parent's fsync left
        // a directory whose name is not yet durable.
        try fileSystem.syncDirectory(Path.directory(of: directory))
        var (segments, tornRoll) = try listSegments(directory: directory, chainID: chainID, fileSystem: fileSystem)
        if segments.isEmpty {
            let path = Path.join(directory, SegmentFormat.segmentName(startHeight: 1))
            let file = try fileSystem.open(path, create: true)
            let header = SegmentFormat.segmentHeader(startHeight: 1, chainID: chainID)
            try file.truncate(to: 0)
            try file.write(header, at: 0)
            try file.sync()
            try fileSystem.syncDirectory(directory)
            segments = [Segment(startHeight: 1, path: path, file: file, size: UInt64(header.count))]
        }
        guard segments[0].startHeight == 1 else {
            throw StoreError(.corrupt, "the first segment starts at height \(segments[0].startHeight), not 1", path: segments[0].path)
        }

        // The index, if it is sound; else it is rebuilt by the scan below from the first segment.
        var report = RecoveryReport(tornTail: tornRoll, indexRebuilt: false, segments: segments.count, lastHeight: 0)
        let indexPath = Path.join(directory, SegmentIndex.fileName)
        var index = (try? fileSystem.readAll(indexPath)).flatMap(SegmentIndex.decode)
        if let candidate = index {
            // An intact index that names a segment no longer there means fsynced blocks are gone.
            let present = Set(segments.map(\.startHeight))
            for start in candidate.entries.map(\.segmentStart) + [candidate.frontier.segmentStart] where !present.contains(start) {
                throw StoreError(
                    .corrupt, "segment \(SegmentFormat.segmentName(startHeight: start)), which the index says holds fsynced blocks, is missing",
                    path: Path.join(directory, SegmentFormat.segmentName(startHeight: start)))
            }
            if !indexIsSound(candidate, segments: segments) { index = nil }
        }
        // A sound index's frontier holds even if its entries are rebuilt for another interval.
        let knownFrontier = index?.frontier
        if index == nil || index!.interval != options.indexInterval {
            index = SegmentIndex(interval: options.indexInterval)
            report.indexRebuilt = true
        }
        var rebuilt = index!
        // Up to the frontier every record was fsynced: damage there is corruption. After it, writes
        // may have been lost, torn or reordered by the crash: the first damage there starts a torn
        // tail. Without an index, only the last segment is in doubt.
        let frontier: (segment: Int, offset: UInt64)
        if let known = knownFrontier {
            guard let at = segments.firstIndex(where: { $0.startHeight == known.segmentStart }), known.offset <= segments[at].size
            else {
                throw StoreError(
                    .corrupt, "records that were fsynced (through height \(known.height)) are missing from the segments",
                    path: Path.join(directory, SegmentFormat.segmentName(startHeight: known.segmentStart)),
                    offset: known.offset, height: known.height)
            }
            frontier = (at, known.offset)
        } else {
            frontier = (segments.count - 1, UInt64(SegmentFormat.segmentHeaderSize))
        }

        // Scan from the last index entry (or the beginning) to the end, checking every record.
        var position: (segment: Int, offset: UInt64, height: UInt64)
        if let last = rebuilt.entries.last, let at = segments.firstIndex(where: { $0.startHeight == last.segmentStart }) {
            position = (at, last.offset, last.height)
        } else {
            position = (0, UInt64(SegmentFormat.segmentHeaderSize), 1)
        }
        var lastHeight = position.height - 1
        var lastRecord: (segment: Int, offset: UInt64)?
        scan: while position.segment < segments.count {
            let segment = segments[position.segment]
            if position.offset == UInt64(SegmentFormat.segmentHeaderSize), segment.startHeight != position.height {
                let inDoubt = (position.segment, position.offset) >= frontier
                if !inDoubt {
                    throw StoreError(
                        .corrupt, "segment starts at height \(segment.startHeight) but the previous one ends at \(position.height - 1)",
                        path: segment.path, height: position.height)
                }
                // A segment rolled in the doubtful tail whose predecessor lost records: set it aside whole.
                report.tornTail = try quarantineSegments(segments[position.segment...], directory: directory, fileSystem: fileSystem)
                segments.removeSubrange(position.segment...)
                break scan
            }
            while position.offset < segment.size {
                let inDoubt = (position.segment, position.offset) >= frontier
                switch try checkRecord(segment, at: position.offset, expectedHeight: position.height, inDoubt: inDoubt) {
                case .valid(let size):
                    rebuilt.note(height: position.height, segmentStart: segment.startHeight, offset: position.offset)
                    lastRecord = (position.segment, position.offset)
                    lastHeight = position.height
                    position.offset += size
                    position.height += 1
                case .torn:
                    report.tornTail = try quarantineTail(segments[position.segment...], fromOffset: position.offset, directory: directory, fileSystem: fileSystem)
                    segments[position.segment].size = position.offset
                    segments.removeSubrange((position.segment + 1)...)
                    break scan
                }
            }
            position = (position.segment + 1, UInt64(SegmentFormat.segmentHeaderSize), position.height)
        }
        rebuilt.frontier = SegmentIndex.Entry(
            height: lastHeight, segmentStart: segments[segments.count - 1].startHeight, offset: segments[segments.count - 1].size)

        // The hash of the last block, so that appends can check their link.
        var lastHash = Bytes32.zero
        if let lastRecord {
            let segment = segments[lastRecord.segment]
            let headerBytes = try segment.file.read(at: lastRecord.offset, count: SegmentFormat.recordHeaderSize)
            let header = try SegmentFormat.parseRecordHeader(headerBytes, path: segment.path, offset: lastRecord.offset)
            let stored = try segment.file.read(at: lastRecord.offset + UInt64(SegmentFormat.recordHeaderSize), count: Int(header.storedLength))
            lastHash = try SegmentFormat.decodeRecord(header, stored: stored, path: segment.path, offset: lastRecord.offset).block.header.hash
        }
        report.lastHeight = lastHeight
        report.segments = segments.count
        let log = SegmentLog(
            directory: directory, chainID: chainID, options: options, fileSystem: fileSystem,
            state: State(segments: segments, index: rebuilt, lastHeight: lastHeight, acceptedHeight: lastHeight, acceptedHash: lastHash))
        // Always: the index's frontier must say that everything found here is durable.
        try log.writeIndex(rebuilt)
        return (log, report)
    }

    /// The segments, oldest first. A newest segment whose header never became durable (a crash
    /// while rolling: nothing can follow an unsynced header) is moved to `quarantine/` and reported.
    static func listSegments(
        directory: String, chainID: String, fileSystem: any FileSystem
    ) throws(StoreError) -> ([Segment], (path: String, offset: UInt64, bytes: UInt64, quarantinedTo: String)?) {
        var found: [(UInt64, String)] = []
        for name in try fileSystem.list(directory) {
            guard let start = SegmentFormat.startHeight(ofSegmentNamed: name) else { continue }
            found.append((start, Path.join(directory, name)))
        }
        found.sort { $0.0 < $1.0 }
        var segments: [Segment] = []
        var tornRoll: (path: String, offset: UInt64, bytes: UInt64, quarantinedTo: String)?
        for (position, (start, path)) in found.enumerated() {
            let file = try fileSystem.open(path, create: false)
            let size = try file.size()
            let header = try file.read(at: 0, count: SegmentFormat.segmentHeaderSize)
            do throws(StoreError) {
                let declared = try SegmentFormat.parseSegmentHeader(header, chainID: chainID, path: path)
                guard declared == start else {
                    throw StoreError(.corrupt, "the segment's header says height \(declared), its name \(start)", path: path, offset: 8)
                }
            } catch {
                let isNewest = position == found.count - 1
                // A complete header with a good CRC is what its writer meant: refuse it as it is.
                let complete = header.count == SegmentFormat.segmentHeaderSize
                    && SegmentFormat.be32(header, 92) == Zlib.crc32(header[0..<92])
                guard isNewest, size <= UInt64(SegmentFormat.segmentHeaderSize), !complete else { throw error }
                let segment = Segment(startHeight: start, path: path, file: file, size: size)
                tornRoll = try quarantineSegments([segment][...], directory: directory, fileSystem: fileSystem)
                continue
            }
            segments.append(Segment(startHeight: start, path: path, file: file, size: size))
        }
        return (segments, tornRoll)
    }

    static func indexIsSound(_ index: SegmentIndex, segments: [Segment]) -> Bool {
        for entry in index.entries {
            guard let segment = segments.first(where: { $0.startHeight == entry.segmentStart }),
                entry.height >= segment.startHeight, entry.offset >= UInt64(SegmentFormat.segmentHeaderSize),
                entry.offset + UInt64(SegmentFormat.recordHeaderSize) <= segment.size
            else { return false }
        }
        // The last entry must land on the header of its record.
        guard let last = index.entries.last else { return true }
        guard let segment = segments.first(where: { $0.startHeight == last.segmentStart }),
            let bytes = try? segment.file.read(at: last.offset, count: SegmentFormat.recordHeaderSize),
            let header = try? SegmentFormat.parseRecordHeader(bytes, path: segment.path, offset: last.offset)
        else { return false }
        return header.height == last.height
    }

    enum RecordCheck {
        case valid(size: UInt64)
        case torn
    }

    /// Reads and checks one record in full. At the end of the last segment, damage that a torn
    /// write explains is `.torn`; anything else is thrown as corruption.
    static func checkRecord(
        _ segment: Segment, at offset: UInt64, expectedHeight: UInt64, inDoubt: Bool
    ) throws(StoreError) -> RecordCheck {
        let remaining = segment.size - offset
        func corrupt(_ why: String, height: UInt64? = nil) -> StoreError {
            StoreError(.corrupt, why, path: segment.path, offset: offset, height: height ?? expectedHeight)
        }
        guard remaining >= UInt64(SegmentFormat.recordHeaderSize) else {
            if inDoubt { return .torn }
            throw corrupt("the segment ends inside a record header")
        }
        let headerBytes = try segment.file.read(at: offset, count: SegmentFormat.recordHeaderSize)
        let header: SegmentFormat.RecordHeader
        do {
            header = try SegmentFormat.parseRecordHeader(headerBytes, path: segment.path, offset: offset)
        } catch {
            if inDoubt { return .torn }
            throw corrupt("damaged record header: \(error.message)")
        }
        if header.totalSize > remaining {
            if inDoubt { return .torn }
            throw corrupt("the record runs past the end of the segment", height: header.height)
        }
        let stored = try segment.file.read(at: offset + UInt64(SegmentFormat.recordHeaderSize), count: Int(header.storedLength))
        guard SegmentFormat.checksumMatches(header, headerBytes: headerBytes, stored: stored) else {
            if inDoubt { return .torn }
            throw corrupt("the record's CRC does not match", height: header.height)
        }
        guard header.height == expectedHeight else {
            if inDoubt { return .torn }
            throw corrupt("record of height \(header.height) where \(expectedHeight) belongs", height: header.height)
        }
        return .valid(size: header.totalSize)
    }

    /// Copies the first segment's bytes from `offset` to the end into `quarantine/` and truncates
    /// it there; later segments move to `quarantine/` whole (a segment cut to its header is kept).
    static func quarantineTail(
        _ segments: ArraySlice<Segment>, fromOffset offset: UInt64, directory: String, fileSystem: any FileSystem
    ) throws(StoreError) -> (path: String, offset: UInt64, bytes: UInt64, quarantinedTo: String) {
        let segment = segments.first!
        let tail = try segment.file.read(at: offset, count: Int(segment.size - offset))
        let quarantine = Path.join(directory, "quarantine")
        try fileSystem.createDirectoryDurably(quarantine)
        let target = Path.join(quarantine, Path.name(of: segment.path) + ".tail-\(offset)")
        try fileSystem.writeAtomically(tail, to: target)
        try segment.file.truncate(to: offset)
        try segment.file.sync()
        var bytes = UInt64(tail.count)
        for later in segments.dropFirst() {
            bytes += (try? later.file.size()) ?? 0
            later.file.close()
            try fileSystem.rename(later.path, to: Path.join(quarantine, Path.name(of: later.path)))
        }
        if segments.count > 1 { try fileSystem.syncDirectory(directory) }
        return (segment.path, offset, bytes, target)
    }

    /// Moves whole segments to `quarantine/`.
    static func quarantineSegments(
        _ segments: ArraySlice<Segment>, directory: String, fileSystem: any FileSystem
    ) throws(StoreError) -> (path: String, offset: UInt64, bytes: UInt64, quarantinedTo: String) {
        let quarantine = Path.join(directory, "quarantine")
        try fileSystem.createDirectoryDurably(quarantine)
        var bytes: UInt64 = 0
        for segment in segments {
            bytes += (try? segment.file.size()) ?? 0
            segment.file.close()
            try fileSystem.rename(segment.path, to: Path.join(quarantine, Path.name(of: segment.path)))
        }
        try fileSystem.syncDirectory(directory)
        let first = segments.first!
        return (first.path, 0, bytes, Path.join(quarantine, Path.name(of: first.path)))
    }

    /// Cuts the log after `height`: every later record is copied to `quarantine/` first, later
    /// segments are moved there whole, and the index is rebuilt on the next open. For an operator
    /// whose log is corrupt past some height (`medledger-inspect log verify` names it).
    public static func repair(
        directory: String, chainID: String, truncateAfter height: UInt64, fileSystem: any FileSystem = PosixFileSystem()
    ) throws(StoreError) -> [String] {
        let (segments, _) = try listSegments(directory: directory, chainID: chainID, fileSystem: fileSystem)
        defer { segments.forEach { $0.file.close() } }
        guard let keep = segments.lastIndex(where: { $0.startHeight <= height + 1 }) else {
            throw StoreError(.notFound, "no segment holds height \(height + 1)", path: directory)
        }
        var moved: [String] = []
        let quarantine = Path.join(directory, "quarantine")
        try fileSystem.createDirectoryDurably(quarantine)
        for segment in segments[(keep + 1)...] {
            let target = Path.join(quarantine, Path.name(of: segment.path))
            try fileSystem.rename(segment.path, to: target)
            moved.append(target)
        }
        let segment = segments[keep]
        var offset = UInt64(SegmentFormat.segmentHeaderSize)
        var current = segment.startHeight
        while current <= height, offset < segment.size {
            let bytes = try segment.file.read(at: offset, count: SegmentFormat.recordHeaderSize)
            let header = try SegmentFormat.parseRecordHeader(bytes, path: segment.path, offset: offset)
            guard header.height == current else {
                throw StoreError(.corrupt, "cannot walk to height \(height): found \(header.height) at this offset", path: segment.path, offset: offset)
            }
            offset += header.totalSize
            current += 1
        }
        if offset < segment.size {
            moved.append(try quarantineTail(segments[keep...keep], fromOffset: offset, directory: directory, fileSystem: fileSystem).quarantinedTo)
        }
        let indexPath = Path.join(directory, SegmentIndex.fileName)
        if fileSystem.exists(indexPath) { try fileSystem.remove(indexPath) }
        try fileSystem.syncDirectory(directory)
        return moved
    }
}
