import MedLedgerWire

/// A `host:port` address: a host name, an IPv4 address, or an IPv6 address in brackets
/// (`[::1]:26656`), and a port from 0 to 65535 (0 asks the system for a free port when listening).
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    /// The host without brackets (`::1` for `[::1]:26656`).
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; the error says what is wrong and how to write it.
    public init(parsing text: String) throws(NodeConfigError) {
        func bad(_ problem: String, _ fix: String = "write host:port, for example 0.0.0.0:26656 or [::1]:26656")
            -> NodeConfigError
        {
            NodeConfigError(.invalidValue, value: text, problem: problem, fix: fix)
        }
        guard !text.isEmpty else { throw bad("the address is empty") }
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad("an IPv6 address in brackets has no closing ]") }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw bad("no :port follows the bracketed IPv6 address") }
            portPart = rest.dropFirst()
            // An IPv6 address, optionally with a zone (`fe80::1%eth0`).
            let parts = hostPart.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
            guard !parts[0].isEmpty, parts[0].contains(":"), parts[0].allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }),
                parts.count == 1 || (!parts[1].isEmpty && parts[1].utf8.allSatisfy(Self.isHostNameByte))
            else { throw bad("\(hostPart) in brackets is not an IPv6 address") }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw bad("the address has no :port") }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { throw bad("an IPv6 address needs brackets", "write it as [\(hostPart)]:\(portPart)") }
            guard !hostPart.isEmpty else { throw bad("the host is empty", "write 0.0.0.0:\(portPart) to listen on every interface") }
            guard hostPart.utf8.allSatisfy(Self.isHostNameByte), hostPart.utf8.count <= 253 else {
                throw bad("the host \(hostPart) is not a host name or an IP address (letters, digits, '.', '-', '_')")
            }
        }
        guard !portPart.isEmpty, portPart.utf8.count <= 5, portPart.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let number = Int(portPart)
        else { throw bad("the port \(portPart) is not a number", "give a port from 0 to 65535") }
        guard number <= 65535 else {
            throw bad("the port \(number) is above 65535", "give a port from 0 to 65535 (0 lets the system pick one)")
        }
        self.init(host: String(hostPart), port: UInt16(number))
    }

    /// `host:port`, with brackets around an IPv6 host.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func isHostNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
            || byte == 0x2E || byte == 0x2D || byte == 0x5F
    }
}

extension HostPort: Codable {
    /// A `"host:port"` string.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw error.located(source: "", member: memberPath(decoder.codingPath))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A peer to dial and keep connected: its node key (the transport identity it must prove in the
/// handshake) and where it listens. Written compactly as `KEYHEX@host:port`.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The peer's Ed25519 node key: 64 lowercase hex digits.
    public let nodeKey: String
    public let address: HostPort

    public init(nodeKey: Bytes32, address: HostPort) {
        self.nodeKey = nodeKey.hex
        self.address = address
    }

    /// A peer from its node key in hex (either case; kept in lowercase) and its address.
    public init(nodeKey hex: String, address: HostPort) throws(NodeConfigError) {
        self.nodeKey = try NodeConfig.parseKey(hex, what: "the peer's node key")
        self.address = address
    }

    /// Parses the compact form `KEYHEX@host:port`.
    public init(parsing text: String) throws(NodeConfigError) {
        guard let at = text.firstIndex(of: "@") else {
            throw NodeConfigError(
                .invalidValue, value: text, problem: "a peer has no @ between its node key and its address",
                fix: "write NODEKEYHEX@host:port (the node key is in the peer's facility.json)")
        }
        do throws(NodeConfigError) {
            let key = try NodeConfig.parseKey(String(text[..<at]), what: "the peer's node key")
            let address = try HostPort(parsing: String(text[text.index(after: at)...]))
            guard address.port != 0 else {
                throw NodeConfigError(
                    .invalidValue, value: address.description, problem: "a peer cannot be dialled on port 0",
                    fix: "give the port the peer listens on")
            }
            self.nodeKey = key
            self.address = address
        } catch {
            // Quote the whole entry, so the operator finds it in a long list.
            var whole = error
            whole.problem = "in the peer \(NodeConfigError.quote(text)): " + error.problem
            whole.value = nil
            throw whole
        }
    }

    /// The node key's bytes.
    public var key: Bytes32 { Bytes32(hex: nodeKey)! }

    /// `KEYHEX@host:port`.
    public var description: String { "\(nodeKey)@\(address)" }
}

extension PeerAddress: Codable {
    enum Member: String, CaseIterable {
        case nodeKey = "node_key"
        case address
    }

    /// Either `{"node_key": "…", "address": "host:port"}` or the compact string `"KEYHEX@host:port"`.
    public init(from decoder: any Decoder) throws {
        let here = memberPath(decoder.codingPath)
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            do {
                try self.init(parsing: text)
            } catch {
                throw error.located(source: "", member: here)
            }
            return
        }
        let object = try StrictObject(decoder, members: Member.allCases.map(\.rawValue))
        let hex = try object.require(String.self, Member.nodeKey.rawValue)
        let address = try object.require(HostPort.self, Member.address.rawValue)
        do {
            try self.init(nodeKey: hex, address: address)
        } catch {
            throw error.located(source: "", member: here + ".node_key")
        }
        guard address.port != 0 else {
            throw NodeConfigError(
                .invalidValue, member: here + ".address", value: address.description,
                problem: "a peer cannot be dialled on port 0", fix: "give the port the peer listens on")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ConfigKey.self)
        try container.encode(nodeKey, forKey: ConfigKey(Member.nodeKey.rawValue))
        try container.encode(address, forKey: ConfigKey(Member.address.rawValue))
    }
}
