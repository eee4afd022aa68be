/// What is wrong with a node's setup: its home, a file in it, a setting in `config.json`, or a
/// `MEDLEDGER_*` environment variable.
///
/// Every error names where the problem is (``source``: a file path, an environment variable or a
/// command-line option), the member or value concerned, what is wrong and how to fix it, so that
/// an operator can act on the message alone. Switch on ``code`` to decide what to do.
public struct NodeConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A file is missing or cannot be read.
        case unreadable
        /// A file is not valid JSON, or a member has the wrong JSON type.
        case malformed
        /// A JSON object has a member this version does not know (a typo, most likely).
        case unknownMember
        /// A member that has no default is missing.
        case missingMember
        /// The file's `version` is not one this build reads.
        case unsupportedVersion
        /// A value does not parse or is out of range.
        case invalidValue
        /// `create` was asked to make a home where something already is.
        case homeExists
        /// A key file could not be written or read (KEYS.md's rules).
        case keyFile
        /// The genesis file does not parse or is invalid.
        case genesis
        /// A file or directory could not be written.
        case io
    }

    public var code: Code
    /// Where the problem is: a file path, an environment variable, or a command-line option.
    /// Empty while a decoder that does not know the file's path is still unwinding.
    public var source: String
    /// The JSON member (`persistent_peers[1].address`), if the problem is in one.
    public var member: String?
    /// The offending value as found, if there is one that may be shown.
    public var value: String?
    /// What is wrong.
    public var problem: String
    /// What to do about it.
    public var fix: String

    public init(
        _ code: Code, source: String = "", member: String? = nil, value: String? = nil, problem: String, fix: String
    ) {
        self.code = code
        self.source = source
        self.member = member
        self.value = value
        self.problem = problem
        self.fix = fix
    }

    /// `SOURCE: MEMBER: "VALUE": problem; fix`.
    public var description: String {
        var text = source.isEmpty ? "node configuration" : source
        if let member { text += ": " + member }
        if let value { text += ": " + Self.quote(value) }
        text += ": " + problem
        if !fix.isEmpty { text += "; " + fix }
        return text
    }

    /// The same error, placed in `source` (and `member`) unless it already names them.
    public func located(source: String, member: String? = nil) -> NodeConfigError {
        var copy = self
        if copy.source.isEmpty { copy.source = source }
        if copy.member == nil { copy.member = member }
        return copy
    }

    /// A value in double quotes, control characters escaped, at most 120 characters shown.
    static func quote(_ value: String) -> String {
        var out = "\""
        for (index, scalar) in value.unicodeScalars.enumerated() {
            if index == 120 {
                out += "…"
                break
            }
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
