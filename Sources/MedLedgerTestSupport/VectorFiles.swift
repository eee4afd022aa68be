import Foundation
import MedLedgerWire

/// Reads and writes Protocol/vectors/, found from this file's path so tests run from any directory.
///
/// Test support only: shared by the wire and inspector tests, never linked into a product.
public enum VectorFiles {
    public static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocol/vectors", isDirectory: true)

    /// Whether this run should rewrite the vector files from the catalog.
    public static var regenerating: Bool { ProcessInfo.processInfo.environment["MEDLEDGER_WRITE_VECTORS"] == "1" }

    /// The names (without extension) of every `.hex` file.
    public static func names() throws -> [String] {
        if regenerating { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        return try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".hex") }
            .map { String($0.dropLast(4)) }
            .sorted()
    }

    /// A `.hex` file's bytes: `#` lines and whitespace ignored.
    public static func hex(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(name + ".hex"), encoding: .utf8)
        let digits = text.split(separator: "\n")
            .filter { !$0.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("#") }
            .joined()
            .filter { !$0.isWhitespace }
        guard let bytes = Hex.decode(digits) else { throw VectorFileError.badHex(name) }
        return bytes
    }

    public static func json(_ name: String) throws -> JSONValue {
        let text = try String(contentsOf: directory.appendingPathComponent(name + ".json"), encoding: .utf8)
        return try JSONValue(parsing: text)
    }

    /// The `.hex` layout: a comment, the 16-byte header on its own line, then the payload in lines
    /// of 32 bytes with a space every 4 bytes.
    static func hexText(_ bytes: [UInt8], summary: String) -> String {
        var lines = ["# \(summary)"]
        func line(_ chunk: ArraySlice<UInt8>) -> String {
            stride(from: chunk.startIndex, to: chunk.endIndex, by: 4)
                .map { Hex.encode(chunk[$0..<min($0 + 4, chunk.endIndex)]) }
                .joined(separator: " ")
        }
        let headerEnd = min(16, bytes.count)
        lines.append(line(bytes[0..<headerEnd]))
        var index = headerEnd
        while index < bytes.count {
            let end = min(index + 32, bytes.count)
            lines.append(line(bytes[index..<end]))
            index = end
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func write(_ name: String, bytes: [UInt8], summary: String, json: JSONValue) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try hexText(bytes, summary: summary).write(
            to: directory.appendingPathComponent(name + ".hex"), atomically: true, encoding: .utf8)
        try (json.prettyDescription + "\n").write(
            to: directory.appendingPathComponent(name + ".json"), atomically: true, encoding: .utf8)
    }

    public static func remove(_ name: String) throws {
        for ext in ["hex", "json"] {
            let url = directory.appendingPathComponent("\(name).\(ext)")
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
        }
    }
}

/// A vector file that cannot be used.
public enum VectorFileError: Error, CustomStringConvertible {
    case badHex(String)
    case badSealedMember(String)

    public var description: String {
        switch self {
        case .badHex(let name): "\(name).hex is not valid hex"
        case .badSealedMember(let detail): "bad sealed member: \(detail)"
        }
    }
}

extension JSONValue {
    /// An object with `member` added (or replaced).
    public func adding(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members.removeAll { $0.0 == key }
        members.append((key, value))
        return .object(members)
    }

    /// An object without `member`.
    public func removing(_ key: String) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members.removeAll { $0.0 == key }
        return .object(members)
    }
}

/// The `sealed` member of a vector: which key log entry, direction and sequence open it.
public struct VectorSealing: Sendable {
    public var entry: KeyLogEntry
    public var direction: Direction
    public var sequence: UInt64

    /// Reads a `sealed` member; nil when there is none.
    public init?(_ member: JSONValue?) throws {
        guard let member else { return nil }
        guard case .string(let line)? = member["key_log"] else { throw VectorFileError.badSealedMember("no key_log") }
        guard case .string(let name)? = member["direction"], let direction = Direction(rawValue: name) else {
            throw VectorFileError.badSealedMember("direction must be i2r or r2i")
        }
        guard case .integer(let sequence)? = member["sequence"], sequence >= 0 else {
            throw VectorFileError.badSealedMember("no sequence")
        }
        guard let entry = try KeyLog.parse(line).values.first else {
            throw VectorFileError.badSealedMember("key_log has no MEDLEDGER_V1 line")
        }
        self.entry = entry
        self.direction = direction
        self.sequence = UInt64(sequence)
    }

    /// An opener positioned at this frame's sequence.
    public var opener: FrameOpener {
        try! FrameOpener(key: entry.key(for: direction).bytes, nextSequence: sequence)
    }
}
