#if canImport(Glibc)
    import Glibc
#endif

/// The real file system, through POSIX calls (`open`, `pread`, `pwrite`, `ftruncate`, `fsync`,
/// `rename`, `unlink`, `mkdir`, `opendir`/`readdir`). Files are created with mode 0600.
public struct PosixFileSystem: FileSystem {
    public init() {}

    static func failure(_ call: String, _ path: String) -> StoreError {
        StoreError(.io, "\(call) failed: \(String(cString: strerror(errno)))", path: path)
    }

    public func open(_ path: String, create: Bool) throws(StoreError) -> any StoreFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let fd = Glibc.open(path, flags, 0o600)
        guard fd >= 0 else {
            if errno == ENOENT { throw StoreError(.notFound, "no such file", path: path) }
            throw Self.failure("open", path)
        }
        return PosixFile(fd: fd, path: path)
    }

    public func list(_ directory: String) throws(StoreError) -> [String] {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { throw StoreError(.notFound, "no such directory", path: directory) }
            throw Self.failure("opendir", directory)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func createDirectory(_ path: String) throws(StoreError) {
        if exists(path) { return }
        let parent = Path.directory(of: path)
        if parent != path, parent != ".", parent != "/", !exists(parent) { try createDirectory(parent) }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw Self.failure("mkdir", path) }
    }

    public func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public func remove(_ path: String) throws(StoreError) {
        guard unlink(path) == 0 else { throw Self.failure("unlink", path) }
    }

    public func rename(_ from: String, to: String) throws(StoreError) {
        guard Glibc.rename(from, to) == 0 else { throw Self.failure("rename to \(to)", from) }
    }

    public func syncDirectory(_ path: String) throws(StoreError) {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure("open directory", path) }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw Self.failure("fsync directory", path) }
    }
}

/// A file descriptor; positioned reads and writes, so it needs no seek state.
final class PosixFile: StoreFile, @unchecked Sendable {
    let fd: Int32
    let path: String
    private var closed = false

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    func size() throws(StoreError) -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw PosixFileSystem.failure("fstat", path) }
        return UInt64(info.st_size)
    }

    func read(at offset: UInt64, count: Int) throws(StoreError) -> [UInt8] {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw PosixFileSystem.failure("pread", path)
            }
            if n == 0 { break }
            done += n
        }
        if done < count { buffer.removeLast(count - done) }
        return buffer
    }

    func write(_ bytes: [UInt8], at offset: UInt64) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw PosixFileSystem.failure("pwrite", path)
            }
            done += n
        }
    }

    func truncate(to size: UInt64) throws(StoreError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw PosixFileSystem.failure("ftruncate", path) }
    }

    func sync() throws(StoreError) {
        guard fsync(fd) == 0 else { throw PosixFileSystem.failure("fsync", path) }
    }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}
