#if canImport(Glibc)
    import Glibc
#endif
import MedLedgerStore
import MedLedgerWire

/// A segment log directory (Protocol/LOG.md section 1), opened for reading only.
///
/// The inspector never goes through `SegmentLog.open`, which recovers a torn tail by truncating the
/// segment and rebuilds the index: inspecting a log must not change it, and must work on a log that
/// `open` refuses. Files are opened `O_RDONLY`, so nothing here can write.
public struct LogDirectory: Sendable {
    /// A file named like a segment: `segment-<20-digit start height>.mlseg`.
    public struct Segment: Hashable, Sendable {
        public var name: String
        public var path: String
        /// The start height the file name gives.
        public var startHeight: UInt64
        public var size: UInt64
    }

    /// A file in `quarantine/`: bytes cut off a torn tail or by `repair`.
    public struct QuarantinedFile: Hashable, Sendable {
        public var name: String
        public var size: UInt64
    }

    /// The directory as given.
    public let path: String
    /// The segment files, in height order (by name).
    public let segments: [Segment]
    /// The bytes of `index.mlidx`; nil when there is none.
    public let indexFile: [UInt8]?
    /// The contents of `quarantine/`, by name; empty when there is none.
    public let quarantine: [QuarantinedFile]
    /// The interval of a decodable index file: scans note where the records of its heights are.
    let indexInterval: UInt64?

    /// Opens `path` as a log directory.
    ///
    /// - Throws: an ``InspectError`` saying what is wrong and how to fix it when `path` does not
    ///   exist, is not a directory, cannot be read or holds no segment files.
    public init(path: String) throws(InspectError) {
        self.path = path
        guard let kind = FileStatus(path) else {
            throw InspectError(
                "no such directory: \(path)",
                hint: "give the directory a node keeps its chain in: the one holding segment-*.mlseg files (Protocol/LOG.md section 1)")
        }
        guard kind.isDirectory else {
            let parent = Path.directory(of: path)
            let hint =
                SegmentFormat.startHeight(ofSegmentNamed: Path.name(of: path)) != nil
                ? "that is one segment; give the directory holding it: \(parent)"
                : "give the directory that holds the segment-*.mlseg files, not a file"
            throw InspectError("\(path) is a file, not a log directory", hint: hint)
        }
        let names: [String]
        do {
            names = try PosixFileSystem().list(path)
        } catch {
            throw InspectError("cannot read the directory \(path): \(error.message)", hint: "check its permissions")
        }
        var segments: [Segment] = []
        for name in names {
            guard let start = SegmentFormat.startHeight(ofSegmentNamed: name) else { continue }
            let file = Path.join(path, name)
            guard let status = FileStatus(file), !status.isDirectory else { continue }
            segments.append(Segment(name: name, path: file, startHeight: start, size: status.size))
        }
        guard !segments.isEmpty else {
            // Point at a subdirectory that is a log, if there is one (say the fixture's parent).
            let nested = names.sorted().first { name in
                let sub = Path.join(path, name)
                guard FileStatus(sub)?.isDirectory == true, let inner = try? PosixFileSystem().list(sub) else { return false }
                return inner.contains { SegmentFormat.startHeight(ofSegmentNamed: $0) != nil }
            }
            throw InspectError(
                "\(path) is not a MedLedger segment log: it holds no segment-*.mlseg files",
                hint: nested.map { "its subdirectory \(Path.join(path, $0)) is one; give that" }
                    ?? "a log directory holds segment-<20-digit height>.mlseg files and index.mlidx (Protocol/LOG.md section 1)")
        }
        self.segments = segments.sorted { $0.startHeight < $1.startHeight }

        let indexPath = Path.join(path, SegmentIndex.fileName)
        indexFile = FileStatus(indexPath).flatMap { $0.isDirectory ? nil : try? ReadOnlyFile(indexPath).readAll() }
        indexInterval = indexFile.flatMap(SegmentIndex.decode).map { UInt64($0.interval) }

        let quarantinePath = Path.join(path, "quarantine")
        var quarantine: [QuarantinedFile] = []
        if FileStatus(quarantinePath)?.isDirectory == true, let inside = try? PosixFileSystem().list(quarantinePath) {
            for name in inside.sorted() {
                quarantine.append(QuarantinedFile(name: name, size: FileStatus(Path.join(quarantinePath, name))?.size ?? 0))
            }
        }
        self.quarantine = quarantine
    }

    /// The total size of the segment files.
    public var segmentBytes: UInt64 { segments.reduce(0) { $0 + $1.size } }
}

/// What `stat` says about a path (following symbolic links).
struct FileStatus {
    var isDirectory: Bool
    var size: UInt64

    init?(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        size = UInt64(info.st_size)
    }
}

/// A file opened `O_RDONLY`: positioned reads only.
final class ReadOnlyFile {
    let path: String
    private let fd: Int32

    init(_ path: String) throws(LogProblem) {
        self.path = path
        fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw LogProblem(.unreadable, "cannot open: \(String(cString: strerror(errno)))", path: path)
        }
    }

    deinit { Glibc.close(fd) }

    func size() throws(LogProblem) -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw LogProblem(.unreadable, "fstat failed: \(String(cString: strerror(errno)))", path: path) }
        return UInt64(info.st_size)
    }

    /// Up to `count` bytes from `offset`; fewer at the end of the file.
    func read(at offset: UInt64, count: Int) throws(LogProblem) -> [UInt8] {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw LogProblem(.unreadable, "read failed: \(String(cString: strerror(errno)))", path: path, offset: offset)
            }
            if n == 0 { break }
            done += n
        }
        if done < count { buffer.removeLast(count - done) }
        return buffer
    }

    func readAll() throws(LogProblem) -> [UInt8] { try read(at: 0, count: Int(try size())) }
}
