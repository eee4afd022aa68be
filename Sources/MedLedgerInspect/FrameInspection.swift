import MedLedgerWire

/// How the inspector opens a sealed frame: a key log entry, the frame's direction and its sequence.
public struct SealedFrameKey: Sendable {
    public var entry: KeyLogEntry
    public var direction: Direction
    public var sequence: UInt64

    public init(entry: KeyLogEntry, direction: Direction, sequence: UInt64) {
        self.entry = entry
        self.direction = direction
        self.sequence = sequence
    }
}

/// What the inspector made of one frame.
public enum FrameInspection: Sendable {
    /// Decoded completely.
    case decoded(DecodedFrame)
    /// A valid header over a sealed payload that no key was given for.
    case sealed(FrameHeader)
    /// A rule of the protocol was broken; the header is there when it was valid.
    case rejected(WireError, header: FrameHeader?)

    /// Inspects the bytes of exactly one frame.
    public static func inspect(_ bytes: [UInt8], key: SealedFrameKey? = nil) -> FrameInspection {
        let frame: Frame
        do {
            frame = try Frame.parseSingle(bytes)
        } catch {
            let header = try? FrameHeader.parse(bytes[...])
            return .rejected(error, header: header)
        }
        var opener = key.map { try! FrameOpener(key: $0.entry.key(for: $0.direction).bytes, nextSequence: $0.sequence) }
        do {
            return .decoded(try frame.decode(opener: &opener))
        } catch {
            switch error {
            case .sealedWithoutKey: return .sealed(frame.header)
            case .wire(let error): return .rejected(error, header: frame.header)
            }
        }
    }

    /// Whether the frame broke a rule.
    public var isRejected: Bool {
        if case .rejected = self { return true }
        return false
    }

    /// The rendering of Protocol/WIRE.md section 8: the frame, or `{error, layer, offset}`.
    public var json: JSONValue {
        switch self {
        case .decoded(let frame):
            return frame.json
        case .sealed(let header):
            return .object(header.jsonMembers + [("message", .null), ("sealed_payload", .bool(true))])
        case .rejected(let error, _):
            guard case .object(let members) = error.json else { return error.json }
            return .object(members + [("detail", .string(error.detail))])
        }
    }

    /// A readable dump: the header line, then the message as an indented tree.
    public var text: String {
        switch self {
        case .decoded(let frame):
            var lines = [FrameInspection.headerLine(frame.header, inflated: frame.inflatedLength)]
            FrameInspection.tree(frame.message.json, indent: "  ", into: &lines)
            return lines.joined(separator: "\n")
        case .sealed(let header):
            return [
                FrameInspection.headerLine(header, inflated: nil),
                "  payload sealed (\(header.length) bytes, 16 of them the GCM tag): no key given",
                "  to open it: --key-log FILE --direction i2r|r2i --sequence N",
            ].joined(separator: "\n")
        case .rejected(let error, let header):
            var lines: [String] = []
            if let header { lines.append(FrameInspection.headerLine(header, inflated: nil)) }
            lines.append("rejected: \(error.code.name) at \(error.layer) offset \(error.offset): \(error.detail)")
            return lines.joined(separator: "\n")
        }
    }

    static func headerLine(_ header: FrameHeader, inflated: Int?) -> String {
        let flags = header.flags.isEmpty ? "none" : header.flags.names.joined(separator: ",")
        let code = Hex.encode([header.type.rawValue])
        var line =
            "\(header.type.name.uppercased()) (0x\(code))  version \(header.version)  flags \(flags)  payload \(header.length) bytes"
        if let inflated { line += " (inflated \(inflated))" }
        return line
    }

    /// Hex longer than this many bytes is shortened in the text dump (the JSON keeps it whole).
    static let longHexBytes = 64

    static func tree(_ value: JSONValue, indent: String, into lines: inout [String]) {
        guard case .object(let members) = value else { return }
        for (key, member) in members {
            switch member {
            case .object:
                lines.append("\(indent)\(key):")
                tree(member, indent: indent + "  ", into: &lines)
            case .array(let values) where values.isEmpty:
                lines.append("\(indent)\(key): []")
            case .array(let values):
                lines.append("\(indent)\(key): (\(values.count))")
                for (index, element) in values.enumerated() {
                    if case .object = element {
                        lines.append("\(indent)  [\(index)]")
                        tree(element, indent: indent + "    ", into: &lines)
                    } else {
                        lines.append("\(indent)  [\(index)] \(scalar(element))")
                    }
                }
            default:
                lines.append("\(indent)\(key): \(scalar(member))")
            }
        }
    }

    static func scalar(_ value: JSONValue) -> String {
        guard case .string(let text) = value else { return value.description }
        if text.count > longHexBytes * 2, Hex.decode(text) != nil {
            return "\(text.prefix(longHexBytes * 2))… (\(text.count / 2) bytes)"
        }
        // Hex, names and chain ids print bare; any other text is quoted and escaped, so control
        // characters from the wire never reach the terminal.
        let bare = !text.isEmpty && text.utf8.allSatisfy { ChainID.isValid([$0]) }
        return bare ? text : value.description
    }
}
