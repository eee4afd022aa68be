import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

/// A multi-party genesis: the facilities' public cards (`facility.json`, from `medledger init`)
/// put together into one `genesis.json` that every facility can rebuild or check on its own.
///
/// The assembly is deterministic: the facilities are ordered by validator key (ascending bytes),
/// so the same cards and time give byte-identical files whatever order the cards were given in,
/// and each facility can compare the genesis hash (``fingerprint(_:)``) out of band before
/// starting its node.
public enum GenesisAssembly {
    /// A facility card and the file it was read from (named in every error).
    public struct Source: Sendable, Hashable {
        public var path: String
        public var card: FacilityCard

        public init(path: String, card: FacilityCard) {
            self.path = path
            self.card = card
        }
    }

    /// Reads a facility card file; every error names the file.
    public static func loadCard(_ path: String) throws(NodeConfigError) -> Source {
        let bytes: [UInt8]
        do {
            bytes = try PosixFileSystem().readAll(path)
        } catch {
            throw NodeConfigError(
                .unreadable, source: path,
                problem: error.code == .notFound ? "the facility card is missing" : "cannot read the facility card: \(error.message)",
                fix: "give the path of a facility.json that `medledger init` wrote (ask the facility to send it again)")
        }
        return Source(path: path, card: try NodeJSON.decode(FacilityCard.self, from: bytes, source: path))
    }

    /// The facilities of `cards` in genesis order: by validator key, ascending bytes.
    public static func canonicalOrder(_ cards: [Source]) -> [Source] {
        cards.sorted { $0.card.validatorKey.bytes.lexicographicallyPrecedes($1.card.validatorKey.bytes) }
    }

    /// Checks that `cards` can make one genesis: at least one, all of `chainID` (or of one chain,
    /// when nil), no key of any kind used twice. Returns the chain id.
    @discardableResult
    public static func check(_ cards: [Source], chainID: String? = nil) throws(NodeConfigError) -> String {
        guard let first = cards.first else {
            throw NodeConfigError(
                .invalidValue, source: "--card", problem: "no facility cards were given",
                fix: "give one --card FILE for each facility of the network (at least one)")
        }
        guard cards.count <= Genesis.maxFacilities else {
            throw NodeConfigError(
                .invalidValue, source: "--card", value: String(cards.count),
                problem: "a genesis holds at most \(Genesis.maxFacilities) facilities", fix: "give fewer cards")
        }
        let chain = chainID ?? first.card.chainID
        if chainID != nil {
            guard ChainID.isValid(chain) else {
                throw NodeConfigError(
                    .invalidValue, source: "--chain-id", value: chain,
                    problem: "a chain id is 1 to 64 characters of a-z 0-9 - . _", fix: "choose one such as medledger-prod")
            }
        }
        for source in cards where source.card.chainID != chain {
            throw NodeConfigError(
                .invalidValue, source: source.path, member: "chain_id", value: source.card.chainID,
                problem: chainID != nil
                    ? "this card is for another chain than --chain-id \(chain)"
                    : "this card is for another chain than \(first.path) (\(chain))",
                fix: "every facility must run `medledger init --chain-id` with the same id; ask this facility to make its "
                    + "home again for chain \(chain), or leave its card out")
        }
        var seen: [Bytes32: (card: Int, member: String)] = [:]
        for (index, source) in cards.enumerated() {
            let keys: [(String, Bytes32)] = [
                ("organisation_key", source.card.organisationKey), ("validator_key", source.card.validatorKey),
                ("node_key", source.card.nodeKey), ("record_key", source.card.recordKey),
            ]
            for (member, key) in keys {
                if let earlier = seen[key] {
                    let other = cards[earlier.card]
                    let problem =
                        earlier.card == index
                        ? "this key is also this card's \(earlier.member)"
                        : "this key is also \(earlier.member) of \(other.path == source.path ? "the same file, given twice" : other.path)"
                    throw NodeConfigError(
                        .invalidValue, source: source.path, member: member, value: key.hex, problem: problem,
                        fix: other.card == source.card
                            ? "the same card was given twice, or a card was copied: give each facility's card once"
                            : "every facility needs its own keys: the facility whose card this is must make a new home with "
                                + "`medledger init` (a copied keys/ directory is the usual cause)")
                }
                seen[key] = (index, member)
            }
        }
        return chain
    }

    /// Assembles the genesis of `cards` at `time` (ms since the epoch), after ``check(_:chainID:)``.
    public static func assemble(
        _ cards: [Source], chainID: String? = nil, time: UInt64, parameters: LedgerParameters = .init()
    ) throws(NodeConfigError) -> Genesis {
        let chain = try check(cards, chainID: chainID)
        do {
            return try Genesis(
                chainID: chain, genesisTime: time, facilities: canonicalOrder(cards).map(\.card.facility),
                parameters: parameters)
        } catch {
            throw NodeConfigError(.genesis, source: "--card", problem: error.reason, fix: "check the cards given")
        }
    }

    /// The file's bytes: pretty JSON and a newline, as every node holds it.
    public static func fileBytes(_ genesis: Genesis) -> [UInt8] { Array(genesis.json.prettyDescription.utf8) + [0x0A] }

    /// The genesis hash in groups of four hex digits, for people to read to each other.
    public static func fingerprint(_ genesis: Genesis) -> String {
        let hex = Array(genesis.hash.hex)
        return stride(from: 0, to: hex.count, by: 4).map { String(hex[$0..<min($0 + 4, hex.count)]) }.joined(separator: " ")
    }

    /// Reads a genesis file; errors name the file.
    public static func loadGenesis(_ path: String) throws(NodeConfigError) -> (genesis: Genesis, bytes: [UInt8]) {
        let home = NodeHome("/")
        let bytes = try home.readFile(path, what: "the genesis", fix: "give the path of the network's genesis.json")
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw NodeConfigError(.genesis, source: path, problem: "the file is not UTF-8 text", fix: "get the genesis file again")
        }
        do {
            return (try Genesis(json: text), bytes)
        } catch {
            throw NodeConfigError(.genesis, source: path, problem: error.reason, fix: "get the network's genesis.json again, unchanged")
        }
    }

    /// Checks that `genesis` holds exactly the facilities of `cards` (when `exact`), or at least
    /// them, each with the same name, kind, keys and power, and is of their chain.
    public static func verify(_ genesis: Genesis, source: String, cards: [Source], exact: Bool = true) throws(NodeConfigError) {
        for card in cards where card.card.chainID != genesis.chainID {
            throw NodeConfigError(
                .genesis, source: source, member: "chain_id", value: genesis.chainID,
                problem: "the genesis is of another chain than the card \(card.path) (\(card.card.chainID))",
                fix: "make sure this is the network's genesis, and that the card is of that network")
        }
        var unmatched = genesis.facilities
        for card in cards {
            guard let index = unmatched.firstIndex(where: { $0.validatorKey == card.card.validatorKey }) else {
                if genesis.facilities.contains(card.card.facility) { continue }  // the same card given twice
                throw NodeConfigError(
                    .genesis, source: source, problem: "the facility of \(card.path) (\(card.card.name)) is not in this genesis",
                    fix: "ask the coordinator for a genesis built with this card (medledger genesis --card ...)")
            }
            guard unmatched[index] == card.card.facility else {
                throw NodeConfigError(
                    .genesis, source: source,
                    problem: "the facility with the validator key of \(card.path) differs from the card (name, kind, keys or power)",
                    fix: "do not start a node on this genesis: build it again from the cards and compare fingerprints")
            }
            unmatched.remove(at: index)
        }
        if exact, let extra = unmatched.first {
            throw NodeConfigError(
                .genesis, source: source,
                problem: "the genesis holds \(unmatched.count) facilit\(unmatched.count == 1 ? "y" : "ies") no card was given for, "
                    + "such as \(extra.name) (validator key \(extra.validatorKey.hex.prefix(16))…)",
                fix: "give every facility's card, or find out who added this facility before starting a node")
        }
    }

    /// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
    public static func write(_ bytes: [UInt8], to path: String) throws(NodeConfigError) {
        try NodeHome("/").writeFile(path, bytes)
    }
}

extension NodeHome {
    /// What ``installGenesis(bytes:cards:)`` did.
    public struct GenesisInstallation: Sendable {
        public var genesis: Genesis
        /// Whether genesis.json was written (false: the same bytes were already there).
        public var wroteGenesis: Bool
        public var peers: [PeerAddress]
    }

    /// Installs a network's genesis into this home and lists the other facilities as persistent
    /// peers in `config.json`, from their cards' p2p addresses.
    ///
    /// Checks first, writes nothing on failure: the genesis must parse, be of the chain of this
    /// home's `config.json`, and hold this home's own facility (from `facility.json`) and every
    /// card's; a different `genesis.json` already in the home is never replaced.
    @discardableResult
    public func installGenesis(bytes: [UInt8], source: String, cards: [GenesisAssembly.Source]) throws(NodeConfigError)
        -> GenesisInstallation
    {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw NodeConfigError(.genesis, source: source, problem: "the file is not UTF-8 text", fix: "get the genesis file again")
        }
        let genesis: Genesis
        do {
            genesis = try Genesis(json: text)
        } catch {
            throw NodeConfigError(.genesis, source: source, problem: error.reason, fix: "get the network's genesis.json again, unchanged")
        }
        let own = GenesisAssembly.Source(path: facilityCardPath, card: try loadFacilityCard())
        try GenesisAssembly.verify(genesis, source: source, cards: [own] + cards, exact: false)
        var config = try loadConfig(environment: [:])
        guard config.chainID == genesis.chainID else {
            throw NodeConfigError(
                .genesis, source: source, member: "chain_id", value: genesis.chainID,
                problem: "the genesis is of another chain than \(configPath) (\(config.chainID))",
                fix: "install the genesis of chain \(config.chainID), or make this home again for chain \(genesis.chainID)")
        }
        var wrote = true
        if PosixFileSystem().exists(genesisPath) {
            let present = try readFile(genesisPath, what: "the installed genesis", fix: "check the file's permissions")
            guard present == bytes else {
                throw NodeConfigError(
                    .genesis, source: genesisPath, problem: "a different genesis is already installed here",
                    fix: "a node's genesis never changes: if this home has not started yet and the old file is wrong, "
                        + "delete \(genesisPath) and install again")
            }
            wrote = false
        }
        var peers = config.persistentPeers
        for card in cards where card.card.nodeKey != own.card.nodeKey {
            guard let peer = card.card.peerAddress else { continue }
            peers.removeAll { $0.nodeKey == peer.nodeKey }
            peers.append(peer)
        }
        config.persistentPeers = peers
        if wrote { try writeGenesis(bytes: bytes) }
        try writeConfig(config)
        return GenesisInstallation(genesis: genesis, wroteGenesis: wrote, peers: peers)
    }
}
