import Foundation
import MedLedgerStore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` with a fresh directory under the system's temporary directory, removed afterwards.
private func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    var template = Array((FileManager.default.temporaryDirectory.path + "/medledger-fs-XXXXXX").utf8CString)
    let path = try template.withUnsafeMutableBufferPointer { buffer -> String in
        guard let made = mkdtemp(buffer.baseAddress!) else { throw StoreError(.io, "mkdtemp failed") }
        return String(cString: made)
    }
    defer { try? FileManager.default.removeItem(atPath: path) }
    try body(path)
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func failure(_ body: () throws -> Void) -> StoreError.Code? {
    do {
        try body()
        return nil
    } catch let error as StoreError {
        return error.code
    } catch {
        Issue.record("not a StoreError: \(error)")
        return nil
    }
}

private func mode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o777
}

/// The same calls on any file system, and what each returned: a file system that behaves like
/// the real one writes the same lines.
private func transcript(_ fs: any FileSystem, root: String) -> [String] {
    var lines: [String] = []
    func step(_ name: String, _ body: () throws -> String) {
        do {
            lines.append("\(name): \(try body())")
        } catch let error as StoreError {
            lines.append("\(name): \(error.code.rawValue)")
        } catch {
            lines.append("\(name): \(error)")
        }
    }
    func at(_ path: String) -> String { Path.join(root, path) }
    let ok = "ok"

    step("mkdir a/b") {
        try fs.createDirectory(at("a/b"))
        return ok
    }
    step("mkdir a/b again") {
        try fs.createDirectory(at("a/b"))
        return ok
    }
    step("open missing") {
        _ = try fs.open(at("a/missing"), create: false)
        return ok
    }
    step("create in missing directory") {
        _ = try fs.open(at("nowhere/f"), create: true)
        return ok
    }
    step("list missing") { try fs.list(at("nowhere")).joined(separator: ",") }
    step("read missing") { try fs.readAll(at("a/missing")).description }
    step("write and read") {
        let file = try fs.open(at("a/f"), create: true)
        defer { file.close() }
        try file.write(bytes("hello"), at: 0)
        try file.write(bytes("!"), at: 7)
        try file.write([], at: 100)
        return
            "\(try file.size()) \(try file.read(at: 0, count: 20)) \(try file.read(at: 6, count: 1)) \(try file.read(at: 8, count: 4))"
    }
    step("truncate") {
        let file = try fs.open(at("a/f"), create: true)
        defer { file.close() }
        try file.truncate(to: 3)
        let cut = try file.read(at: 0, count: 20)
        try file.truncate(to: 5)
        try file.sync()
        return "\(cut) \(try file.read(at: 0, count: 20))"
    }
    step("list a") { try fs.list(at("a")).sorted().joined(separator: ",") }
    step("rename f to g") {
        try fs.rename(at("a/f"), to: at("a/g"))
        return try fs.list(at("a")).sorted().joined(separator: ",")
    }
    step("rename onto itself") {
        try fs.rename(at("a/g"), to: at("a/g"))
        return ok
    }
    step("rename missing") {
        try fs.rename(at("a/missing"), to: at("a/h"))
        return ok
    }
    step("rename into missing directory") {
        try fs.rename(at("a/g"), to: at("nowhere/g"))
        return ok
    }
    step("rename file onto directory") {
        try fs.rename(at("a/g"), to: at("a/b"))
        return ok
    }
    step("rename directory into itself") {
        try fs.rename(at("a/b"), to: at("a/b/c"))
        return ok
    }
    step("remove missing") {
        try fs.remove(at("a/missing"))
        return ok
    }
    step("remove directory") {
        try fs.remove(at("a/b"))
        return ok
    }
    step("open directory") {
        _ = try fs.open(at("a"), create: false)
        return ok
    }
    step("create under a file") {
        _ = try fs.open(at("a/g/x"), create: true)
        return ok
    }
    step("list a file") { try fs.list(at("a/g")).joined(separator: ",") }
    step("mkdir under a file") {
        try fs.createDirectory(at("a/g/x"))
        return ok
    }
    step("mkdir over a file") {
        try fs.createDirectory(at("a/g"))
        return ok
    }
    step("sync missing directory") {
        try fs.syncDirectory(at("a/missing"))
        return ok
    }
    step("sync a file as a directory") {
        try fs.syncDirectory(at("a/g"))
        return ok
    }
    step("sync directories") {
        try fs.syncDirectory(at("a"))
        try fs.syncDirectory(at("a/b"))
        return ok
    }
    step("write atomically") {
        try fs.writeAtomically(bytes("one"), to: at("a/state"))
        try fs.writeAtomically(bytes("two!"), to: at("a/state"))
        return "\(try fs.readAll(at("a/state"))) \(try fs.list(at("a")).sorted())"
    }
    step("exists") {
        "\(fs.exists(at("a"))) \(fs.exists(at("a/g"))) \(fs.exists(at("a/missing"))) \(fs.exists(at("a/g/x")))"
    }
    step("remove") {
        try fs.remove(at("a/g"))
        return "\(fs.exists(at("a/g")))"
    }
    return lines
}

@Suite("POSIX file system")
struct PosixFileSystemTests {
    let fs = PosixFileSystem()

    @Test("created files have mode 0600; createDirectory makes the missing parents")
    func modes() throws {
        try withTemporaryDirectory { root in
            let directory = Path.join(root, "x/y/z")
            try fs.createDirectory(directory)
            #expect(fs.exists(Path.join(root, "x/y")) && fs.exists(directory))
            let path = Path.join(directory, "f")
            let file = try fs.open(path, create: true)
            file.close()
            #expect(mode(path) == 0o600)
            try fs.writeAtomically(bytes("state"), to: Path.join(directory, "state"))
            #expect(mode(Path.join(directory, "state")) == 0o600)
            #expect(try fs.list(directory).sorted() == ["f", "state"])
        }
    }

    @Test("pwrite and pread at offsets: a write past the end leaves zeros, a read stops at the end")
    func positionedIO() throws {
        try withTemporaryDirectory { root in
            let file = try fs.open(Path.join(root, "f"), create: true)
            defer { file.close() }
            try file.write(bytes("abc"), at: 4096)
            try file.write(bytes("xy"), at: 1)
            #expect(try file.size() == 4099)
            let all = try file.read(at: 0, count: 10_000)
            #expect(all.count == 4099)
            #expect(all[0] == 0 && Array(all[1...2]) == bytes("xy") && all[3..<4096].allSatisfy { $0 == 0 })
            #expect(try file.read(at: 4095, count: 3) == [0] + bytes("ab"))
            #expect(try file.read(at: 5000, count: 3) == [])
            #expect(try file.read(at: 0, count: 0) == [])
            // A second handle sees the first one's writes: there is no private buffer.
            let other = try fs.open(Path.join(root, "f"), create: false)
            defer { other.close() }
            #expect(try other.read(at: 4096, count: 3) == bytes("abc"))
            #expect(other.path == Path.join(root, "f"))
            try file.sync()
        }
    }

    @Test("truncate cuts and extends with zeros")
    func truncation() throws {
        try withTemporaryDirectory { root in
            let file = try fs.open(Path.join(root, "f"), create: true)
            defer { file.close() }
            try file.write(bytes("0123456789"), at: 0)
            try file.truncate(to: 4)
            #expect(try file.size() == 4)
            #expect(try file.read(at: 0, count: 100) == bytes("0123"))
            try file.truncate(to: 6)
            #expect(try file.read(at: 0, count: 100) == bytes("0123") + [0, 0])
            try file.truncate(to: 0)
            #expect(try file.size() == 0)
        }
    }

    @Test("rename replaces the target; remove unlinks; an open handle keeps its file")
    func renameAndRemove() throws {
        try withTemporaryDirectory { root in
            let a = Path.join(root, "a")
            let b = Path.join(root, "b")
            let first = try fs.open(a, create: true)
            defer { first.close() }
            try first.write(bytes("A"), at: 0)
            let second = try fs.open(b, create: true)
            defer { second.close() }
            try second.write(bytes("B"), at: 0)
            try fs.rename(a, to: b)
            try fs.syncDirectory(root)
            #expect(try fs.list(root) == ["b"])
            #expect(try fs.readAll(b) == bytes("A"))
            #expect(try second.read(at: 0, count: 1) == bytes("B"))
            try fs.remove(b)
            #expect(!fs.exists(b))
            #expect(try first.read(at: 0, count: 1) == bytes("A"))
            #expect(try fs.list(root) == [])
        }
    }

    @Test("notFound for open without create and for list of a missing directory; io for removing a missing file")
    func missing() throws {
        try withTemporaryDirectory { root in
            #expect(failure { _ = try fs.open(Path.join(root, "nope"), create: false) } == .notFound)
            #expect(failure { _ = try fs.list(Path.join(root, "nope")) } == .notFound)
            #expect(failure { _ = try fs.readAll(Path.join(root, "nope")) } == .notFound)
            #expect(failure { try fs.remove(Path.join(root, "nope")) } == .io)
            #expect(failure { try fs.rename(Path.join(root, "nope"), to: Path.join(root, "x")) } == .io)
            #expect(failure { try fs.syncDirectory(Path.join(root, "nope")) } == .io)
            #expect(!fs.exists(Path.join(root, "nope")))
        }
    }

    @Test("the simulated file system answers every call as the real one does")
    func conformance() throws {
        try withTemporaryDirectory { root in
            let real = transcript(fs, root: root)
            #expect(real.count == 28)
            #expect(transcript(SimulatedFileSystem(), root: "/sim") == real)
            #expect(transcript(SimulatedFileSystem(), root: "relative/root") == real)
        }
    }
}
