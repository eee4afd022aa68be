import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// A node's client port and the node key it must prove in the handshake.
///
/// Written `host:port@nodekeyhex` (an IPv6 host in brackets: `[::1]:26601@…`), the form of
/// `medledger --connect` and `MEDLEDGER_CONNECT`.
public struct ClientEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// A host name or IP address (IPv6 without brackets).
    public var host: String
    /// The node's client port (`client` in its ports.json).
    public var port: UInt16
    /// The node's transport key (`node_key` in its facility.json). A node that cannot prove it is refused.
    public var nodeKey: Bytes32

    /// An endpoint from its parts.
    public init(host: String, port: UInt16, nodeKey: Bytes32) {
        self.host = host
        self.port = port
        self.nodeKey = nodeKey
    }

    /// Parses `host:port@nodekeyhex`.
    ///
    /// - Throws: ``ClientError/invalidArgument(_:)`` saying which part is wrong and what the form is.
    public init(parsing text: String) throws(LedgerClientError) {
        let form = "write it as host:port@nodekey, for example 127.0.0.1:26601@<the 64 hex digits of node_key in facility.json>"
        guard let at = text.lastIndex(of: "@") else {
            throw .invalidArgument("\"\(text)\" has no node key: \(form)")
        }
        let address = String(text[..<at])
        let keyText = String(text[text.index(after: at)...])
        guard keyText.utf8.count == 64, keyText.utf8.allSatisfy({ Self.isHexDigit($0) }), let key = Bytes32(hex: keyText.lowercased())
        else {
            throw .invalidArgument("\"\(keyText)\" is not a node key (64 hex digits): \(form)")
        }
        let host: Substring
        let portText: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]"), address[address.index(after: close)...].hasPrefix(":") else {
                throw .invalidArgument("\"\(address)\" is not [ipv6]:port: \(form)")
            }
            host = address[address.index(after: address.startIndex)..<close]
            portText = address[address.index(close, offsetBy: 2)...]
        } else {
            guard let colon = address.lastIndex(of: ":"), !address[..<colon].contains(":") else {
                throw .invalidArgument("\"\(address)\" is not host:port: \(form)")
            }
            host = address[..<colon]
            portText = address[address.index(after: colon)...]
        }
        guard !host.isEmpty, host.utf8.count <= 253 else {
            throw .invalidArgument("\"\(address)\" has no host: \(form)")
        }
        guard let port = UInt16(portText), port > 0 else {
            throw .invalidArgument("\"\(portText)\" is not a port (1 to 65535): \(form)")
        }
        self.init(host: String(host), port: port, nodeKey: key)
    }

    /// `host:port@nodekey`, parseable by ``init(parsing:)``.
    public var description: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)@\(nodeKey.hex)"
    }

    /// `host:port (node 1a2b3c4d…)`: for messages.
    public var shortDescription: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port) (node \(nodeKey.hex.prefix(8))…)"
    }

    /// Parses a list separated by commas or white space (the form of `MEDLEDGER_CONNECT`).
    public static func parseList(_ text: String) throws(LedgerClientError) -> [ClientEndpoint] {
        var endpoints: [ClientEndpoint] = []
        for part in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" }) {
            endpoints.append(try ClientEndpoint(parsing: String(part)))
        }
        return endpoints
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
    }
}

/// How a ``LedgerClient`` connects and how long it waits.
public struct ClientConfiguration: Sendable {
    /// The chain's genesis: its chain id for every signature, and its validator set, against which
    /// every state proof is checked.
    public var genesis: Genesis
    /// The nodes to use, in order of preference. Requests go to the first that answers; a dead
    /// node makes the client try the next.
    public var endpoints: [ClientEndpoint]
    /// How long to wait for a connection (TCP and handshake) to one endpoint.
    public var connectTimeout: Duration = .seconds(5)
    /// How long to wait for the answer to one request.
    public var requestTimeout: Duration = .seconds(15)
    /// How long `fetch_record` may take: the custodian waits up to 30 s for the access entry to commit.
    public var fetchTimeout: Duration = .seconds(40)
    /// How long ``LedgerClient/waitForCommit(_:timeout:)`` waits by default.
    public var commitTimeout: Duration = .seconds(60)
    /// How often ``LedgerClient/waitForCommit(_:timeout:)`` asks again.
    public var pollInterval: Duration = .milliseconds(200)

    /// A configuration with the default timeouts.
    public init(genesis: Genesis, endpoints: [ClientEndpoint]) {
        self.genesis = genesis
        self.endpoints = endpoints
    }

    /// The chain id every request and transaction is signed for.
    public var chainID: String { genesis.chainID }
}
