#if canImport(Glibc)
    import Glibc
#endif
import Synchronization

/// One line of an operator's key log: the keys of one connection (Protocol/WIRE.md 4.4).
public struct KeyLogEntry: Hashable, Sendable, CustomStringConvertible {
    /// The first word of a version 1 line.
    public static let label = "MEDLEDGER_V1"

    /// The initiator's `HELLO` nonce, which identifies the connection.
    public var initiatorNonce: Bytes32
    /// The key sealing initiator-to-responder frames.
    public var initiatorToResponder: Bytes32
    /// The key sealing responder-to-initiator frames.
    public var responderToInitiator: Bytes32

    public init(initiatorNonce: Bytes32, initiatorToResponder: Bytes32, responderToInitiator: Bytes32) {
        self.initiatorNonce = initiatorNonce
        self.initiatorToResponder = initiatorToResponder
        self.responderToInitiator = responderToInitiator
    }

    /// The key for frames travelling in `direction`.
    public func key(for direction: Direction) -> Bytes32 {
        direction == .initiatorToResponder ? initiatorToResponder : responderToInitiator
    }

    /// The line, without its line feed.
    public var description: String {
        "\(KeyLogEntry.label) \(initiatorNonce.hex) \(initiatorToResponder.hex) \(responderToInitiator.hex)"
    }
}

/// A problem in a key log file, with the line it is on.
public struct KeyLogError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The line the problem is on; 0 for a problem with the file itself.
    public var line: Int
    public var reason: String
    public var description: String { line > 0 ? "key log line \(line): \(reason)" : reason }
}

/// Parses key log files: comments and other versions' lines are skipped, malformed version 1
/// lines are errors.
public enum KeyLog {
    /// Every version 1 entry of `text`, keyed by initiator nonce.
    public static func parse(_ text: String) throws(KeyLogError) -> [Bytes32: KeyLogEntry] {
        var entries: [Bytes32: KeyLogEntry] = [:]
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.first == Substring(KeyLogEntry.label) else { continue }
            guard fields.count == 4 else {
                throw KeyLogError(line: lineNumber, reason: "expected '\(KeyLogEntry.label) <nonce> <key_i2r> <key_r2i>' (4 fields separated by single spaces), found \(fields.count)")
            }
            var values: [Bytes32] = []
            for (index, field) in fields.dropFirst().enumerated() {
                guard field.utf8.count == 64, let value = Bytes32(hex: String(field)) else {
                    let name = ["initiator nonce", "key_i2r", "key_r2i"][index]
                    throw KeyLogError(line: lineNumber, reason: "\(name) must be 64 hex digits")
                }
                values.append(value)
            }
            let entry = KeyLogEntry(initiatorNonce: values[0], initiatorToResponder: values[1], responderToInitiator: values[2])
            entries[entry.initiatorNonce] = entry
        }
        return entries
    }
}

/// Appends key log lines to the file an operator named, when they enabled the key log.
///
/// The file is created with mode 0600 and refused if anyone but its owner can read or write it:
/// a key log opens every connection it lists. Each line is written with one `write(2)` to a file
/// opened with `O_APPEND`, so lines from several connections never interleave.
public final class KeyLogWriter: Sendable {
    private let descriptor: Mutex<Int32>
    /// Where the lines go.
    public let path: String

    /// Opens (or creates, mode 0600) the key log at `path`.
    ///
    /// - Throws: ``KeyLogError`` when the file cannot be opened, is not a regular file, or is
    ///   readable or writable by group or others.
    public init(path: String) throws(KeyLogError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw KeyLogError(line: 0, reason: "cannot open the key log \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw KeyLogError(line: 0, reason: "cannot stat the key log \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw KeyLogError(line: 0, reason: "the key log \(path) is not a regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            close(fd)
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw KeyLogError(
                line: 0,
                reason: "the key log \(path) has mode \(mode): others could read every connection it lists; run `chmod 600 \(path)`")
        }
        descriptor = Mutex(fd)
    }

    deinit {
        descriptor.withLock { fd in
            if fd >= 0 { close(fd) }
        }
    }

    /// Appends `entry` as one line.
    public func append(_ entry: KeyLogEntry) throws(KeyLogError) {
        let line = Array((entry.description + "\n").utf8)
        let written = descriptor.withLock { fd in
            line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        guard written == line.count else {
            throw KeyLogError(line: 0, reason: "writing to the key log \(path) failed: \(String(cString: strerror(errno)))")
        }
    }
}
