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
    public var line: Int
    public var reason: String
    public var description: String { "key log line \(line): \(reason)" }
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
