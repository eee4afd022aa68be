#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

import MedLedgerWire

/// A JSON member name as a coding key (any name, so that unknown members can be listed).
struct ConfigKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(_ name: String) {
        stringValue = name
        intValue = nil
    }

    init?(stringValue: String) { self.init(stringValue) }

    init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// `persistent_peers[1].address` for a coding path.
func memberPath(_ path: [any CodingKey]) -> String {
    var text = ""
    for key in path {
        if let index = key.intValue {
            text += "[\(index)]"
        } else {
            text += text.isEmpty ? key.stringValue : "." + key.stringValue
        }
    }
    return text
}

/// A JSON object whose members must all be known: a typo in a member name is an error that names
/// the member and suggests the closest known one, never a silently ignored setting.
struct StrictObject {
    let container: KeyedDecodingContainer<ConfigKey>
    let path: [any CodingKey]

    init(_ decoder: any Decoder, members known: [String]) throws {
        path = decoder.codingPath
        do {
            container = try decoder.container(keyedBy: ConfigKey.self)
        } catch {
            throw NodeConfigError(
                .malformed, member: path.isEmpty ? nil : memberPath(path), problem: "must be a JSON object",
                fix: "write it as { \"name\": value, ... }")
        }
        for key in container.allKeys where !known.contains(key.stringValue) {
            var fix = "remove it"
            if let near = closest(key.stringValue, in: known) { fix = "did you mean \"\(near)\"? Rename it, or remove it" }
            fix += " (members here: \(known.joined(separator: ", ")))"
            throw NodeConfigError(
                .unknownMember, member: memberPath(path + [key]), problem: "this member is not a known setting", fix: fix)
        }
    }

    func has(_ name: String) -> Bool { container.contains(ConfigKey(name)) }

    /// Whether the member is present and `null`.
    func isNull(_ name: String) -> Bool {
        has(name) && ((try? container.decodeNil(forKey: ConfigKey(name))) ?? false)
    }

    /// The member's value, or nil when it is absent (or `null`).
    func optional<T: Decodable>(_ type: T.Type, _ name: String) throws -> T? {
        guard has(name), !isNull(name) else { return nil }
        return try decode(type, name)
    }

    func require<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        guard has(name), !isNull(name) else {
            throw NodeConfigError(
                .missingMember, member: memberPath(path + [ConfigKey(name)]), problem: "this member is missing",
                fix: "add it (\(describe(type)))")
        }
        return try decode(type, name)
    }

    /// A whole number that may not be negative. (Decoded as `Int` and checked here: Foundation's
    /// decoder reports a negative number for an unsigned type as invalid JSON, without the member.)
    func optionalCount(_ name: String) throws -> UInt64? {
        guard let value = try optional(Int.self, name) else { return nil }
        guard value >= 0 else {
            throw NodeConfigError(
                .malformed, member: memberPath(path + [ConfigKey(name)]), value: String(value),
                problem: "must be \(describe(UInt64.self))", fix: "write a number from 0 up")
        }
        return UInt64(value)
    }

    func requireCount(_ name: String) throws -> UInt64 {
        _ = try require(Int.self, name)
        return try optionalCount(name)!
    }

    private func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        do {
            return try container.decode(type, forKey: ConfigKey(name))
        } catch let error as NodeConfigError {
            throw error
        } catch let error as DecodingError {
            throw translate(error, member: memberPath(path + [ConfigKey(name)]), expected: describe(type))
        }
    }
}

/// A decoding error as a ``NodeConfigError`` naming the member.
func translate(_ error: DecodingError, member: String, expected: String) -> NodeConfigError {
    var where_ = member
    switch error {
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context),
        .keyNotFound(_, let context):
        if !context.codingPath.isEmpty { where_ = memberPath(context.codingPath) }
    @unknown default: break
    }
    return NodeConfigError(.malformed, member: where_, problem: "must be \(expected)", fix: "write \(expected) here")
}

/// What a JSON value of `type` looks like, for messages.
func describe<T>(_ type: T.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Int.Type, is UInt64.Type, is UInt16.Type, is UInt32.Type: "a whole number, not negative"
    case is HostPort.Type: "a \"host:port\" string"
    case is [PeerAddress].Type: "a list of peers, each \"NODEKEYHEX@host:port\""
    case is [String].Type: "a list of strings"
    case is Bool.Type: "true or false"
    default: "a value of the documented form"
    }
}

/// The known name nearest to `name` (edit distance at most 3), to suggest for a typo.
func closest(_ name: String, in known: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
    let lowered = Array(name.lowercased())
    let scored = known.map { ($0, distance(lowered, Array($0))) }.min { $0.1 < $1.1 }
    guard let (best, score) = scored, score <= 3 else { return nil }
    return best
}

/// Reading and writing the JSON files of a node home.
enum NodeJSON {
    /// The order members are written in (a file people read should read top-down); members not
    /// listed follow in alphabetical order.
    static let memberOrder: [String] =
        NodeConfig.Member.allCases.map(\.rawValue) + NodeConfig.Timeouts.members + NodeConfig.MempoolLimits.members
        + FacilityCard.members + PeerAddress.Member.allCases.map(\.rawValue) + ["p2p", "client", "metrics"]

    /// Pretty JSON (two-space indent, as genesis.json), members in ``memberOrder``, ending in a newline.
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own types cannot fail: every value is a string, integer, null, list or object.
        guard let data = try? encoder.encode(value), let tree = try? JSONValue(parsing: String(decoding: data, as: UTF8.self))
        else { preconditionFailure("encoding \(T.self) failed") }
        return Array(ordered(tree).prettyDescription.utf8) + [0x0A]
    }

    private static func ordered(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items): return .array(items.map(ordered))
        case .object(let members):
            let rank = { (name: String) in memberOrder.firstIndex(of: name) ?? memberOrder.count }
            return .object(
                members.map { ($0.0, ordered($0.1)) }.sorted { a, b in
                    rank(a.0) != rank(b.0) ? rank(a.0) < rank(b.0) : a.0 < b.0
                })
        default: return value
        }
    }

    /// Decodes `bytes` (the file at `source`); every error names the file.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], source: String) throws(NodeConfigError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as NodeConfigError {
            throw error.located(source: source)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                var reason = context.debugDescription
                if let underlying = context.underlyingError { reason += " (\(underlying))" }
                throw NodeConfigError(
                    .malformed, source: source, problem: "the file is not valid JSON: \(reason)",
                    fix: "correct the syntax (check it with `python3 -m json.tool \(source)`)")
            }
            throw translate(error, member: "", expected: "a value of the documented form").located(source: source)
        } catch {
            throw NodeConfigError(
                .malformed, source: source, problem: "the file cannot be read: \(error)", fix: "correct the file")
        }
    }
}
