import Foundation
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNode
import MedLedgerWire
import Testing
@testable import MedLedgerClient
@testable import medledger

/// The `medledger` binary beside the test bundle (`swift test` builds every product).
enum MedLedgerBinary {
    static let url: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: directory.appendingPathComponent("medledger").path) {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("medledger")
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        env["MEDLEDGER_CONNECT"] = nil
        env["MEDLEDGER_GENESIS"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}

/// A scratch directory removed at the end.
final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "medledger-client-cli-\(UInt64.random(in: 0..<UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

@Suite("medledger client commands: parsing and mistakes")
struct CommandParsingTests {
    @Test("times: now, relative, dates and ms; anything else says the forms")
    func times() throws {
        let now: UInt64 = 1_800_000_000_000
        #expect(try parseTime("now", "--start", now: now) == now)
        #expect(try parseTime("+2d", "--start", now: now) == now + 2 * 86_400_000)
        #expect(try parseTime("now+90m", "--start", now: now) == now + 90 * 60_000)
        #expect(try parseTime("1700000000000", "--start", now: now) == 1_700_000_000_000)
        #expect(try parseTime("2026-11-25", "--start", now: now) == 1_795_564_800_000)
        #expect(try parseTime("1970-01-01", "--start", now: now) == 0)
        for bad in ["tomorrow", "+3w", "2026-13-01", "+d", "-5"] {
            #expect {
                try parseTime(bad, "--expiry", now: now)
            } throws: { error in "\(error)".contains("--expiry") && "\(error)".contains("YYYY-MM-DD") }
        }
        #expect(formatTime(1_795_564_800_000) == "2026-11-25 00:00:00 UTC")
    }

    @Test("scopes, actions and purposes parse to the ledger's canonical values")
    func vocabulary() throws {
        #expect(try parseScope("all") == .allRecords)
        #expect(try parseScope("categories:laboratory,dental,dental") == .categories(["dental", "laboratory"]))
        let a = Bytes32(repeating: 0xAA).hex
        let b = Bytes32(repeating: 0x01).hex
        #expect(try parseScope("records:\(a),\(b)") == .records([Bytes32(repeating: 0x01), Bytes32(repeating: 0xAA)]))
        #expect(try parseActions("read,write") == [.read, .write])
        #expect(try parsePurposes("treatment,research") == Purposes([.treatment, .research]))
        for (body, expected) in [
            ({ _ = try parseScope("everything") }, "categories:"), ({ _ = try parseScope("categories:") }, "1 to 32"),
            ({ _ = try parseActions("delete") }, "read, write"), ({ _ = try parsePurposes("fun") }, "treatment"),
            ({ _ = try parseKey("xyz", "--consent") }, "64 hex digits"), ({ _ = try parseKey(String(repeating: "z", count: 64), "--record") }, "0-9 and a-f"),
        ] as [(() throws -> Void, String)] {
            #expect {
                try body()
            } throws: { error in "\(error)".contains(expected) }
        }
    }

    @Test("a grantee is a key or a facility's name; an unknown name lists the facilities")
    func parties() throws {
        let chain = MiniChain()
        #expect(try parseParty("Facility 2", "--grantee", genesis: chain.genesis) == chain.facility(2))
        #expect(try parseParty(chain.facility(1).hex, "--grantee", genesis: chain.genesis) == chain.facility(1))
        #expect {
            try parseParty("St Elsewhere", "--grantee", genesis: chain.genesis)
        } throws: { error in "\(error)".contains("\"facility 0\"") && "\(error)".contains("neither a key") }
    }

    @Test("--node reads a testnet directory: every home's genesis, node key and client port")
    func nodeHomes() throws {
        let scratch = try Scratch()
        let testnet = try Testnet.create(nodes: 3, in: scratch.file("net"), chainID: "cli-test", basePort: 0)
        // A home whose node has not run has no port: the message says to start it.
        var options = try ConnectionOptions.parse(["--node", scratch.file("net")])
        #expect {
            _ = try options.resolve(environment: [:])
        } throws: { error in "\(error)".contains("start the node") && "\(error)".contains("ports.json") }
        for (index, node) in testnet.nodes.enumerated() {
            try node.home.writePorts(BoundPorts(p2p: 1000, client: UInt16(2000 + index), metrics: nil))
        }
        let (genesis, endpoints) = try options.resolve(environment: [:])
        #expect(genesis.chainID == "cli-test")
        #expect(endpoints.map(\.port) == [2000, 2001, 2002])
        #expect(endpoints.map(\.nodeKey) == testnet.nodes.map(\.card.nodeKey))
        #expect(endpoints.allSatisfy { $0.host == "127.0.0.1" })
        // One home, plus an explicit endpoint.
        let extra = "10.0.0.9:26601@\(Bytes32(repeating: 7).hex)"
        options = try ConnectionOptions.parse(["--node", testnet.nodes[1].home.path, "--connect", extra])
        #expect(try options.resolve(environment: [:]).endpoints.map(\.port) == [2001, 26601])
        // MEDLEDGER_CONNECT, with the genesis from a file.
        options = try ConnectionOptions.parse(["--genesis", testnet.nodes[0].home.genesisPath])
        #expect(try options.resolve(environment: ["MEDLEDGER_CONNECT": extra]).endpoints.map(\.host) == ["10.0.0.9"])
        // --connect without a genesis.
        options = try ConnectionOptions.parse(["--connect", extra])
        #expect {
            _ = try options.resolve(environment: [:])
        } throws: { error in "\(error)".contains("--genesis FILE") }
        options = try ConnectionOptions.parse(["--node", scratch.file("nothing-here")])
        #expect {
            _ = try options.resolve(environment: [:])
        } throws: { error in "\(error)".contains("no such directory") }
    }
}

@Suite("medledger client commands (the binary)")
struct CommandBinaryTests {
    @Test("keygen writes two 0600 key files that load as a party, prints the public keys, and never overwrites")
    func keygen() throws {
        let scratch = try Scratch()
        let first = try MedLedgerBinary.run(["keygen", "--out", "alice.key", "--comment", "alice's phone"], in: scratch.path)
        #expect(first.status == 0, "\(first.stderr)")
        let keys = try PartyKeys.load(signingKeyPath: scratch.file("alice.key"), requireEncryption: true)
        #expect(first.stdout.contains(keys.id.hex) && first.stdout.contains(keys.encryptionKey!.hex))
        for name in ["alice.key", "alice.record.key"] {
            let mode = try FileManager.default.attributesOfItem(atPath: scratch.file(name))[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(name)")
        }
        let again = try MedLedgerBinary.run(["keygen", "--out", "alice.key"], in: scratch.path)
        #expect(again.status == 2)
        #expect(again.stderr.contains("never overwrites"))
        #expect(try PartyKeys.load(signingKeyPath: scratch.file("alice.key")).id == keys.id, "the key was replaced")
    }

    @Test("each mistake says what was wrong and what to do, with a non-zero exit code")
    func mistakes() throws {
        let scratch = try Scratch()
        _ = try MedLedgerBinary.run(["keygen", "--out", "alice.key"], in: scratch.path)
        let chain = MiniChain()
        try Data((chain.genesis.json.prettyDescription + "\n").utf8).write(to: URL(fileURLWithPath: scratch.file("genesis.json")))
        let key = Bytes32(repeating: 0xAB).hex
        let dead = "127.0.0.1:\(try closedPort())@\(chain.members[0].node.publicKey.wire.hex)"
        chmod(scratch.file("alice.record.key"), 0o644)
        let cases: [([String], Int32, [String])] = [
            (["status"], 2, ["no node to talk to", "--node HOME"]),
            (["status", "--connect", "localhost:26601"], 2, ["has no node key", "host:port@nodekey"]),
            (["status", "--connect", "localhost:26601@\(key)"], 2, ["--genesis FILE"]),
            (["status", "--connect", dead, "--genesis", "genesis.json"], 1, ["unreachable", "nothing listens", "no node answered"]),
            (["timeline", "--key", "missing.key", "--connect", dead, "--genesis", "genesis.json"], 2, ["missing.key", "medledger keygen"]),
            (["timeline", "--key", "alice.key", "--connect", dead, "--genesis", "genesis.json"], 1, ["no node could be reached", "ports.json"]),
            (["record", "get", "--key", "alice.key", "--record", "12", "--out", "x", "--connect", dead, "--genesis", "genesis.json"], 2, ["--record", "64 hex digits"]),
            (["record", "get", "--key", "alice.key", "--record", key, "--out", "x", "--connect", dead, "--genesis", "genesis.json"], 2, ["alice.record.key", "chmod 600"]),
            (["consent", "grant", "--key", "alice.key", "--grantee", "x", "--scope", "some", "--connect", dead, "--genesis", "genesis.json"], 2, ["--scope", "categories:"]),
            (["consent", "grant", "--key", "alice.key", "--grantee", "x", "--start", "+2d", "--expiry", "+1d", "--connect", dead, "--genesis", "genesis.json"], 2, ["--expiry", "must be after --start"]),
            (["record", "add", "--key", "alice.key", "--patient", key, "--patient-record-key", key, "--file", "f", "--category", "dental", "--type", "X"], 64, ["--consent ID, or --break-glass ID"]),
            (["status", "--connect", dead, "--genesis", "nothing.json"], 2, ["nothing.json", "cannot read"]),
        ]
        for (arguments, status, expected) in cases {
            let result = try MedLedgerBinary.run(arguments, in: scratch.path)
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            for text in expected {
                #expect((result.stderr + result.stdout).contains(text), "\(arguments): missing \"\(text)\" in \(result.stderr)\(result.stdout)")
            }
        }
    }

    @Test("register, grant, list, revoke, timeline and audit run end to end against a ledger-backed client port")
    func storyAgainstFakeNode() throws {
        let scratch = try Scratch()
        let chain = MiniChain()
        let node = try FakeNode(key: chain.members[0].node, handler: ledgerHandler(chain, member: 0))
        // A facility home for member 0 whose organisation key is the chain's.
        let testnet = try Testnet.create(nodes: 1, in: scratch.file("net"), chainID: MiniChain.chainID, basePort: 0)
        let home = testnet.nodes[0].home
        try FileManager.default.removeItem(atPath: home.organisationKeyPath)
        try chain.members[0].organisation.write(toKeyFile: home.organisationKeyPath)
        try Data((chain.genesis.json.prettyDescription + "\n").utf8).write(to: URL(fileURLWithPath: home.genesisPath))
        let connect = ["--connect", node.endpoint.description, "--genesis", home.genesisPath]

        _ = try MedLedgerBinary.run(["keygen", "--out", "alice.key"], in: scratch.path)
        let alice = try PartyKeys.load(signingKeyPath: scratch.file("alice.key"))
        let register = try MedLedgerBinary.run(["patient", "register", "--key", "alice.key", "--facility-home", home.path] + connect, in: scratch.path)
        #expect(register.status == 0, "\(register.stderr) \(register.stdout)")
        #expect(register.stdout.contains("Registered patient \(alice.id.hex), attested by facility 0"))
        #expect(chain.state.patient(alice.id)?.attestedBy == chain.facility(0))

        let grant = try MedLedgerBinary.run(
            ["consent", "grant", "--key", "alice.key", "--grantee", "facility 1", "--actions", "read,write", "--purposes", "treatment",
             "--scope", "categories:dental", "--expiry", "+30d"] + connect, in: scratch.path)
        #expect(grant.status == 0, "\(grant.stderr)")
        let consent = try #require(chain.state.consentsInForce(patient: alice.id, requester: alice.id).items.first)
        #expect(grant.stdout.contains("Granted consent \(consent.id.hex)"))
        #expect(consent.grant.grantee == chain.facility(1) && consent.grant.scope == .categories(["dental"]) && consent.grant.expiry != nil)

        let list = try MedLedgerBinary.run(["consent", "list", "--key", "alice.key", "--json"] + connect, in: scratch.path)
        #expect(list.status == 0 && list.stdout.contains(consent.id.hex), "\(list.stderr)")

        let revoke = try MedLedgerBinary.run(["consent", "revoke", "--key", "alice.key", "--consent", consent.id.hex] + connect, in: scratch.path)
        #expect(revoke.status == 0, "\(revoke.stderr)")
        #expect(chain.state.consent(consent.id)?.revokedAtHeight != nil)
        let again = try MedLedgerBinary.run(["consent", "revoke", "--key", "alice.key", "--consent", consent.id.hex] + connect, in: scratch.path)
        #expect(again.status == 1 && again.stderr.contains("consent_revoked"), "\(again.stderr)")

        let audit = try MedLedgerBinary.run(["audit", "--key", "alice.key"] + connect, in: scratch.path)
        #expect(audit.status == 0, "\(audit.stderr)")
        for text in ["registered by facility 0", "consent_granted by", "consent_revoked by"] { #expect(audit.stdout.contains(text), "\(audit.stdout)") }
        let json = try MedLedgerBinary.run(["audit", "--key", "alice.key", "--json"] + connect, in: scratch.path)
        let events = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(events?.map { $0["kind"] as? String } == ["registered", "consent_granted", "consent_revoked"])

        let timeline = try MedLedgerBinary.run(["timeline", "--key", "alice.key"] + connect, in: scratch.path)
        #expect(timeline.status == 0 && timeline.stdout.contains("0 record(s)"), "\(timeline.stderr)")
        let status = try MedLedgerBinary.run(["status"] + connect, in: scratch.path)
        #expect(status.status == 0 && status.stdout.contains("facility 0"), "\(status.stderr)")
    }
}
