import MedLedgerWire

extension CaptureRecord {
    /// One line: time, endpoints, then the message or the note.
    public var text: String {
        switch self {
        case .message(let m): m.text
        case .note(let n): n.text
        }
    }

    /// One JSON object.
    public var json: JSONValue {
        switch self {
        case .message(let m): m.json
        case .note(let n): n.json
        }
    }
}

extension CaptureMessage {
    /// `TIME SRC → DST #CONN TYPE[ i2r#SEQ] LENGTH B [flags] key=value ...`
    public var text: String {
        var line = CaptureTime.iso(timestamp) + " " + source.description + " → " + destination.description + " #\(connection) "
        line += header.type.name.uppercased()
        if let direction {
            line += " " + direction.rawValue
            if let sequence { line += "#\(sequence)" }
        }
        line += " \(wireBytes) B"
        if !header.flags.isEmpty { line += " [" + header.flags.names.joined(separator: ",") + "]" }
        switch content {
        case .decoded:
            for (key, value) in fields ?? [] { line += " " + key + "=" + CaptureMessage.short(value) }
        case .sealed(let reason):
            line += " (sealed: \(reason))"
        case .incomplete(let missing):
            line += " (incomplete: \(missing) bytes not captured)"
        case .failed(let error):
            line += " (\(error.code.name) at \(error.layer.rawValue) offset \(error.offset): \(error.detail))"
        }
        return line
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("time", .string(CaptureTime.iso(timestamp))), ("time_ns", .int(timestamp)), ("packet", .int(packet)),
            ("connection", .int(connection)), ("src", .string(source.description)), ("dst", .string(destination.description)),
            ("direction", direction.map { .string($0.rawValue) } ?? .null), ("sequence", sequence.map { .int($0) } ?? .null),
            ("type", .string(header.type.name)), ("type_code", .int(header.type.rawValue)),
            ("flags", .array(header.flags.names.map { .string($0) })), ("length", .int(header.length)),
            ("wire_bytes", .int(wireBytes)), ("stream_offset", .int(streamOffset)),
        ]
        switch content {
        case .decoded:
            members.append(("message", .object(fields ?? [])))
        case .sealed(let reason):
            members.append(("message", .null))
            members.append(("sealed", .string(reason)))
        case .incomplete(let missing):
            members.append(("message", .null))
            members.append(("incomplete", .object([("missing_bytes", .int(missing))])))
        case .failed(let error):
            members.append(("message", .null))
            members.append(
                ("error", .object([("error", .string(error.code.name)), ("layer", .string(error.layer.rawValue)), ("offset", .int(error.offset)), ("detail", .string(error.detail))])))
        }
        return .object(members)
    }

    /// Hex cut to 16 digits; text quoted when it is not a plain word.
    static func short(_ value: JSONValue) -> String {
        switch value {
        case .string(let text):
            if text.count > 16, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) {
                return String(text.prefix(16)) + "…"
            }
            let plain = !text.isEmpty && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F }
            return plain ? text : value.description
        case .null:
            return "nil"
        case .array(let values):
            return values.map(short).joined(separator: "-")
        default:
            return value.description
        }
    }
}

extension CaptureNote {
    public var text: String {
        var line = CaptureTime.iso(timestamp)
        if let source, let destination { line += " " + source.description + " → " + destination.description }
        if let connection { line += " #\(connection)" }
        line += " " + kind.rawValue.uppercased()
        if let bytes { line += " \(bytes) B" }
        if let streamOffset { line += " at stream offset \(streamOffset)" }
        line += ": " + detail
        return line
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("time", .string(CaptureTime.iso(timestamp))), ("time_ns", .int(timestamp)), ("packet", .int(packet)),
            ("event", .string(kind.rawValue)),
        ]
        if let connection { members.append(("connection", .int(connection))) }
        if let source { members.append(("src", .string(source.description))) }
        if let destination { members.append(("dst", .string(destination.description))) }
        if let bytes { members.append(("bytes", .int(bytes))) }
        if let streamOffset { members.append(("stream_offset", .int(streamOffset))) }
        if let error { members.append(("error", .string(error))) }
        members.append(("detail", .string(detail)))
        return .object(members)
    }
}

/// UTC time stamps without Foundation's formatters (they cost more than decoding a frame).
enum CaptureTime {
    /// `2026-11-25T12:00:00.123456Z` (microseconds).
    static func iso(_ nanoseconds: Int64) -> String {
        var seconds = nanoseconds / 1_000_000_000
        var micros = (nanoseconds % 1_000_000_000) / 1_000
        if micros < 0 {
            micros += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let microText = String(micros)
        return "\(year)-\(two(month))-\(two(day))T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))."
            + String(repeating: "0", count: 6 - microText.count) + microText + "Z"
    }
}
