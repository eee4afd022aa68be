import Foundation

/// Reads the known-answer vector files in `Vectors/` (next to this file; see `Vectors/README.md`),
/// found from this file's path so that the tests run from any working directory.
enum KnownAnswerVectorFiles {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Vectors", isDirectory: true)

    /// Whether the slow vectors run too (`MEDLEDGER_SLOW_KATS=1`): RFC 7748's 1,000,000-iteration
    /// loop (about a minute) and RFC 7914's N = 1,048,576 scrypt vector (1 GiB of memory).
    static var slowVectorsEnabled: Bool { ProcessInfo.processInfo.environment["MEDLEDGER_SLOW_KATS"] == "1" }

    /// The file's text with CR LF turned into LF.
    static func text(_ name: String) throws -> String {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
    }

    /// The lines of a file, without their line ends; an empty last line is dropped.
    static func lines(_ name: String) throws -> [Substring] {
        var lines = try text(name).split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    /// Parses the `NAME = value` block format shared by the NIST CAVS `.rsp` files, the
    /// cryptography-vectors KDF and X25519 files, and the files typed from RFCs here:
    ///
    /// - `#` lines are comments;
    /// - `[Name = value]` lines set a section attribute that every later block inherits,
    ///   until a later `[Name = ...]` line replaces it;
    /// - a block is a run of non-blank lines; `NAME = value` sets a field (the value may be
    ///   empty), and a bare word such as `FAIL` sets a flag;
    /// - blank lines end a block, unless `startKey` is given: then each `startKey = ...` line
    ///   starts a block and blank lines are ignored (RFC 5869's file has blank lines inside blocks).
    static func blocks(_ name: String, startKey: String? = nil) throws -> [VectorBlock] {
        var blocks: [VectorBlock] = []
        var section: [String: String] = [:]
        var current: VectorBlock?
        for (index, rawLine) in try lines(name).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty {
                if startKey != nil { continue }
                if let block = current { blocks.append(block) }
                current = nil
                continue
            }
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                if let block = current { blocks.append(block) }
                current = nil
                let inner = line.dropFirst().dropLast()
                let parts = inner.split(separator: "=", maxSplits: 1)
                if parts.count == 2 {
                    section[parts[0].trimmingCharacters(in: .whitespaces)] =
                        parts[1].trimmingCharacters(in: .whitespaces)
                } else {
                    section[String(inner)] = ""
                }
                continue
            }
            let equals = line.firstIndex(of: "=")
            let key = equals.map { line[..<$0].trimmingCharacters(in: .whitespaces) }
            if let startKey, key == startKey, let block = current {
                blocks.append(block)
                current = nil
            }
            if current == nil { current = VectorBlock(file: name, line: index + 1, section: section) }
            if let equals, let key {
                let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                current?.fields[key] = value
            } else {
                current?.flags.insert(line)
            }
        }
        if let block = current { blocks.append(block) }
        return blocks
    }
}

/// One block of a vector file: its fields, flags, inherited section attributes and where it starts.
struct VectorBlock: Sendable {
    let file: String
    let line: Int
    let section: [String: String]
    var fields: [String: String] = [:]
    var flags: Set<String> = []

    init(file: String, line: Int, section: [String: String]) {
        self.file = file
        self.line = line
        self.section = section
    }

    /// `file:line`, for test names and failure messages.
    var location: String { "\(file):\(line)" }

    /// A field's text; traps (failing the test run loudly) if the vector file lacks it.
    subscript(_ key: String) -> String {
        guard let value = fields[key] else { preconditionFailure("\(location) has no field \(key)") }
        return value
    }

    /// A field's bytes, decoded from hex.
    func hex(_ key: String) -> [UInt8] { bytes(hex: self[key]) }

    /// A field as an integer.
    func integer(_ key: String) -> Int {
        guard let value = Int(self[key]) else { preconditionFailure("\(location): \(key) is not an integer") }
        return value
    }
}
