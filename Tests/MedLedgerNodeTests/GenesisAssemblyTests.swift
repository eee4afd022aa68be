import Foundation
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNode
import MedLedgerWire
import Testing

/// The ``NodeConfigError`` `body` throws; nil (and a recorded issue) if it throws none.
func configError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> NodeConfigError? {
    do {
        try body()
    } catch let error as NodeConfigError {
        return error
    } catch {
        Issue.record("not a NodeConfigError: \(error)", sourceLocation: sourceLocation)
        return nil
    }
    Issue.record("no error was thrown", sourceLocation: sourceLocation)
    return nil
}

@Suite("GenesisAssembly: a multi-facility genesis from facility cards")
struct GenesisAssemblyTests {
    static let facilities: [(String, FacilityKind)] = [
        ("St Mary's Hospital", .hospital), ("Bright Teeth", .dentalClinic), ("North Lab", .laboratory),
    ]

    /// Three homes made by `init` (separately, as three facilities would) and their cards as read from disk.
    func homes(_ scratch: ScratchDirectory, chainID: String = "medledger-multi") throws -> [(NodeHome, GenesisAssembly.Source)] {
        try FileManager.default.createDirectory(atPath: scratch.path, withIntermediateDirectories: true)
        return try Self.facilities.enumerated().map { index, facility in
            let home = try NodeHome.create(
                at: scratch.child("home\(index)"), name: facility.0, kind: facility.1, chainID: chainID,
                p2pAddress: HostPort(host: "facility\(index).example", port: 26656))
            return (home, try GenesisAssembly.loadCard(home.facilityCardPath))
        }
    }

    /// Copies a card file to `name` in the scratch directory after `edit`ing its JSON text.
    func editedCard(_ source: GenesisAssembly.Source, _ scratch: ScratchDirectory, _ name: String, _ edit: (String) -> String) throws -> String {
        let text = try String(contentsOfFile: source.path, encoding: .utf8)
        let path = scratch.child(name)
        try edit(text).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("the same cards in any order give byte-identical genesis files, facilities ordered by validator key")
    func orderIndependence() throws {
        let scratch = ScratchDirectory("genesis-order")
        let cards = try homes(scratch).map(\.1)
        var files: Set<[UInt8]> = []
        for permutation in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            let genesis = try GenesisAssembly.assemble(permutation.map { cards[$0] }, time: 1_795_000_000_000)
            files.insert(GenesisAssembly.fileBytes(genesis))
            let keys = genesis.facilities.map(\.validatorKey.bytes)
            #expect(keys == keys.sorted { $0.lexicographicallyPrecedes($1) })
            #expect(Set(genesis.facilities) == Set(cards.map(\.card.facility)))
        }
        #expect(files.count == 1)
        let genesis = try Genesis(json: String(decoding: files.first!, as: UTF8.self))
        #expect(genesis.chainID == "medledger-multi" && genesis.genesisTime == 1_795_000_000_000)
        #expect(GenesisAssembly.fingerprint(genesis).replacingOccurrences(of: " ", with: "") == genesis.hash.hex)
        // Another time is another genesis.
        #expect(try GenesisAssembly.assemble(cards, time: 1_795_000_000_001).hash != genesis.hash)
    }

    @Test("no cards at all is refused")
    func refusesNoCards() {
        #expect(configError { _ = try GenesisAssembly.assemble([], time: 1) }?.problem.contains("no facility cards") == true)
    }

    @Test("cards of different chains are refused, naming the odd card and the chain")
    func refusesMixedChains() throws {
        let scratch = ScratchDirectory("genesis-chains")
        var cards = try homes(scratch).map(\.1)
        let other = try editedCard(cards[2], scratch, "other.json") {
            $0.replacingOccurrences(of: "\"medledger-multi\"", with: "\"medledger-other\"")
        }
        cards[2] = try GenesisAssembly.loadCard(other)
        let error = configError { _ = try GenesisAssembly.assemble(cards, time: 1) }
        #expect(error?.source == other && error?.member == "chain_id" && error?.value == "medledger-other")
        #expect(error?.fix.contains("--chain-id") == true)
        // And an explicit --chain-id the cards are not of.
        #expect(configError { _ = try GenesisAssembly.assemble(Array(cards.prefix(2)), chainID: "medledger-else", time: 1) }?.source == cards[0].path)
        #expect(try GenesisAssembly.assemble(Array(cards.prefix(2)), chainID: "medledger-multi", time: 1).facilities.count == 2)
    }

    @Test(
        "a key used twice across cards is refused, whichever of the four keys it is",
        arguments: ["organisation_key", "validator_key", "node_key", "record_key"])
    func refusesDuplicateKeys(member: String) throws {
        let scratch = ScratchDirectory("genesis-dup")
        var cards = try homes(scratch).map(\.1)
        // Card 2 reuses card 0's key of the same kind; the node key also crosses kinds below.
        let stolen: String
        switch member {
        case "organisation_key": stolen = cards[0].card.organisationKey.hex
        case "validator_key": stolen = cards[0].card.validatorKey.hex
        case "node_key": stolen = cards[0].card.nodeKey.hex
        default: stolen = cards[0].card.recordKey.hex
        }
        let own: String
        switch member {
        case "organisation_key": own = cards[2].card.organisationKey.hex
        case "validator_key": own = cards[2].card.validatorKey.hex
        case "node_key": own = cards[2].card.nodeKey.hex
        default: own = cards[2].card.recordKey.hex
        }
        let copied = try editedCard(cards[2], scratch, "copied.json") { $0.replacingOccurrences(of: own, with: stolen) }
        cards[2] = try GenesisAssembly.loadCard(copied)
        let error = configError { _ = try GenesisAssembly.assemble(cards, time: 1) }
        #expect(error?.source == copied && error?.member == member && error?.value == stolen)
        #expect(error?.problem.contains(cards[0].path) == true, "the message names the other card: \(String(describing: error))")
        #expect(error?.fix.contains("medledger init") == true)
    }

    @Test("a key used in two roles across cards (one card's node key as another's record key) is refused")
    func refusesCrossRoleDuplicate() throws {
        let scratch = ScratchDirectory("genesis-cross")
        var cards = try homes(scratch).map(\.1)
        let copied = try editedCard(cards[1], scratch, "cross.json") {
            $0.replacingOccurrences(of: cards[1].card.recordKey.hex, with: cards[0].card.nodeKey.hex)
        }
        cards[1] = try GenesisAssembly.loadCard(copied)
        let error = configError { _ = try GenesisAssembly.assemble(cards, time: 1) }
        #expect(error?.source == copied && error?.member == "record_key" && error?.problem.contains("node_key") == true)
    }

    @Test("the same card given twice is refused as such")
    func refusesSameCardTwice() throws {
        let scratch = ScratchDirectory("genesis-twice")
        let cards = try homes(scratch).map(\.1)
        let error = configError { _ = try GenesisAssembly.assemble([cards[0], cards[1], cards[0]], time: 1) }
        #expect(error?.fix.contains("the same card was given twice") == true)
    }

    @Test("a card with an unknown kind is refused when read, naming the file and the kinds")
    func refusesBadKind() throws {
        let scratch = ScratchDirectory("genesis-kind")
        let cards = try homes(scratch).map(\.1)
        let bad = try editedCard(cards[0], scratch, "spa.json") { $0.replacingOccurrences(of: "\"hospital\"", with: "\"spa\"") }
        let error = configError { _ = try GenesisAssembly.loadCard(bad) }
        #expect(error?.source == bad && error?.member == "kind" && error?.value == "spa")
        #expect(error?.fix.contains("dental_clinic") == true)
    }

    @Test("verify accepts exactly the cards' facilities and refuses a missing, an extra or an altered one")
    func verify() throws {
        let scratch = ScratchDirectory("genesis-verify")
        let cards = try homes(scratch).map(\.1)
        let genesis = try GenesisAssembly.assemble(cards, time: 7)
        try GenesisAssembly.verify(genesis, source: "g", cards: cards.reversed())
        // A facility in the genesis that no card accounts for.
        #expect(configError { try GenesisAssembly.verify(genesis, source: "g", cards: Array(cards.prefix(2))) }?.problem.contains("no card was given for") == true)
        try GenesisAssembly.verify(genesis, source: "g", cards: Array(cards.prefix(2)), exact: false)
        // A card that is not in it.
        let two = try GenesisAssembly.assemble(Array(cards.prefix(2)), time: 7)
        #expect(configError { try GenesisAssembly.verify(two, source: "g", cards: cards) }?.problem.contains("is not in this genesis") == true)
        // A facility whose power was changed in the genesis.
        var altered = genesis
        altered.facilities[0].power = 1_000
        #expect(configError { try GenesisAssembly.verify(altered, source: "g", cards: cards) }?.problem.contains("differs from the card") == true)
    }

    @Test("a 3-facility genesis from 3 separate init homes installs into each, sets the peers, and a Node opens on it")
    func installAndOpen() throws {
        let scratch = ScratchDirectory("genesis-install")
        let homes = try homes(scratch)
        let cards = homes.map(\.1)
        let genesis = try GenesisAssembly.assemble(cards.shuffled(), time: 1_795_000_000_000)
        let path = scratch.child("genesis.json")
        try GenesisAssembly.write(GenesisAssembly.fileBytes(genesis), to: path)
        let (loaded, bytes) = try GenesisAssembly.loadGenesis(path)
        #expect(loaded == genesis)
        for (index, (home, card)) in homes.enumerated() {
            let installed = try home.installGenesis(bytes: bytes, source: path, cards: cards)
            #expect(installed.wroteGenesis)
            let config = try home.loadConfig(environment: [:])
            #expect(Set(config.persistentPeers.map(\.nodeKey)) == Set(cards.filter { $0 != card }.map(\.card.nodeKey.hex)))
            #expect(config.persistentPeers.allSatisfy { $0.address.host.hasPrefix("facility") && $0.address.host != "facility\(index).example" })
            #expect(FileManager.default.contents(atPath: home.genesisPath).map(Array.init) == bytes)
            // Again: the same genesis is not written twice and the peers are not listed twice.
            let again = try home.installGenesis(bytes: bytes, source: path, cards: cards)
            #expect(!again.wroteGenesis && again.peers.count == 2)

            let node = try Node(
                options: Node.Options(
                    genesis: try home.loadGenesis(for: config), dataDirectory: home.dataDirectory, nodeKey: try home.loadNodeKey(),
                    validatorKey: try home.loadValidatorKey()))
            #expect(node.status.height == 0)
            #expect(try genesis.validatorSet.index(of: card.card.validatorKey) != nil)
            node.stop()
        }
        // A different genesis is never installed over the first.
        let other = try GenesisAssembly.assemble(cards, time: 1_795_000_000_001)
        let replaced = configError { try homes[0].0.installGenesis(bytes: GenesisAssembly.fileBytes(other), source: "other", cards: []) }
        #expect(replaced?.problem.contains("different genesis is already installed") == true)
        // Nor into a home whose facility is not in it.
        let outsider = try NodeHome.create(at: scratch.child("outsider"), name: "Outsider", kind: .pharmacy, chainID: "medledger-multi")
        #expect(configError { try outsider.installGenesis(bytes: bytes, source: path, cards: cards) }?.problem.contains("is not in this genesis") == true)
        #expect(!FileManager.default.fileExists(atPath: outsider.genesisPath))
    }
}
