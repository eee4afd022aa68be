import ArgumentParser
import Logging
import MedLedgerClient
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNode
import MedLedgerStore
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#endif

/// A mistake a client command reports: what was wrong and what to do; exit code 2 for a local
/// mistake (arguments, files), 1 for what the network said.
struct ClientCommandError: Error, CustomStringConvertible {
    var description: String
    var exitCode: Int32

    /// A mistake in what was given (arguments, key files, hex): exit code 2.
    static func usage(_ message: String) -> ClientCommandError { ClientCommandError(description: message, exitCode: 2) }
    /// The network's answer or the network itself: exit code 1.
    static func network(_ message: String) -> ClientCommandError { ClientCommandError(description: message, exitCode: 1) }
}

/// Runs a client command's body: every error is printed as what was wrong and what to do, and
/// becomes a non-zero exit code (2 for local mistakes, 1 for the network's refusals).
func runClientCommand(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ClientCommandError {
        printError(error.description)
        throw ExitCode(error.exitCode)
    } catch let error as LedgerClientError {
        printError(error.description)
        switch error {
        case .invalidArgument, .file: throw ExitCode(2)
        default: throw ExitCode(1)
        }
    } catch let error as NodeConfigError {
        printError(error.description)
        throw ExitCode(2)
    }
}

/// How a client command reaches the network: node homes, explicit endpoints, or `MEDLEDGER_CONNECT`.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("node"),
        help: ArgumentHelp(
            "A node home, or a directory of node homes (as `medledger testnet` makes): its genesis.json, the node key "
                + "in facility.json and the client port in ports.json (repeatable).",
            valueName: "home"))
    var nodes: [String] = []

    @Option(
        name: .customLong("connect"),
        help: ArgumentHelp("A node's client port and node key, host:port@nodekeyhex (repeatable).", valueName: "endpoint"))
    var endpoints: [String] = []

    @Option(help: ArgumentHelp("The chain's genesis.json, when no --node gives it (or MEDLEDGER_GENESIS).", valueName: "file"))
    var genesis: String?

    @Option(help: ArgumentHelp("Seconds to wait for one answer.", valueName: "seconds"))
    var timeout: Int = 15

    static let connectVariable = "MEDLEDGER_CONNECT"
    static let genesisVariable = "MEDLEDGER_GENESIS"

    func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout is 1 to 3600 seconds, not \(timeout)") }
    }

    /// The genesis and endpoints these options name.
    func resolve(environment: [String: String] = currentEnvironment(), defaultHome: String? = nil) throws
        -> (genesis: Genesis, endpoints: [ClientEndpoint])
    {
        var homes: [NodeHome] = []
        for path in nodes.isEmpty && endpoints.isEmpty ? (defaultHome.map { [$0] } ?? []) : nodes {
            homes += try Self.homes(at: path)
        }
        var endpoints: [ClientEndpoint] = []
        var genesis: Genesis?
        for home in homes {
            let homeGenesis = try home.loadGenesis()
            if let genesis, genesis.hash != homeGenesis.hash {
                throw ClientCommandError.usage(
                    "\(home.genesisPath) is another chain's genesis than the other homes' (\(homeGenesis.chainID) vs \(genesis.chainID)); "
                        + "give homes of one network only")
            }
            genesis = homeGenesis
            endpoints.append(try Self.endpoint(of: home))
        }
        var texts = self.endpoints
        if nodes.isEmpty, self.endpoints.isEmpty, homes.isEmpty, let variable = environment[Self.connectVariable] {
            texts = [variable]
        }
        for text in texts {
            do {
                endpoints += try ClientEndpoint.parseList(text)
            } catch {
                throw ClientCommandError.usage("--connect: \(error.description)")
            }
        }
        if let path = genesis == nil ? (self.genesis ?? environment[Self.genesisVariable]) : self.genesis {
            let file = try Self.genesis(at: path)
            if let genesis, genesis.hash != file.hash {
                throw ClientCommandError.usage("\(path) is not the genesis of the node homes given (chain \(genesis.chainID)); drop --genesis or give the right file")
            }
            genesis = file
        }
        guard !endpoints.isEmpty else {
            throw ClientCommandError.usage(
                "no node to talk to: give --node HOME (a node home or a testnet directory), or --connect host:port@nodekey "
                    + "(or set \(Self.connectVariable))")
        }
        guard let genesis else {
            throw ClientCommandError.usage(
                "no genesis: with --connect, give --genesis FILE (the network's genesis.json, or set \(Self.genesisVariable)); "
                    + "the client checks every proof against its validators")
        }
        return (genesis, endpoints)
    }

    /// A client of the network these options name.
    func client(defaultHome: String? = nil) throws -> LedgerClient {
        let (genesis, endpoints) = try resolve(defaultHome: defaultHome)
        var configuration = ClientConfiguration(genesis: genesis, endpoints: endpoints)
        configuration.requestTimeout = .seconds(timeout)
        configuration.commitTimeout = .seconds(max(60, timeout * 2))
        var logger = Logger(label: "medledger.client")
        logger.logLevel = currentEnvironment()["MEDLEDGER_CLIENT_LOG"] == nil ? .critical : .debug
        return try LedgerClient(configuration: configuration, logger: logger)
    }

    /// A node home, or every node home directly inside a directory (sorted by name).
    static func homes(at path: String) throws -> [NodeHome] {
        let fs = PosixFileSystem()
        let home = NodeHome(path)
        if fs.exists(home.genesisPath) || fs.exists(home.facilityCardPath) { return [home] }
        guard fs.exists(path) else {
            throw ClientCommandError.usage("--node \(path): no such directory; give a node home (with genesis.json) or a testnet directory")
        }
        let children = ((try? fs.list(path)) ?? []).sorted().map { NodeHome(Path.join(path, $0)) }.filter { fs.exists($0.genesisPath) }
        guard !children.isEmpty else {
            throw ClientCommandError.usage(
                "--node \(path): neither a node home (no genesis.json) nor a directory of node homes; "
                    + "give the home `medledger init` or `medledger testnet` made")
        }
        return children
    }

    /// The client endpoint of a node home: host from config.json, port from ports.json (the node
    /// writes it when running) or config.json, node key from facility.json.
    static func endpoint(of home: NodeHome) throws -> ClientEndpoint {
        let card = try home.loadFacilityCard()
        let config = try home.loadConfig(environment: [:])
        var host = config.clientListen.host
        if host == "0.0.0.0" || host.isEmpty { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        var port = config.clientListen.port
        if let ports = try home.loadPorts() { port = ports.client }
        guard port != 0 else {
            throw ClientCommandError.usage(
                "\(home.path): the node's client port is chosen when it starts and it has no ports.json yet; "
                    + "start the node (`medledger node --home \(home.path)`), then try again")
        }
        return ClientEndpoint(host: host, port: port, nodeKey: card.nodeKey)
    }

    static func genesis(at path: String) throws -> Genesis {
        let bytes: [UInt8]
        do {
            bytes = try PosixFileSystem().readAll(path)
        } catch {
            throw ClientCommandError.usage("--genesis \(path): cannot read it (\(error.message)); give the network's genesis.json")
        }
        guard bytes.count <= 16 << 20, let text = String(validating: bytes, as: UTF8.self) else {
            throw ClientCommandError.usage("--genesis \(path): not a genesis.json (not UTF-8 text, or too large)")
        }
        do {
            return try Genesis(json: text)
        } catch {
            throw ClientCommandError.usage("--genesis \(path): \(error.reason); use the network's genesis.json unchanged")
        }
    }
}

/// The party a command signs for: its key file and, where records are read, its record key.
struct PartyKeyOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The party's signing key file (ed25519, from `medledger keygen`); its record key is read from the file beside "
                + "it (NAME.record.key) when needed.",
            valueName: "file"))
    var key: String

    @Option(help: ArgumentHelp("The party's record key file (x25519), if not beside --key.", valueName: "file"))
    var recordKey: String?

    @Option(help: ArgumentHelp("Open sealed key files with the passphrase on this file's first line.", valueName: "file"))
    var passphraseFile: String?

    func load(requireRecordKey: Bool = false) throws -> PartyKeys {
        let passphrase = try passphraseFile.map { try readPassphraseFile($0) }
        return try PartyKeys.load(
            signingKeyPath: key, encryptionKeyPath: recordKey, requireEncryption: requireRecordKey, passphrase: passphrase)
    }
}

/// The first line of a passphrase file.
func readPassphraseFile(_ path: String) throws -> SecureBytes {
    var bytes: [UInt8]
    do {
        bytes = try PosixFileSystem().readAll(path)
    } catch {
        throw ClientCommandError.usage("--passphrase-file \(path): cannot read it (\(error.message))")
    }
    defer { for index in bytes.indices { bytes[index] = 0 } }
    let line = bytes.prefix { $0 != 0x0A && $0 != 0x0D }
    guard !line.isEmpty else { throw ClientCommandError.usage("--passphrase-file \(path): the first line is empty") }
    return SecureBytes(Array(line))
}

/// A 32-byte key or id given in hex.
func parseKey(_ text: String, _ option: String, what: String = "key") throws -> Bytes32 {
    let trimmed = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
    guard trimmed.utf8.count == 64, let key = Bytes32(hex: trimmed.lowercased()) else {
        throw ClientCommandError.usage(
            "\(option) \"\(text.prefix(80))\" is not a \(what): give 64 hex digits (32 bytes)"
                + (trimmed.utf8.count == 64 ? " (only 0-9 and a-f)" : ", not \(trimmed.utf8.count)"))
    }
    return key
}

/// A party named by hex key, or a genesis facility by its name.
func parseParty(_ text: String, _ option: String, genesis: Genesis) throws -> Bytes32 {
    if let facility = genesis.facilities.first(where: { $0.name.lowercased() == text.lowercased() }) {
        return facility.organisationKey
    }
    guard text.utf8.count == 64 || text.hasPrefix("0x") else {
        let names = genesis.facilities.map { "\"\($0.name)\"" }.joined(separator: ", ")
        throw ClientCommandError.usage(
            "\(option) \"\(text.prefix(80))\" is neither a key (64 hex digits) nor a facility of chain \(genesis.chainID) (\(names))")
    }
    return try parseKey(text, option)
}

/// A time given as ms since the epoch, `now`, `now+30d` / `+12h` / `+90m` / `+45s`, or a date
/// `YYYY-MM-DD` (UTC midnight).
func parseTime(_ text: String, _ option: String, now: UInt64) throws -> UInt64 {
    let form = "give ms since the epoch, now, +30d (days, h, m, s from now) or a date YYYY-MM-DD"
    if text == "now" { return now }
    var relative = Substring(text)
    if relative.hasPrefix("now") { relative = relative.dropFirst(3) }
    if relative.hasPrefix("+"), let unit = relative.last, let amount = UInt64(relative.dropFirst().dropLast()) {
        let scale: UInt64? = ["d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000][unit]
        guard let scale, amount <= UInt64.max / scale / 2 else { throw ClientCommandError.usage("\(option) \"\(text)\": \(form)") }
        return now + amount * scale
    }
    if let milliseconds = UInt64(text) { return milliseconds }
    let parts = text.split(separator: "-")
    if parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
        (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day)
    {
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return UInt64(days) * 86_400_000
    }
    throw ClientCommandError.usage("\(option) \"\(text.prefix(40))\": \(form)")
}

/// `2026-11-25 12:13:48 UTC` for ms since the epoch.
func formatTime(_ milliseconds: UInt64) -> String {
    var seconds = time_t(milliseconds / 1000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
}

/// Milliseconds since the epoch.
func nowMilliseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return UInt64(spec.tv_sec) * 1000 + UInt64(spec.tv_nsec) / 1_000_000
}

/// The process environment.
func currentEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let text = String(cString: entry)
        if let equals = text.firstIndex(of: "=") { result[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
        pointer += 1
    }
    return result
}

/// A readable name for a party key: a facility's name from the genesis, else a short hex.
func partyName(_ key: Bytes32, genesis: Genesis) -> String {
    genesis.facilities.first { $0.organisationKey == key }?.name ?? String(key.hex.prefix(16)) + "…"
}
