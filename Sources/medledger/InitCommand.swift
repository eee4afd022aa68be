import ArgumentParser
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNode

#if canImport(Glibc)
    import Glibc
#endif

/// The facility kinds a node may be created for, as the command line spells them.
enum FacilityKindArgument: String, ExpressibleByArgument, CaseIterable {
    case hospital
    case dentalClinic = "dental-clinic"
    case laboratory
    case familyPractice = "family-practice"

    var kind: FacilityKind {
        switch self {
        case .hospital: .hospital
        case .dentalClinic: .dentalClinic
        case .laboratory: .laboratory
        case .familyPractice: .familyPractice
        }
    }
}

/// `medledger init`: one facility's node home (keys, config.json, facility.json).
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a node home: fresh keys, config.json and the facility card.",
        discussion: """
            The home gets keys/ (mode 0700) with the node, validator, organisation and record keys (mode 0600), \
            config.json (every setting at its default; MEDLEDGER_* variables override them when the node runs), \
            data/, and facility.json: the facility's public card (name, kind, public keys, power, p2p address) \
            that the network's coordinator puts into the genesis. Copy the network's genesis.json into the home \
            before starting the node. Nothing is ever overwritten: the home must not exist, or be empty.
            """
    )

    @Option(help: "The home directory to create (must not exist, or be empty).")
    var home: String

    @Option(help: "The facility's name, as other facilities will see it.")
    var name: String

    @Option(help: "The kind of facility: \(FacilityKindArgument.allCases.map(\.rawValue).joined(separator: ", ")).")
    var kind: FacilityKindArgument

    @Option(help: "The chain id of the network this node will join.")
    var chainID: String = NodeConfig.defaultChainID

    @Option(help: "The facility's voting power as a validator.")
    var power: UInt64 = 10

    @Option(help: "host:port where other facilities reach this node (written to the facility card).")
    var p2pAddress: String?

    @Option(
        help: ArgumentHelp(
            "Seal the organisation key under the passphrase in this file (Protocol/KEYS.md advises it).",
            valueName: "file"))
    var organisationPassphraseFile: String?

    func run() throws {
        do {
            var address: HostPort?
            if let p2pAddress {
                do {
                    address = try HostPort(parsing: p2pAddress)
                } catch {
                    throw error.located(source: "--p2p-address")
                }
            }
            var protection = KeyFile.Protection.none
            if let organisationPassphraseFile {
                protection = .passphrase(try readPassphrase(organisationPassphraseFile))
            }
            let created = try NodeHome.create(
                at: home, name: name, kind: kind.kind, chainID: chainID, power: power, p2pAddress: address,
                organisationKeyProtection: protection)
            report(created, sealed: organisationPassphraseFile != nil, address: address)
        } catch let error as NodeConfigError {
            printError(error.description)
            throw ExitCode.failure
        }
    }

    private func report(_ home: NodeHome, sealed: Bool, address: HostPort?) {
        print("Created the node home of \(name) (\(kind.rawValue)) for chain \(chainID) in \(home.path)")
        print("")
        print("  facility card   \(home.facilityCardPath)   <- send this to the network's coordinator")
        print("  configuration   \(home.configPath)")
        print("  node key        \(home.nodeKeyPath)")
        print("  validator key   \(home.validatorKeyPath)")
        print("  organisation    \(home.organisationKeyPath)\(sealed ? "   (sealed)" : "")")
        print("  record key      \(home.recordKeyPath)")
        print("  data            \(home.dataDirectory)")
        print("  genesis         \(home.genesisPath)   (not yet: `medledger genesis install --home \(home.path) --genesis FILE --card ...`)")
        if !sealed {
            print("")
            print("The organisation key is not sealed. Protocol/KEYS.md advises sealing it and keeping it offline:")
            print("the node does not need it to run. Use --organisation-passphrase-file to seal it.")
        }
        if address == nil {
            print("")
            print("The facility card has no p2p address: give --p2p-address host:port so that others can dial this node.")
        }
    }

    /// The first line of `path`, as bytes (no trailing newline).
    private func readPassphrase(_ path: String) throws(NodeConfigError) -> SecureBytes {
        guard let file = fopen(path, "r") else {
            throw NodeConfigError(
                .unreadable, source: path, problem: "cannot read the passphrase file",
                fix: "check the path given to --organisation-passphrase-file")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        defer { for index in bytes.indices { bytes[index] = 0 } }
        while bytes.count < 4096 {
            let byte = fgetc(file)
            if byte == EOF || byte == 0x0A { break }
            bytes.append(UInt8(truncatingIfNeeded: byte))
        }
        if bytes.last == 0x0D { bytes.removeLast() }
        guard !bytes.isEmpty else {
            throw NodeConfigError(
                .invalidValue, source: path, problem: "the passphrase file's first line is empty",
                fix: "write the passphrase on its first line")
        }
        return SecureBytes(bytes)
    }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    let line = Array(("error: " + message + "\n").utf8)
    line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}
