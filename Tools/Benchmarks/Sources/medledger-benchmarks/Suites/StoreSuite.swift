import Dispatch
import Foundation
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#endif

/// What the store suite writes and where.
struct StoreOptions: Sendable {
    /// Blocks appended per sample of the append figures.
    var blocks = 1000
    var transactionsPerBlock = 200
    /// Size of the log whose open time is measured, in MiB (1 MiB = 2^20 bytes).
    var logMiB = 1024
    /// Where to build (and keep, and reuse on the next run) the large log; nil: a temporary
    /// directory, removed at the end.
    var logDirectory: String?
    /// Where the temporary directory goes.
    var parent = "/tmp"
    /// Which figures: append, read, open.
    var parts: Set<String> = ["append", "read", "open"]
    /// The log's default zlib level (SegmentLog.Options).
    var compressionLevel: Int32 = SegmentLog.Options().compressionLevel
}

/// Suite 4: the segment log on the real file system (PosixFileSystem, a temporary directory).
///
/// Append: `blocks` realistic blocks (StoreChain) submitted back to back and their tickets waited
/// on, so that group commit batches them, on a fresh log per sample; in the same rounds, what
/// bounds it: zlib deflate of the same canonical bytes on one thread (the log compresses on the
/// submitting thread) and on every core, `encodeRecord` alone, the append at level 0 and with
/// fsync a no-op; then pwrite + fsync of the same bytes as often as the log's group commits
/// fsynced. Each sample also records the process's CPU time and the timing thread's preemptions,
/// which tell work from waiting on a shared machine.
///
/// Open: a log of about `logMiB` MiB written uncompressed (level 0, so that the files really are
/// that large), built once, opened with its index intact and with `index.mlidx` deleted (rebuilt
/// by reading every record and checking its CRC), with the files' pages in the page cache and
/// evicted with `posix_fadvise(DONTNEED)` (cold; only this log's pages).
///
/// Read: every height in order, `read(height:)` alone (CRC, inflate, strict decode) and with the
/// checks of a full verification on top (hash link, the certificate's block hash,
/// `last_commit_hash`, `transactions_root`), on the appended level-6 log and on the large one.
struct StoreSuite {
    let workload: Workload
    let options: MeasureOptions
    let store: StoreOptions

    struct Row {
        let step: String
        let timing: Timing
        /// The process's CPU time in each sample, where it tells something.
        var cpu: Timing? = nil
        var preempted: [Int]? = nil
        /// Block bytes before compression and blocks, per operation.
        let bytes: Int
        let blocks: Int
    }

    func run() throws {
        let scratch = try Self.temporaryDirectory(under: store.parent)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let level = store.compressionLevel

        // The blocks, their canonical bytes and their records, checked before anything is timed.
        var chain = StoreChain(workload: workload, transactionsPerBlock: store.transactionsPerBlock)
        let blocks = chain.next(store.blocks)
        let canonical = blocks.map(\.canonicalBytes)
        let records = blocks.map { SegmentFormat.encodeRecord($0, compressionLevel: level).bytes }
        let blockBytes = canonical.reduce(0) { $0 + $1.count }
        let recordBytes = records.reduce(0) { $0 + $1.count }
        let decoded = try CommittedBlock(canonicalBytes: canonical[0])
        precondition(decoded == blocks[0], "a block does not round-trip")
        var previous = Bytes32.zero
        for (index, block) in blocks.enumerated() {
            guard let hash = StoreChain.verify(block, height: UInt64(index + 1), previousHash: previous) else {
                preconditionFailure("the benchmark chain does not verify at height \(index + 1)")
            }
            previous = hash
        }
        let count = blocks.count
        print(
            """

            4. Store: the segment log on the real file system (PosixFileSystem, \(scratch)), \
            \(ProcessInfoCores.active) cores active
               blocks of \(store.transactionsPerBlock) signed grant_consent transactions, a 4-signature \
            last_commit and certificate:
               \(Format.grouped(count)) blocks, \(Format.megabytes(blockBytes)) canonical \
            (\(Format.grouped(blockBytes / count)) bytes a block), \(Format.megabytes(recordBytes)) as \
            level-\(level) records (\(Format.ratio(Double(blockBytes) / Double(recordBytes))) smaller)
               MB/s and blocks/s count block bytes before compression (MB = 10^6 bytes) in every row, so \
            rows compare as blocks per second; CPU: the benchmark process's, all threads, user and system;
               preempted: involuntary context switches of the timing (and submitting) thread, median
            """)

        let appendPath = Path.join(scratch, "append")
        if store.parts.contains("append") {
            try appendFigures(blocks: blocks, canonical: canonical, records: records, at: appendPath)
        }
        if store.parts.contains("read") {
            try readFigures(blocks: blocks, recordBytes: recordBytes, at: appendPath)
        }
        try? FileManager.default.removeItem(atPath: appendPath)
        if store.parts.contains("open") {
            try largeLogFigures(at: store.logDirectory ?? Path.join(scratch, "large"))
        }
    }

    /// Append and what bounds it, sampled round-robin (one sample of each case per round), so that
    /// load from other processes falls on every case alike. Leaves the last level-`level` log in
    /// `path`.
    func appendFigures(blocks: [CommittedBlock], canonical: [[UInt8]], records: [[UInt8]], at path: String) throws {
        let chainID = workload.chainID
        let level = store.compressionLevel
        let count = blocks.count
        let blockBytes = canonical.reduce(0) { $0 + $1.count }
        /// What each sample of an append case saw besides its time.
        final class Counts {
            var syncs: [UInt64] = []
            /// The submit loop alone (wall), the submitting thread's CPU time in it, and the wait after it.
            var submitting: [Double] = []
            var submittingCPU: [Double] = []
            var draining: [Double] = []
            var switches: [(voluntary: Int, involuntary: Int)] = []
        }
        let appendCounts = Counts()
        let storedCounts = Counts()
        func appendCase(level: Int32, fileSystem: any FileSystem, counts: Counts?) -> () throws -> Sample {
            {
                try? FileManager.default.removeItem(atPath: path)
                let log = try SegmentLog.open(
                    directory: path, chainID: chainID, options: SegmentLog.Options(compressionLevel: level),
                    fileSystem: fileSystem
                ).log
                let threadCPUStart = threadCPUSeconds()
                let switchesStart = threadContextSwitches()
                let start = now()
                let stop = stopwatch()
                var tickets: [SegmentLog.AppendTicket] = []
                tickets.reserveCapacity(blocks.count)
                for block in blocks { tickets.append(try log.submit(block)) }
                let submitted = now()
                let cpu = threadCPUSeconds() - threadCPUStart
                let switchesEnd = threadContextSwitches()
                for ticket in tickets { try ticket.wait() }
                let sample = stop()
                let end = now()
                precondition(log.lastHeight == UInt64(blocks.count), "not every block was appended")
                counts?.syncs.append(log.syncCount)
                counts?.submitting.append(seconds(from: start, to: submitted))
                counts?.submittingCPU.append(cpu)
                counts?.draining.append(seconds(from: submitted, to: end))
                counts?.switches.append(
                    (
                        switchesEnd.voluntary - switchesStart.voluntary,
                        switchesEnd.involuntary - switchesStart.involuntary
                    ))
                log.close()
                return sample
            }
        }
        func cpuCase(_ body: @escaping () -> Void) -> () throws -> Sample {
            {
                let stop = stopwatch()
                body()
                return stop()
            }
        }
        var timings = try roundRobin([
            cpuCase { for block in blocks { blackHole(block.canonicalBytes) } },
            cpuCase { for bytes in canonical { blackHole(Zlib.deflate(bytes, level: level)) } },
            cpuCase {
                // Every core deflating its share of the blocks: what a parallel compression stage could reach.
                let cores = ProcessInfoCores.active
                DispatchQueue.concurrentPerform(iterations: cores) { part in
                    for index in stride(from: part, to: canonical.count, by: cores) {
                        blackHole(Zlib.deflate(canonical[index], level: level))
                    }
                }
            },
            cpuCase { for block in blocks { blackHole(SegmentFormat.encodeRecord(block, compressionLevel: level)) } },
            appendCase(level: 0, fileSystem: PosixFileSystem(), counts: storedCounts),
            appendCase(level: level, fileSystem: NoSyncFileSystem(), counts: nil),
            appendCase(level: level, fileSystem: PosixFileSystem(), counts: appendCounts),
        ])
        // Without the warm-up runs' counts.
        let warmups = max(1, options.warmups)
        let syncs = Array(appendCounts.syncs.dropFirst(warmups))
        let storedSyncCounts = Array(storedCounts.syncs.dropFirst(warmups))
        func medianCount(_ values: [Int]) -> String {
            let sorted = values.dropFirst(warmups).sorted()
            return Format.grouped(sorted[sorted.count / 2])
        }
        func medianSeconds(_ values: [Double]) -> String {
            let sorted = values.dropFirst(warmups).sorted()
            return Format.duration(sorted[sorted.count / 2])
        }
        // The raw writes fsync as often as the log's group commits did (the median sample's count).
        let batch = max(1, Int((Double(count) / median(syncs)).rounded()))
        let rawPath = Path.join(path + "-raw", "file")
        let fileSystem = PosixFileSystem()
        try fileSystem.createDirectory(path + "-raw")
        defer { try? FileManager.default.removeItem(atPath: path + "-raw") }
        func rawWriteCase(_ chunks: [[UInt8]]) -> () throws -> Sample {
            {
                if fileSystem.exists(rawPath) { try fileSystem.remove(rawPath) }
                let file = try fileSystem.open(rawPath, create: true)
                defer { file.close() }
                let stop = stopwatch()
                var offset: UInt64 = 0
                for (index, chunk) in chunks.enumerated() {
                    try file.write(chunk, at: offset)
                    offset += UInt64(chunk.count)
                    if (index + 1) % batch == 0 || index == chunks.count - 1 { try file.sync() }
                }
                return stop()
            }
        }
        timings += try roundRobin([rawWriteCase(canonical), rawWriteCase(records)])
        let steps = [
            "CommittedBlock.canonicalBytes alone (encode)",
            "zlib deflate level \(level) of the canonical bytes, one thread (the bound)",
            "zlib deflate level \(level), the blocks shared by \(ProcessInfoCores.active) threads",
            "SegmentFormat.encodeRecord: encode + deflate + CRC (what submit does)",
            "append level 0 (stored, no deflate): submit all + wait",
            "append level \(level), fsync a no-op (not durable: the fsyncs' cost)",
            "append level \(level): submit all + wait, group commit",
            "pwrite + fsync of the canonical bytes, \(batch) blocks per fsync",
            "pwrite + fsync of the level-\(level) records, \(batch) blocks per fsync",
        ]
        print("")
        print(
            Self.table(
                zip(steps, timings).map {
                    Row(
                        step: $0, timing: $1.wall, cpu: $1.cpu, preempted: $1.preempted, bytes: blockBytes,
                        blocks: count)
                }))
        print(
            """

              fsyncs per sample of \(Format.grouped(count)) appends (group commits): level \(level) \
            \(syncs.min()!)-\(syncs.max()!), median \(Format.fixed(median(syncs), 0)); level 0 \
            \(storedSyncCounts.min()!)-\(storedSyncCounts.max()!)
              append level \(level), medians: the submit loop \(medianSeconds(appendCounts.submitting)) \
            (the submitting thread's CPU time in it \(medianSeconds(appendCounts.submittingCPU))), then waiting \
            for the last group commit \(medianSeconds(appendCounts.draining)); the submitting thread blocked \
            \(medianCount(appendCounts.switches.map(\.voluntary))) times and was preempted \
            \(medianCount(appendCounts.switches.map(\.involuntary))) times in the loop

            """)
        let appended = timings[6].wall
        var ratios = Table([
            ("append level \(level) vs", .left), ("best", .right), ("median", .right), ("paired median", .right),
            ("target", .right),
        ])
        func ratio(_ label: String, _ bound: Timing, target: Double?) {
            let best = bound.best / appended.best
            let median = bound.median / appended.median
            let paired = zip(bound.samples, appended.samples).map { $0 / $1 }.sorted()[appended.samples.count / 2]
            let verdict = target.map {
                min(best, median) >= $0 ? ">= \(Format.ratio($0)): met" : ">= \(Format.ratio($0)): NOT met"
            }
            ratios.add([label, Format.ratio(best), Format.ratio(median), Format.ratio(paired), verdict ?? ""])
        }
        ratio("raw zlib deflate, blocks/s", timings[1].wall, target: 0.8)
        ratio("encodeRecord, blocks/s", timings[3].wall, target: nil)
        ratio("pwrite + fsync of the canonical bytes, blocks/s", timings[7].wall, target: nil)
        print(ratios.render())
        print("  (paired: the ratio within each round, then the median over the rounds)")
    }

    /// Every height of the level-`level` log read in order (built untimed if the append figures
    /// did not run).
    func readFigures(blocks: [CommittedBlock], recordBytes: Int, at path: String) throws {
        let level = store.compressionLevel
        let (log, _) = try SegmentLog.open(
            directory: path, chainID: workload.chainID, options: SegmentLog.Options(compressionLevel: level))
        defer { log.close() }
        if log.lastHeight == 0 {
            let tickets = try blocks.map { try log.submit($0) }
            for ticket in tickets { try ticket.wait() }
        }
        precondition(log.lastHeight == UInt64(blocks.count), "the log does not hold the blocks")
        let blockBytes = blocks.reduce(0) { $0 + $1.canonicalBytes.count }
        let timings = try roundRobin([
            { () throws -> Sample in
                let stop = stopwatch()
                try Self.readAll(log, verify: false)
                return stop()
            },
            { () throws -> Sample in
                let stop = stopwatch()
                try Self.readAll(log, verify: true)
                return stop()
            },
        ])
        let on =
            "level-\(level) log of \(Format.grouped(blocks.count)) blocks (\(Format.megabytes(recordBytes)) on disk)"
        print("")
        print("  Sequential read of every height, in order, pages cached")
        print("")
        print(
            Self.table([
                Row(step: on + ": read(height:)", timing: timings[0].wall, bytes: blockBytes, blocks: blocks.count),
                Row(
                    step: on + ": read + verification checks", timing: timings[1].wall, bytes: blockBytes,
                    blocks: blocks.count),
            ]))
    }

    /// The large level-0 log: built once (or reused), then opened and read.
    func largeLogFigures(at path: String) throws {
        let chainID = workload.chainID
        let built = try buildLargeLog(at: path)
        let storedOptions = SegmentLog.Options(compressionLevel: 0)
        let indexPath = Path.join(path, SegmentIndex.fileName)
        let fileSystem = PosixFileSystem()
        print(
            """

              Open of a \(Format.binary(built.fileBytes)) log (\(Format.grouped(Int(built.height))) blocks, \
            \(built.segments) segments of at most 64 MiB, level 0), \
            \(built.reused ? "reused from \(path)" : "built in \(Format.duration(built.buildSeconds))")\
            \(store.logDirectory == nil || built.reused ? "" : " (kept in \(path))")

            """)
        func openCase(indexIntact: Bool, cold: Bool) -> () throws -> Sample {
            {
                if !indexIntact { try fileSystem.remove(indexPath) }
                if cold { try Self.evictPageCache(of: path) }
                let stop = stopwatch()
                let (log, report) = try SegmentLog.open(directory: path, chainID: chainID, options: storedOptions)
                let sample = stop()
                precondition(
                    report.indexRebuilt == !indexIntact && report.tornTail == nil, "unexpected open: \(report)")
                precondition(log.lastHeight == built.height, "the large log lost blocks")
                log.close()
                return sample
            }
        }
        let opens = try roundRobin([
            openCase(indexIntact: true, cold: false), openCase(indexIntact: false, cold: false),
            openCase(indexIntact: true, cold: true), openCase(indexIntact: false, cold: true),
        ])
        let labels = [
            "index intact, pages cached", "index.mlidx deleted (rebuilt: every record read), pages cached",
            "index intact, pages evicted (cold)", "index.mlidx deleted (rebuilt), pages evicted (cold)",
        ]
        var table = Table([("SegmentLog.open", .left), ("best", .right), ("median", .right), ("target", .right)])
        for (index, (label, timing)) in zip(labels, opens.map(\.wall)).enumerated() {
            let target = index == 0 ? (max(timing.best, timing.median) < 1 ? "< 1 s: met" : "< 1 s: NOT met") : ""
            table.add([label, Format.duration(timing.best), Format.duration(timing.median), target])
        }
        print(table.render())
        print(
            """
              (cold: this log's pages dropped from the page cache with posix_fadvise(DONTNEED) before each open; \
            the virtual disk's host may still cache them)
            """)

        let few = MeasureOptions(repetitions: min(options.repetitions, 3), warmups: 1)
        let log = try SegmentLog.open(directory: path, chainID: chainID, options: storedOptions).log
        defer { log.close() }
        let reads = try roundRobin(
            [
                { () throws -> Sample in
                    let stop = stopwatch()
                    try Self.readAll(log, verify: false)
                    return stop()
                },
                { () throws -> Sample in
                    let stop = stopwatch()
                    try Self.readAll(log, verify: true)
                    return stop()
                },
            ], few)
        let on = "\(Format.binary(built.fileBytes)) level-0 log"
        print("")
        print(
            Self.table([
                Row(
                    step: on + ": read(height:) of every height", timing: reads[0].wall, bytes: built.blockBytes,
                    blocks: Int(built.height)),
                Row(
                    step: on + ": read + verification checks", timing: reads[1].wall, bytes: built.blockBytes,
                    blocks: Int(built.height)),
            ]))
    }

    // MARK: Helpers

    static func table(_ rows: [Row]) -> String {
        let withCPU = rows.contains { $0.cpu != nil }
        var columns: [(String, Table.Alignment)] = [
            ("step", .left), ("best", .right), ("median", .right), ("best MB/s", .right), ("median MB/s", .right),
            ("best blocks/s", .right), ("median blocks/s", .right),
        ]
        if withCPU { columns += [("median CPU", .right), ("preempted", .right)] }
        var table = Table(columns)
        for row in rows {
            var cells = [
                row.step, Format.duration(row.timing.best), Format.duration(row.timing.median),
                Format.rate(Double(row.bytes) / row.timing.best / 1e6),
                Format.rate(Double(row.bytes) / row.timing.median / 1e6),
                Format.rate(Double(row.blocks) / row.timing.best), Format.rate(Double(row.blocks) / row.timing.median),
            ]
            if withCPU {
                cells.append(row.cpu.map { Format.duration($0.median) } ?? "")
                cells.append(row.preempted.map { Format.grouped($0.sorted()[$0.count / 2]) } ?? "")
            }
            table.add(cells)
        }
        return table.render()
    }

    /// Runs each case (one timed sample per call) `warmups` times, then `repetitions` rounds of one
    /// sample of each case; returns every case's timed samples: wall time, and the process's CPU
    /// time (all its threads).
    func roundRobin(_ cases: [() throws -> Sample], _ measureOptions: MeasureOptions? = nil) throws -> [Measured] {
        let measureOptions = measureOptions ?? options
        for _ in 0..<max(1, measureOptions.warmups) {
            for run in cases { _ = try run() }
        }
        var samples = [[Sample]](repeating: [], count: cases.count)
        for _ in 0..<measureOptions.repetitions {
            for (index, run) in cases.enumerated() { samples[index].append(try run()) }
        }
        return samples.map {
            Measured(
                wall: Timing(samples: $0.map(\.wall), operationsPerSample: 1),
                cpu: Timing(samples: $0.map(\.cpu), operationsPerSample: 1), preempted: $0.map(\.preempted))
        }
    }

    /// Reads every height of `log` in order; with `verify`, checks each block as a full
    /// verification does (StoreChain.verify).
    static func readAll(_ log: SegmentLog, verify: Bool) throws {
        var previous = Bytes32.zero
        for height in 1...log.lastHeight {
            let block = try log.read(height: height)
            if verify {
                guard let hash = StoreChain.verify(block, height: height, previousHash: previous) else {
                    preconditionFailure("block \(height) does not verify")
                }
                previous = hash
            } else {
                blackHole(block)
            }
        }
    }

    struct LargeLog {
        var height: UInt64
        var segments: Int
        var fileBytes: Int
        var blockBytes: Int
        var buildSeconds: Double
        var reused: Bool
    }

    /// Appends blocks at level 0 until the segments hold `logMiB` MiB, or reuses a log already
    /// that large in `path`.
    func buildLargeLog(at path: String) throws -> LargeLog {
        let target = store.logMiB << 20
        let start = now()
        let (log, _) = try SegmentLog.open(
            directory: path, chainID: workload.chainID, options: SegmentLog.Options(compressionLevel: 0))
        defer { log.close() }
        func sizes() -> [Int] {
            log.segmentPaths.map {
                ((try? FileManager.default.attributesOfItem(atPath: $0)[.size]) as? NSNumber)?.intValue ?? 0
            }
        }
        let built = log.lastHeight == 0
        if built {
            var chain = StoreChain(workload: workload, transactionsPerBlock: store.transactionsPerBlock)
            while sizes().reduce(0, +) < target {
                let tickets = try chain.next(256).map { try log.submit($0) }
                for ticket in tickets { try ticket.wait() }
            }
        } else if sizes().reduce(0, +) < target {
            throw StoreError(
                .invalidArgument,
                "\(path) holds a log of \(sizes().reduce(0, +)) bytes, less than --log-mib \(store.logMiB); "
                    + "remove it or name another directory", path: path)
        }
        let fileSizes = sizes()
        let fileBytes = fileSizes.reduce(0, +)
        // Level 0: each record is a 60-byte header and the canonical block.
        let blockBytes =
            fileBytes - fileSizes.count * SegmentFormat.segmentHeaderSize
            - Int(log.lastHeight) * SegmentFormat.recordHeaderSize
        return LargeLog(
            height: log.lastHeight, segments: fileSizes.count, fileBytes: fileBytes, blockBytes: blockBytes,
            buildSeconds: seconds(from: start, to: now()), reused: !built)
    }

    /// Drops this directory's files from the page cache (their pages are clean: the log fsyncs
    /// them), so that the next open reads from the device. Other processes' pages are untouched.
    static func evictPageCache(of directory: String) throws {
        for name in try PosixFileSystem().list(directory) {
            let fd = open(Path.join(directory, name), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            _ = fdatasync(fd)
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
            close(fd)
        }
    }

    static func temporaryDirectory(under parent: String) throws -> String {
        var template = Array((Path.join(parent, "medledger-bench-store-XXXXXX")).utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StoreError(.io, "mkdtemp failed: \(String(cString: strerror(errno)))", path: parent)
        }
        return String(cString: created)
    }
}

/// One timed sample: wall time and the process's CPU time (user and system, every thread).
struct Sample {
    var wall: Double
    var cpu: Double
    /// Times the calling thread was preempted (involuntary context switches).
    var preempted: Int
}

struct Measured {
    var wall: Timing
    var cpu: Timing
    var preempted: [Int]
}

/// CPU time of the process, every thread, user and system.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Starts timing; the closure returned stops and gives the sample.
func stopwatch() -> () -> Sample {
    let switches = threadContextSwitches().involuntary
    let cpu = processCPUSeconds()
    let start = now()
    return {
        let wall = seconds(from: start, to: now())
        return Sample(
            wall: wall, cpu: processCPUSeconds() - cpu, preempted: threadContextSwitches().involuntary - switches)
    }
}

/// Context switches of the calling thread so far: voluntary (it blocked) and involuntary (preempted).
func threadContextSwitches() -> (voluntary: Int, involuntary: Int) {
    var usage = rusage()
    let rusageThread: Int32 = 1  // RUSAGE_THREAD (Linux), not exported to Swift by Glibc
    getrusage(rusageThread, &usage)
    return (usage.ru_nvcsw, usage.ru_nivcsw)
}

/// CPU time of the calling thread.
func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func median(_ values: [UInt64]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? Double(sorted[middle]) : Double(sorted[middle - 1] + sorted[middle]) / 2
}

extension Format {
    /// Bytes in MiB or GiB (2^20, 2^30): "1.00 GiB".
    static func binary(_ bytes: Int) -> String {
        bytes >= 1 << 30
            ? fixed(Double(bytes) / Double(1 << 30), 2) + " GiB" : fixed(Double(bytes) / Double(1 << 20), 1) + " MiB"
    }

    /// Bytes in MB (10^6) or GB (10^9): "52.3 MB".
    static func megabytes(_ bytes: Int) -> String {
        bytes >= 1_000_000_000 ? fixed(Double(bytes) / 1e9, 2) + " GB" : fixed(Double(bytes) / 1e6, 1) + " MB"
    }
}

/// The real file system with every fsync (of files and directories) a no-op: not durable, for
/// telling what the fsyncs cost an append.
struct NoSyncFileSystem: FileSystem {
    let base = PosixFileSystem()

    func open(_ path: String, create: Bool) throws(StoreError) -> any StoreFile {
        NoSyncFile(base: try base.open(path, create: create))
    }
    func list(_ directory: String) throws(StoreError) -> [String] { try base.list(directory) }
    func createDirectory(_ path: String) throws(StoreError) { try base.createDirectory(path) }
    func exists(_ path: String) -> Bool { base.exists(path) }
    func remove(_ path: String) throws(StoreError) { try base.remove(path) }
    func rename(_ from: String, to: String) throws(StoreError) { try base.rename(from, to: to) }
    func syncDirectory(_ path: String) throws(StoreError) {}
}

final class NoSyncFile: StoreFile, @unchecked Sendable {
    let base: any StoreFile
    init(base: any StoreFile) { self.base = base }
    var path: String { base.path }
    func size() throws(StoreError) -> UInt64 { try base.size() }
    func read(at offset: UInt64, count: Int) throws(StoreError) -> [UInt8] { try base.read(at: offset, count: count) }
    func write(_ bytes: [UInt8], at offset: UInt64) throws(StoreError) { try base.write(bytes, at: offset) }
    func truncate(to size: UInt64) throws(StoreError) { try base.truncate(to: size) }
    func sync() throws(StoreError) {}
    func close() { base.close() }
}
