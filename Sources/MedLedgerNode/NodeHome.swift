import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#endif

/// A node's home directory: its configuration, genesis, keys and data.
///
/// ```
/// HOME/
///   config.json          settings (NodeConfig), overridden by MEDLEDGER_* variables
///   genesis.json         the chain's genesis (Protocol/LEDGER.md section 2), the same bytes on every node
///   facility.json        this facility's public card: name, kind, public keys, power, p2p address
///   ports.json           written by a running node: the ports it bound {"p2p", "client", "metrics"}
///   keys/                mode 0700; key files (Protocol/KEYS.md), mode 0600
///     node.key           Ed25519, transport identity
///     validator.key      Ed25519, consensus votes
///     organisation.key   Ed25519, the facility's organisation key
///     record.key         X25519, receives wrapped record keys
///   data/
///     log/               the segment log
///     signer-state       what this validator last signed
///     blobs/             encrypted record blobs
/// ```
///
/// A value holding a path; nothing is read until asked.
public struct NodeHome: Sendable, Hashable, CustomStringConvertible {
    public let path: String

    public init(_ path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    public var description: String { path }

    // MARK: Layout

    public var configPath: String { Path.join(path, "config.json") }
    public var genesisPath: String { Path.join(path, "genesis.json") }
    public var facilityCardPath: String { Path.join(path, "facility.json") }
    public var portsPath: String { Path.join(path, "ports.json") }
    public var keysDirectory: String { Path.join(path, "keys") }
    public var nodeKeyPath: String { Path.join(keysDirectory, "node.key") }
    public var validatorKeyPath: String { Path.join(keysDirectory, "validator.key") }
    public var organisationKeyPath: String { Path.join(keysDirectory, "organisation.key") }
    public var recordKeyPath: String { Path.join(keysDirectory, "record.key") }
    public var dataDirectory: String { Path.join(path, "data") }
    /// The segment log's directory.
    public var logDirectory: String { Path.join(dataDirectory, "log") }
    /// The directory of the signer state file (``SignerStateFile``'s `directory`).
    public var signerStateDirectory: String { dataDirectory }
    public var signerStatePath: String { Path.join(dataDirectory, SignerStateFile.fileName) }
    public var blobsDirectory: String { Path.join(dataDirectory, "blobs") }

    /// `path` as given if absolute, otherwise relative to the home (for `key_log`).
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : Path.join(self.path, path)
    }

    /// The key log's path from `config`, resolved against the home; nil when the log is off.
    public func keyLogPath(_ config: NodeConfig) -> String? { config.keyLog.map(resolve) }

    // MARK: Loading

    /// ``NodeConfig/load(home:environment:)`` for this home.
    public func loadConfig(environment: [String: String] = NodeConfig.processEnvironment) throws(NodeConfigError)
        -> NodeConfig
    {
        try NodeConfig.load(home: self, environment: environment)
    }

    public func loadNodeKey() throws(NodeConfigError) -> Ed25519.PrivateKey {
        try loadSigningKey(nodeKeyPath, what: "node key")
    }

    public func loadValidatorKey() throws(NodeConfigError) -> Ed25519.PrivateKey {
        try loadSigningKey(validatorKeyPath, what: "validator key")
    }

    /// - Parameter passphrase: needed if the key was sealed (Protocol/KEYS.md section 6).
    public func loadOrganisationKey(passphrase: SecureBytes? = nil) throws(NodeConfigError) -> Ed25519.PrivateKey {
        try loadSigningKey(organisationKeyPath, what: "organisation key", passphrase: passphrase)
    }

    public func loadRecordKey() throws(NodeConfigError) -> X25519.PrivateKey {
        try keyFile(recordKeyPath, what: "record key") { try X25519.PrivateKey(keyFile: recordKeyPath) }
    }

    /// The genesis, read with the ledger's parser and validated.
    public func loadGenesis() throws(NodeConfigError) -> Genesis {
        let bytes = try readFile(
            genesisPath, what: "the chain's genesis",
            fix: "copy the network's genesis.json here (every node must hold the same file)")
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw NodeConfigError(
                .genesis, source: genesisPath, problem: "the file is not UTF-8 text",
                fix: "copy the network's genesis.json here again")
        }
        do {
            return try Genesis(json: text)
        } catch {
            throw NodeConfigError(
                .genesis, source: genesisPath, problem: error.reason,
                fix: "use the network's genesis.json unchanged (every node must hold the same file)")
        }
    }

    /// The genesis, checked to be of the chain `config` names.
    public func loadGenesis(for config: NodeConfig) throws(NodeConfigError) -> Genesis {
        let genesis = try loadGenesis()
        guard genesis.chainID == config.chainID else {
            throw NodeConfigError(
                .genesis, source: genesisPath, member: "chain_id", value: genesis.chainID,
                problem: "the genesis is of another chain than config.json's chain_id \(config.chainID)",
                fix: "copy the genesis.json of chain \(config.chainID) here, or correct chain_id in \(configPath)")
        }
        return genesis
    }

    public func loadFacilityCard() throws(NodeConfigError) -> FacilityCard {
        let bytes = try readFile(
            facilityCardPath, what: "this facility's card", fix: "create the home with `medledger init`")
        return try NodeJSON.decode(FacilityCard.self, from: bytes, source: facilityCardPath)
    }

    /// The ports a running node wrote; nil when there is no `ports.json` (the node has not bound yet).
    public func loadPorts() throws(NodeConfigError) -> BoundPorts? {
        guard PosixFileSystem().exists(portsPath) else { return nil }
        let bytes = try readFile(portsPath, what: "the bound ports", fix: "restart the node to write it again")
        return try NodeJSON.decode(BoundPorts.self, from: bytes, source: portsPath)
    }

    // MARK: Writing

    /// Writes `config.json` atomically.
    public func writeConfig(_ config: NodeConfig) throws(NodeConfigError) {
        try config.validate()
        try writeFile(configPath, NodeJSON.encode(config))
    }

    /// Writes `genesis.json` atomically (pretty JSON, Protocol/LEDGER.md section 2).
    public func writeGenesis(_ genesis: Genesis) throws(NodeConfigError) {
        try writeFile(genesisPath, Array(genesis.json.prettyDescription.utf8) + [0x0A])
    }

    /// Writes `genesis.json` as exactly these bytes (a genesis file received from elsewhere).
    public func writeGenesis(bytes: [UInt8]) throws(NodeConfigError) {
        try writeFile(genesisPath, bytes)
    }

    /// Writes `ports.json` atomically: what a running node bound, for tools that asked for port 0.
    public func writePorts(_ ports: BoundPorts) throws(NodeConfigError) {
        try writeFile(portsPath, NodeJSON.encode(ports))
    }

    func writeFile(_ path: String, _ bytes: [UInt8]) throws(NodeConfigError) {
        do {
            try PosixFileSystem().writeAtomically(bytes, to: path)
        } catch {
            throw NodeConfigError(
                .io, source: path, problem: "cannot write the file: \(error.message)",
                fix: "check that the directory exists and is writable by this user")
        }
    }

    func readFile(_ path: String, what: String, fix: String) throws(NodeConfigError) -> [UInt8] {
        do {
            return try PosixFileSystem().readAll(path)
        } catch {
            if error.code == .notFound {
                throw NodeConfigError(.unreadable, source: path, problem: "\(what) is missing", fix: fix)
            }
            throw NodeConfigError(
                .unreadable, source: path, problem: "cannot read \(what): \(error.message)",
                fix: "check the file's permissions")
        }
    }

    private func loadSigningKey(_ path: String, what: String, passphrase: SecureBytes? = nil) throws(NodeConfigError)
        -> Ed25519.PrivateKey
    {
        try keyFile(path, what: what) { try Ed25519.PrivateKey(keyFile: path, passphrase: passphrase) }
    }

    private func keyFile<Key>(_ path: String, what: String, _ read: () throws -> Key) throws(NodeConfigError) -> Key {
        guard PosixFileSystem().exists(path) || isSymbolicLink(path) else {
            throw NodeConfigError(
                .unreadable, source: path, problem: "the \(what) file is missing",
                fix: "restore it from your backup (a lost key cannot be made again), or create a new home with `medledger init`")
        }
        do {
            return try read()
        } catch let error as CryptoError {
            // KeyFile's messages start with the path already; keep the rest.
            var message = error.message
            if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }
            throw NodeConfigError(
                .keyFile, source: path, problem: "cannot use the \(what): \(message)",
                fix: "see Protocol/KEYS.md; restore the file from your backup if it was damaged")
        } catch {
            throw NodeConfigError(
                .keyFile, source: path, problem: "cannot use the \(what): \(error)", fix: "see Protocol/KEYS.md")
        }
    }
}

/// The ports a running node bound: `ports.json` in its home.
public struct BoundPorts: Codable, Sendable, Hashable {
    public var p2p: UInt16
    public var client: UInt16
    /// nil when the metrics endpoint is off.
    public var metrics: UInt16?

    public init(p2p: UInt16, client: UInt16, metrics: UInt16?) {
        self.p2p = p2p
        self.client = client
        self.metrics = metrics
    }
}

func isSymbolicLink(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
}
