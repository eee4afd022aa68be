/// The file operations the store uses, so that the same code runs on the real file system and on
/// ``SimulatedFileSystem``, which loses or tears unsynced writes at a crash and can flip bits on
/// read (a process killed with SIGKILL keeps the page cache, so it cannot prove fsync discipline).
///
/// The durability contract is POSIX's: bytes written to a file survive a crash only after
/// ``StoreFile/sync()``; a created, renamed or removed name survives only after
/// ``syncDirectory(_:)`` of its directory.
public protocol FileSystem: Sendable {
    /// Opens a file for reading and writing, creating it (empty) if `create` and it does not exist.
    func open(_ path: String, create: Bool) throws(StoreError) -> any StoreFile
    /// The names in a directory (not `.` or `..`), in no particular order.
    func list(_ directory: String) throws(StoreError) -> [String]
    /// Creates a directory and its missing parents.
    func createDirectory(_ path: String) throws(StoreError)
    func exists(_ path: String) -> Bool
    func remove(_ path: String) throws(StoreError)
    /// Renames atomically, replacing `to` if it exists.
    func rename(_ from: String, to: String) throws(StoreError)
    /// Makes the directory's entries (creations, renames, removals) durable.
    func syncDirectory(_ path: String) throws(StoreError)
}

/// One open file.
public protocol StoreFile: AnyObject, Sendable {
    var path: String { get }
    /// The current size in bytes.
    func size() throws(StoreError) -> UInt64
    /// Up to `count` bytes from `offset` (fewer at the end of the file).
    func read(at offset: UInt64, count: Int) throws(StoreError) -> [UInt8]
    /// Writes `bytes` at `offset`, extending the file if needed.
    func write(_ bytes: [UInt8], at offset: UInt64) throws(StoreError)
    /// Cuts the file to `size` bytes.
    func truncate(to size: UInt64) throws(StoreError)
    /// Makes every write so far durable (`fsync`).
    func sync() throws(StoreError)
    func close()
}

extension FileSystem {
    /// Writes `bytes` as the whole content of `path`, atomically and durably: a temporary file in
    /// the same directory, fsync, rename over `path`, fsync of the directory.
    public func writeAtomically(_ bytes: [UInt8], to path: String) throws(StoreError) {
        let temporary = path + ".tmp"
        if exists(temporary) { try remove(temporary) }
        let file = try open(temporary, create: true)
        defer { file.close() }
        try file.truncate(to: 0)
        try file.write(bytes, at: 0)
        try file.sync()
        try rename(temporary, to: path)
        try syncDirectory(Path.directory(of: path))
    }

    /// Creates `path` and any missing parents, and makes every new name durable: a new directory's
    /// entry lives in its parent, so each parent of a created directory is fsynced too.
    public func createDirectoryDurably(_ path: String) throws(StoreError) {
        var missing: [String] = []
        var current = path
        while !exists(current) {
            missing.append(current)
            let parent = Path.directory(of: current)
            if parent == current || parent == "." { break }
            current = parent
        }
        guard !missing.isEmpty else { return }
        try createDirectory(path)
        for created in missing.reversed() { try syncDirectory(Path.directory(of: created)) }
    }

    /// The whole content of `path`.
    public func readAll(_ path: String) throws(StoreError) -> [UInt8] {
        let file = try open(path, create: false)
        defer { file.close() }
        return try file.read(at: 0, count: Int(try file.size()))
    }
}

/// Small path helpers (no Foundation in the store's hot paths).
public enum Path {
    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    public static func name(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
