import Foundation
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNode
import MedLedgerWire
import Testing

/// The permission bits of `path` (lstat).
func mode(_ path: String) -> mode_t {
    var info = stat()
    guard lstat(path, &info) == 0 else { return 0o7777 }
    return info.st_mode & 0o7777
}

@Suite("NodeHome: a node's directory, its keys and the testnet")
struct NodeHomeTests {
    @Test("create writes the four keys with mode 0600 in keys/ 0700, and they load back and match the card")
    func create() throws {
        let scratch = ScratchDirectory("home-create")
        let address = HostPort(host: "hospital.example", port: 26656)
        let home = try NodeHome.create(
            at: scratch.path, name: "St Mary's Hospital", kind: .hospital, chainID: "medledger-test", power: 7,
            p2pAddress: address)
        #expect(mode(home.keysDirectory) == 0o700)
        for path in [home.nodeKeyPath, home.validatorKeyPath, home.organisationKeyPath, home.recordKeyPath] {
            #expect(mode(path) == 0o600, "\(path) has mode \(String(mode(path), radix: 8))")
        }
        #expect(FileManager.default.fileExists(atPath: home.dataDirectory))
        #expect(!FileManager.default.fileExists(atPath: home.genesisPath), "init writes no genesis")

        let card = try home.loadFacilityCard()
        #expect(card.name == "St Mary's Hospital" && card.kind == .hospital && card.power == 7)
        #expect(card.chainID == "medledger-test" && card.p2pAddress == address)
        #expect(try home.loadNodeKey().publicKey.bytes == Array(card.nodeKey.bytes))
        #expect(try home.loadValidatorKey().publicKey.bytes == Array(card.validatorKey.bytes))
        #expect(try home.loadOrganisationKey().publicKey.bytes == Array(card.organisationKey.bytes))
        #expect(try home.loadRecordKey().publicKey.bytes == Array(card.recordKey.bytes))
        #expect(Set([card.nodeKey, card.validatorKey, card.organisationKey, card.recordKey]).count == 4)
        #expect(try KeyFile.readHeader(from: home.nodeKeyPath).encryption == .none, "the node starts unattended")

        let config = try home.loadConfig(environment: [:])
        #expect(config.moniker == "St Mary's Hospital" && config.chainID == "medledger-test")
        #expect(card.peerAddress?.description == "\(card.nodeKey.hex)@hospital.example:26656")
    }

    @Test("create refuses a home that exists, naming it and the way out, and leaves it untouched")
    func refusesExisting() throws {
        let scratch = ScratchDirectory("home-exists")
        try NodeHome.create(at: scratch.path, name: "General Hospital", kind: .hospital)
        let before = try Data(contentsOf: URL(fileURLWithPath: NodeHome(scratch.path).nodeKeyPath))
        let error = try #require(throws: NodeConfigError.self) {
            try NodeHome.create(at: scratch.path, name: "Other", kind: .laboratory)
        }
        #expect(error.code == .homeExists)
        #expect(error.description.contains(scratch.path) && error.description.contains("choose another --home"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: NodeHome(scratch.path).nodeKeyPath)) == before)

        let file = scratch.child("plain-file")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: NodeConfigError.self) { try NodeHome.create(at: file, name: "X", kind: .hospital) }
    }

    @Test("create accepts an empty directory (a container's mount point)")
    func emptyDirectory() throws {
        let scratch = ScratchDirectory("home-empty")
        try FileManager.default.createDirectory(atPath: scratch.path, withIntermediateDirectories: true)
        let home = try NodeHome.create(at: scratch.path, name: "Dental Clinic", kind: .dentalClinic)
        #expect(try home.loadFacilityCard().kind == .dentalClinic)
    }

    @Test("a bad argument is refused before anything is written")
    func badArguments() throws {
        let scratch = ScratchDirectory("home-bad")
        #expect(throws: NodeConfigError.self) { try NodeHome.create(at: scratch.path, name: "", kind: .hospital) }
        #expect(throws: NodeConfigError.self) {
            try NodeHome.create(at: scratch.path, name: "X", kind: .hospital, chainID: "Bad Chain")
        }
        #expect(throws: NodeConfigError.self) { try NodeHome.create(at: scratch.path, name: "X", kind: .hospital, power: 0) }
        #expect(throws: NodeConfigError.self) {
            try NodeHome.create(at: scratch.path, name: "X", kind: .hospital, p2pAddress: HostPort(host: "h", port: 0))
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path))
    }

    @Test("a sealed organisation key needs its passphrase; the other keys stay unsealed")
    func sealedOrganisationKey() throws {
        let scratch = ScratchDirectory("home-sealed")
        let passphrase = SecureBytes(Array("correct horse battery staple".utf8))
        let home = try NodeHome.create(
            at: scratch.path, name: "Family Practice", kind: .familyPractice,
            organisationKeyProtection: .passphrase(passphrase, parameters: Scrypt.Parameters(n: 1024, r: 8, p: 1)))
        #expect(try KeyFile.readHeader(from: home.organisationKeyPath).isEncrypted)
        #expect(try !KeyFile.readHeader(from: home.validatorKeyPath).isEncrypted)
        let error = try #require(throws: NodeConfigError.self) { try home.loadOrganisationKey() }
        #expect(error.code == .keyFile && error.source == home.organisationKeyPath)
        let key = try home.loadOrganisationKey(passphrase: passphrase)
        #expect(key.publicKey.bytes == Array(try home.loadFacilityCard().organisationKey.bytes))
    }

    @Test("loaders name the file: missing key, key readable by others, missing or invalid genesis")
    func loaderErrors() throws {
        let scratch = ScratchDirectory("home-loaders")
        let home = try NodeHome.create(at: scratch.path, name: "Diagnostic Lab", kind: .laboratory)

        let noGenesis = try #require(throws: NodeConfigError.self) { try home.loadGenesis() }
        #expect(noGenesis.code == .unreadable && noGenesis.description.hasPrefix(home.genesisPath))
        #expect(noGenesis.description.contains("copy the network's genesis.json"))

        try Data(#"{"chain_id": "x", "genesis_time": 1, "facilities": []}"#.utf8).write(
            to: URL(fileURLWithPath: home.genesisPath))
        let badGenesis = try #require(throws: NodeConfigError.self) { try home.loadGenesis() }
        #expect(badGenesis.code == .genesis && badGenesis.description.hasPrefix(home.genesisPath))
        #expect(badGenesis.description.contains("at least one facility"))

        chmod(home.validatorKeyPath, 0o644)
        let exposed = try #require(throws: NodeConfigError.self) { try home.loadValidatorKey() }
        #expect(exposed.code == .keyFile && exposed.description.hasPrefix(home.validatorKeyPath))
        #expect(exposed.description.contains("chmod 600"), "\(exposed)")

        try FileManager.default.removeItem(atPath: home.recordKeyPath)
        let missing = try #require(throws: NodeConfigError.self) { try home.loadRecordKey() }
        #expect(missing.code == .unreadable && missing.description.hasPrefix(home.recordKeyPath))
        #expect(missing.description.contains("backup"))
    }

    @Test("ports.json round-trips; a relative key log resolves against the home")
    func portsAndPaths() throws {
        let scratch = ScratchDirectory("home-ports")
        let home = try NodeHome.create(at: scratch.path, name: "General Hospital", kind: .hospital)
        #expect(try home.loadPorts() == nil)
        try home.writePorts(BoundPorts(p2p: 40001, client: 40002, metrics: 40003))
        #expect(try home.loadPorts() == BoundPorts(p2p: 40001, client: 40002, metrics: 40003))
        var config = NodeConfig()
        config.keyLog = "debug/keys.log"
        #expect(home.keyLogPath(config) == scratch.path + "/debug/keys.log")
        config.keyLog = "/var/keys.log"
        #expect(home.keyLogPath(config) == "/var/keys.log")
        #expect(home.logDirectory == scratch.path + "/data/log" && home.blobsDirectory == scratch.path + "/data/blobs")
    }

    @Test("a testnet of 4: identical genesis bytes, distinct keys, every config lists the other 3 peers")
    func testnet() throws {
        let scratch = ScratchDirectory("testnet")
        let testnet = try Testnet.create(nodes: 4, in: scratch.path, chainID: "medledger-tn", basePort: 31000)
        #expect(testnet.nodes.map(\.home.path) == (0..<4).map { scratch.child("node\($0)") })

        let genesisBytes = try testnet.nodes.map { try Data(contentsOf: URL(fileURLWithPath: $0.home.genesisPath)) }
        #expect(Set(genesisBytes).count == 1)
        let genesis = try Genesis(json: String(decoding: genesisBytes[0], as: UTF8.self))
        #expect(genesis == testnet.genesis)
        #expect(genesis.chainID == "medledger-tn")
        #expect(try genesis.validatorSet.validators.count == 4)
        #expect(genesis.facilities.allSatisfy { $0.power == 10 })
        #expect(genesis.facilities.map(\.kind) == [.hospital, .dentalClinic, .laboratory, .familyPractice])

        var allKeys: Set<Bytes32> = []
        for node in testnet.nodes {
            let card = try node.home.loadFacilityCard()
            #expect(genesis.facilities[node.index] == card.facility)
            #expect(try node.home.loadNodeKey().publicKey.bytes == Array(card.nodeKey.bytes))
            allKeys.formUnion([card.nodeKey, card.validatorKey, card.organisationKey, card.recordKey])

            let config = try node.home.loadConfig(environment: [:])
            #expect(config == node.config)
            let base = 31000 + 10 * node.index
            #expect(config.p2pListen == HostPort(host: "127.0.0.1", port: UInt16(base)))
            #expect(config.clientListen == HostPort(host: "127.0.0.1", port: UInt16(base + 1)))
            #expect(config.metricsListen == HostPort(host: "127.0.0.1", port: UInt16(base + 2)))
            let expectedPeers = genesis.facilities.enumerated().filter { $0.offset != node.index }.map {
                "\($0.element.nodeKey.hex)@127.0.0.1:\(31000 + 10 * $0.offset)"
            }
            #expect(config.persistentPeers.map(\.description) == expectedPeers)
        }
        #expect(allKeys.count == 16, "every key of every node is distinct")

        var otherChain = testnet.nodes[0].config
        otherChain.chainID = "medledger-other"
        #expect(try testnet.nodes[0].home.loadGenesis(for: testnet.nodes[0].config) == genesis)
        let mismatch = try #require(throws: NodeConfigError.self) {
            try testnet.nodes[0].home.loadGenesis(for: otherChain)
        }
        #expect(mismatch.description.contains("medledger-tn") && mismatch.description.contains("medledger-other"))
    }

    @Test("a testnet on base port 0 listens on port 0 everywhere and lists no peers; past 4 nodes names repeat numbered")
    func testnetPortZero() throws {
        let scratch = ScratchDirectory("testnet-zero")
        let testnet = try Testnet.create(nodes: 5, in: scratch.path, basePort: 0)
        for node in testnet.nodes {
            #expect(node.config.p2pListen.port == 0 && node.config.clientListen.port == 0)
            #expect(node.config.metricsListen?.port == 0)
            #expect(node.config.persistentPeers.isEmpty)
            #expect(node.card.p2pAddress == nil)
        }
        #expect(testnet.nodes[4].card.name == "General Hospital 2")
        #expect(testnet.genesis.facilities.count == 5)
    }

    @Test("testnet arguments are checked before anything is written")
    func testnetArguments() throws {
        let scratch = ScratchDirectory("testnet-bad")
        for (nodes, basePort, host, source) in [
            (0, UInt16(26600), "127.0.0.1", "--nodes"), (65, 26600, "127.0.0.1", "--nodes"),
            (4, 65530, "127.0.0.1", "--base-port"), (2, 26600, "not a host", "--host"),
        ] {
            let error = try #require(throws: NodeConfigError.self) {
                try Testnet.create(nodes: nodes, in: scratch.path, basePort: basePort, host: host)
            }
            #expect(error.source == source, "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path))

        try Testnet.create(nodes: 1, in: scratch.path)
        let again = try #require(throws: NodeConfigError.self) { try Testnet.create(nodes: 2, in: scratch.path) }
        #expect(again.code == .homeExists && again.description.contains("node0"))
        #expect(!FileManager.default.fileExists(atPath: scratch.child("node1")), "nothing was created on refusal")
    }

    // MARK: The binary

    /// `medledger`, next to the test bundle in the build directory (`swift test` builds every product).
    static let medledgerBinary: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: directory.appendingPathComponent("medledger").path) {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("medledger")
    }()

    @Test("init with an unknown --kind fails, naming the kinds allowed, and creates nothing")
    func badKind() throws {
        let scratch = ScratchDirectory("init-binary")
        let process = Process()
        process.executableURL = Self.medledgerBinary
        process.arguments = ["init", "--home", scratch.path, "--name", "Spa", "--kind", "spa"]
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        let text = out + err
        for kind in ["hospital", "dental-clinic", "laboratory", "family-practice"] {
            #expect(text.contains("'\(kind)'"), "\(text)")
        }
        #expect(text.contains("spa"))
        #expect(!FileManager.default.fileExists(atPath: scratch.path))
    }
}
