import ArgumentParser
import MedLedgerLedger
import MedLedgerNode

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `medledger genesis`: a network's genesis from its facilities' cards; check it; install it.
struct GenesisCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genesis",
        abstract: "Build a multi-facility genesis from facility cards, verify one, or install one into a node home.",
        discussion: """
            Each facility runs `medledger init` and sends its facility.json (public keys only) around. Anyone \
            can then build the genesis: the same cards and --time give byte-identical files in any order \
            (facilities are ordered by validator key). Every facility rebuilds or verifies it and compares \
            the printed fingerprint with the others out of band (a phone call) before starting its node.
            """,
        subcommands: [GenesisBuild.self, GenesisVerify.self, GenesisInstall.self],
        defaultSubcommand: GenesisBuild.self
    )
}

/// Loads every `--card`, failing with the first unreadable one.
private func loadCards(_ paths: [String]) throws -> [GenesisAssembly.Source] {
    try paths.map { path in try reportingConfigError { try GenesisAssembly.loadCard(path) } }
}

/// Runs `body`, printing a ``NodeConfigError`` as the one-line message it is and exiting 1.
private func reportingConfigError<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as NodeConfigError {
        printError(error.description)
        throw ExitCode.failure
    }
}

private func printFingerprint(_ genesis: Genesis) {
    print("  chain id     \(genesis.chainID)")
    print("  time         \(genesis.genesisTime)")
    print("  facilities   \(genesis.facilities.count)")
    for (index, facility) in genesis.facilities.enumerated() {
        print("    \(index)  \(facility.name) (\(facility.kind.name)), power \(facility.power), validator \(facility.validatorKey.hex.prefix(16))…")
    }
    print("  genesis hash \(genesis.hash.hex)")
    print("  fingerprint  \(GenesisAssembly.fingerprint(genesis))")
}

/// `medledger genesis [build] --card A --card B ... --out FILE`.
struct GenesisBuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Assemble facility cards into genesis.json (the default of `medledger genesis`).")

    @Option(name: .customLong("card"), help: ArgumentHelp("A facility's facility.json; once per facility.", valueName: "file"))
    var cards: [String] = []

    @Option(help: "The chain id; every card must be of it (default: the cards' common chain id).")
    var chainID: String?

    @Option(help: "The genesis time, ms since the Unix epoch (default: now). Give the same value to rebuild the same file.")
    var time: UInt64?

    @Option(help: ArgumentHelp("Where to write the genesis.", valueName: "file"))
    var out: String

    func run() throws {
        let sources = try loadCards(cards)
        let time = self.time ?? UInt64(Date().timeIntervalSince1970 * 1000)
        let genesis = try reportingConfigError { try GenesisAssembly.assemble(sources, chainID: chainID, time: time) }
        let bytes = GenesisAssembly.fileBytes(genesis)
        if FileManager.default.fileExists(atPath: out) {
            let present = FileManager.default.contents(atPath: out).map { Array($0) }
            guard present == bytes else {
                printError("\(out): a different file is already there; choose another --out, or delete it if it is not needed")
                throw ExitCode.failure
            }
        } else {
            try reportingConfigError { try GenesisAssembly.write(bytes, to: out) }
        }
        print("Wrote the genesis of \(sources.count) facilit\(sources.count == 1 ? "y" : "ies") to \(out)")
        printFingerprint(genesis)
        print("")
        print("Every facility compares this fingerprint out of band, then installs the file:")
        print("  medledger genesis verify --genesis \(out) \(cards.map { "--card \($0)" }.joined(separator: " "))")
        print("  medledger genesis install --home HOME --genesis \(out) \(cards.map { "--card \($0)" }.joined(separator: " "))")
        if self.time == nil {
            print("")
            print("To rebuild the same bytes elsewhere, give --time \(time) and the same cards.")
        }
    }
}

/// `medledger genesis verify --genesis G --card A ...` (or `--home H`).
struct GenesisVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a genesis holds exactly the given cards' facilities, and print its fingerprint.",
        discussion: """
            With --home, the genesis defaults to HOME/genesis.json and the home's own facility.json is one \
            of the cards. With no --card, only the home's own facility is checked to be in the genesis.
            """)

    @Option(help: ArgumentHelp("The genesis file.", valueName: "file")) var genesis: String?
    @Option(help: ArgumentHelp("A node home: its genesis.json and its facility.json.", valueName: "dir")) var home: String?
    @Option(name: .customLong("card"), help: ArgumentHelp("A facility's facility.json; once per facility.", valueName: "file"))
    var cards: [String] = []

    func validate() throws {
        guard genesis != nil || home != nil else { throw ValidationError("give --genesis FILE, or --home DIR of a node") }
    }

    func run() throws {
        let nodeHome = home.map { NodeHome($0) }
        let path = genesis ?? nodeHome!.genesisPath
        var sources = try loadCards(cards)
        if let nodeHome { sources.append(try reportingConfigError { try GenesisAssembly.loadCard(nodeHome.facilityCardPath) }) }
        let exact = !cards.isEmpty
        let (genesis, _) = try reportingConfigError { try GenesisAssembly.loadGenesis(path) }
        try reportingConfigError { try GenesisAssembly.verify(genesis, source: path, cards: sources, exact: exact) }
        print(
            exact
                ? "\(path) holds exactly the facilities of the \(cards.count) card\(cards.count == 1 ? "" : "s") given."
                : "\(path) holds this home's facility (\(sources.last!.card.name)); give every --card to check the whole set.")
        printFingerprint(genesis)
        print("")
        print("Compare the fingerprint with every other facility (by phone, not by the channel the file came through).")
    }
}

/// `medledger genesis install --home H --genesis G --card A ...`.
struct GenesisInstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install a genesis into a node home and list the other facilities as persistent peers.",
        discussion: """
            Checks the genesis first (it must hold the home's own facility and every card's, and be of the \
            home's chain), copies it to HOME/genesis.json byte for byte (a different genesis already there is \
            never replaced), and adds every other card's p2p address to persistent_peers in HOME/config.json.
            """)

    @Option(help: ArgumentHelp("The node home (made by `medledger init`).", valueName: "dir")) var home: String
    @Option(help: ArgumentHelp("The genesis file.", valueName: "file")) var genesis: String
    @Option(name: .customLong("card"), help: ArgumentHelp("Another facility's facility.json, for its p2p address.", valueName: "file"))
    var cards: [String] = []

    func run() throws {
        let nodeHome = NodeHome(home)
        let sources = try loadCards(cards)
        let installed = try reportingConfigError {
            let (_, bytes) = try GenesisAssembly.loadGenesis(genesis)
            return try nodeHome.installGenesis(bytes: bytes, source: genesis, cards: sources)
        }
        print(
            installed.wroteGenesis
                ? "Installed \(genesis) as \(nodeHome.genesisPath)" : "\(nodeHome.genesisPath) already holds this genesis")
        printFingerprint(installed.genesis)
        print("  peers        \(installed.peers.count) in \(nodeHome.configPath)")
        for peer in installed.peers { print("    \(peer)") }
        for source in sources where source.card.p2pAddress == nil {
            print("note: \(source.path) has no p2p address; add that facility's node to persistent_peers by hand (NODEKEYHEX@host:port)")
        }
        print("")
        print("Start the node: medledger node --home \(home)")
    }
}
