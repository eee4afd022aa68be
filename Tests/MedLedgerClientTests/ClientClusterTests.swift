import Foundation
import Logging
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerNode
import MedLedgerWire
import Synchronization
import Testing
@testable import MedLedgerClient

/// The client library and the `medledger` client commands against four real nodes in one
/// process over loopback. They bind ports, so the suite runs serialized (its name matches
/// `network_suites` in Tools/test).
@Suite("client library and commands on a loopback cluster", .serialized)
struct ClientClusterTests {
    static let chainID = "medledger-client-cluster-test"

    struct Member {
        let organisation: Ed25519.PrivateKey
        let validator: Ed25519.PrivateKey
        let node: Ed25519.PrivateKey
        let record: X25519.PrivateKey
    }

    let members = (0..<4).map {
        Member(
            organisation: Keys.signing("cluster org \($0)"), validator: Keys.signing("cluster validator \($0)"),
            node: Keys.signing("cluster node \($0)"), record: Keys.encryption("cluster record \($0)"))
    }
    let genesis: Genesis
    let scratch: Scratch

    init() throws {
        let facilities = members.enumerated().map { index, member in
            Facility(
                name: ["General Hospital", "Dental Clinic", "Diagnostic Lab", "Family Practice"][index],
                kind: [.hospital, .dentalClinic, .laboratory, .familyPractice][index], organisationKey: member.organisation.publicKey.wire,
                validatorKey: member.validator.publicKey.wire, nodeKey: member.node.publicKey.wire,
                recordKey: Bytes32(member.record.publicKey.bytes)!, power: 10)
        }
        genesis = try Genesis(chainID: Self.chainID, genesisTime: 1_700_000_000_000, facilities: facilities)
        scratch = try Scratch()
    }

    func facility(_ index: Int) -> Bytes32 { members[index].organisation.publicKey.wire }

    func start() throws -> [Node] {
        var nodes: [Node] = []
        for index in 0..<4 {
            var options = Node.Options(
                genesis: genesis, dataDirectory: scratch.file("node\(index)"), nodeKey: members[index].node, validatorKey: members[index].validator)
            options.peers = nodes.enumerated().map { PeerEndpoint(host: "127.0.0.1", port: $0.element.p2pAddress!.port, key: members[$0.offset].node.publicKey) }
            options.timeouts.propose = 800
            options.timeouts.prevote = 300
            options.timeouts.precommit = 300
            options.timeouts.delta = 200
            options.commitWait = .milliseconds(50)
            options.statusInterval = .milliseconds(200)
            options.organisationKey = members[index].organisation
            options.recordKey = members[index].record
            var logger = Logger(label: "node\(index)")
            logger.logLevel = ProcessInfo.processInfo.environment["MEDLEDGER_TEST_LOG"] == nil ? .critical : .info
            options.logger = logger
            let node = try Node(options: options)
            try node.start()
            nodes.append(node)
        }
        return nodes
    }

    static func wait(for nodes: [Node], height: UInt64, seconds: Double = 60) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if nodes.allSatisfy({ $0.status.height >= height }) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func endpoint(_ node: Node, _ index: Int) -> ClientEndpoint {
        ClientEndpoint(host: "127.0.0.1", port: node.clientAddress!.port, nodeKey: members[index].node.publicKey.wire)
    }

    @Test("the whole story through the library: register, consent, add, read own, fetch, refuse, timeline, audit, subscribe, failover")
    func story() async throws {
        let nodes = try start()
        defer { for node in nodes { node.stop() } }
        #expect(await Self.wait(for: nodes, height: 2), "the cluster did not start: \(nodes.map(\.status))")

        // A dead endpoint first: the client passes over it.
        let dead = ClientEndpoint(host: "127.0.0.1", port: try closedPort(), nodeKey: members[3].node.publicKey.wire)
        var configuration = ClientConfiguration(genesis: genesis, endpoints: [dead] + nodes.enumerated().map { endpoint($0.element, $0.offset) })
        configuration.requestTimeout = .seconds(20)
        configuration.pollInterval = .milliseconds(50)
        var logger = Logger(label: "client")
        logger.logLevel = .critical
        let client = try LedgerClient(configuration: configuration, logger: logger)
        defer { client.close() }

        let status = try client.status()
        #expect(status.chainID == Self.chainID && status.facility == facility(0) && status.height >= 2)
        #expect(try client.endpoint(servingFacility: facility(2)) == 3)

        let alice = Keys.party("cluster alice")
        let dentist = Keys.party("cluster dentist")
        let reader = Keys.party("cluster reader")
        let stranger = Keys.party("cluster stranger")
        _ = try client.submitAndWait(
            .registerPatient(.attested(patient: alice.id, encryptionKey: alice.encryptionKey!, by: members[0].organisation, chainID: Self.chainID)),
            signedBy: alice.signing)
        // The organisation keys sign with nonces the client learns from the chain and counts up.
        var registrations: [Transaction] = []
        for (party, index, name, roles) in [
            (dentist, 1, "Dr. Lee", Roles.dentist), (reader, 2, "Lab reader", .labTechnician), (stranger, 3, "Dr. Ortiz", [.physician, .breakGlass]),
        ] {
            registrations.append(try client.submit(
                .registerPractitioner(RegisterPractitioner(practitioner: party.id, encryptionKey: party.encryptionKey!, roles: roles, displayName: name)),
                signedBy: members[index].organisation).transaction)
        }
        for transaction in registrations { _ = try client.waitForCommit(transaction) }
        let subscription = try client.subscribe(patient: alice.id, from: 0, as: alice.signing)
        let (write, _) = try client.submitAndWait(
            .grantConsent(GrantConsent(
                patient: alice.id, grantee: facility(1), actions: [.read, .write], purposes: Purposes([.treatment]),
                scope: .categories(["dental"]), start: 0, expiry: nil)),
            signedBy: alice.signing)
        let (read, _) = try client.submitAndWait(
            .grantConsent(GrantConsent(
                patient: alice.id, grantee: reader.id, actions: [.read], purposes: Purposes([.research]), scope: .allRecords, start: 0, expiry: nil)),
            signedBy: alice.signing)
        #expect(try client.allConsentsInForce(patient: alice.id, as: alice.signing).map(\.id) == [write.id, read.id])
        #expect(try client.committedNonce(of: alice.id) == 3)

        // The dentist adds a record at the dental clinic (facility 1).
        let contents = Array("bitewing x-ray: no caries; filling on 36 intact".utf8) + [UInt8](repeating: 0x5A, count: 3_000)
        let added = try client.addRecord(
            NewRecord(
                contents: contents, patient: alice.id, patientEncryptionKey: alice.encryptionKey!, custodian: facility(1), category: "dental",
                resourceType: "ImagingStudy", created: 1_700_000_100_000, authority: .consent(write.id)),
            author: dentist.signing)
        #expect(added.paddedSize == 4096)

        // Alice reads it with her own key; the reader through a committed access entry.
        #expect(try client.readOwnRecord(added.record, patient: alice).contents == contents)
        let fetched = try client.fetchRecord(added.record, purpose: .research, requester: reader)
        #expect(fetched.contents == contents)
        let access = try #require(fetched.access)
        let proven = try client.verifiedEntity(AccessRecord.self, key: StateKey.key(.access, access), as: reader.signing)
        #expect(proven.entity?.entry.request.requester == reader.id)
        // May_read says no for the stranger: nothing goes on the chain.
        let refused = failure { try client.fetchRecord(added.record, purpose: .treatment, requester: stranger) }
        #expect(refused?.code != nil, "\(String(describing: refused))")
        // Naming someone else's consent does not help: it may not even see the record's anchor.
        let hidden = failure { try client.fetchRecord(added.record, purpose: .treatment, authority: .consent(read.id), requester: stranger) }
        #expect(hidden?.code == LedgerError.Code.notAuthorised.rawValue, "\(String(describing: hidden))")
        // The reader asking for a purpose its consent does not allow: refused, and the refusal is on the chain.
        let onChain = failure { try client.fetchRecord(added.record, purpose: .treatment, authority: .consent(read.id), requester: reader) }
        guard case .accessRefused(let code, _, _, let refusal)? = onChain else { Issue.record("\(String(describing: onChain))"); return }
        #expect(code == LedgerError.Code.wrongPurpose.rawValue)

        let timeline = try client.fullTimeline(patient: alice.id, as: alice.signing)
        #expect(timeline.map(\.entry.record) == [added.record])
        #expect(try client.fullTimeline(patient: alice.id, as: reader.signing).count == 1)
        let trail = try client.fullAuditTrail(patient: alice.id, as: alice.signing)
        #expect(trail.map(\.kind) == [.registered, .consentGranted, .consentGranted, .recordAdded, .accessGranted, .accessRefused])
        #expect(trail.last?.subject == Bytes32(hex: refusal))
        // Only controllers may read the audit trail.
        let notAllowed = failure { try client.auditTrail(patient: alice.id, as: reader.signing) }
        #expect(notAllowed?.code == LedgerError.Code.notAuthorised.rawValue, "\(String(describing: notAllowed))")

        // The subscription saw the same events, in order.
        var seen: [AuditKind] = []
        for try await notice in subscription.events {
            seen.append(notice.event.kind)
            if seen.count == trail.count { break }
        }
        #expect(seen == trail.map(\.kind))
        subscription.cancel()

        // An emergency: the stranger opens break-glass access at the dental clinic and reads the
        // record without seeing its anchor first; the patient's trail shows both.
        let (breakGlass, _) = try client.submitAndWait(
            .breakGlass(BreakGlass(patient: alice.id, custodian: facility(1), reason: "unconscious in A&E")), signedBy: stranger.signing)
        let emergency = try client.fetchRecord(added.record, purpose: .emergency, authority: .breakGlass(breakGlass.id), requester: stranger)
        #expect(emergency.contents == contents && emergency.access != nil)
        #expect(try client.fullAuditTrail(patient: alice.id, as: alice.signing).suffix(2).map(\.kind) == [.breakGlass, .accessGranted])

        // The custodian's node stops: reads go to a replica, requests to the next node.
        nodes[1].stop()
        #expect(try client.readOwnRecord(added.record, patient: alice).contents == contents)
        #expect(try client.status().height >= status.height)
    }

    @Test("the medledger client commands against running nodes: keygen, register, grant, add, get, timeline, audit")
    func commands() async throws {
        let nodes = try start()
        defer { for node in nodes { node.stop() } }
        #expect(await Self.wait(for: nodes, height: 2), "the cluster did not start: \(nodes.map(\.status))")
        // A facility home for member 0 (its organisation key), with the genesis; and the genesis alone.
        let testnet = try Testnet.create(nodes: 1, in: scratch.file("homes"), chainID: Self.chainID, basePort: 0)
        let home = testnet.nodes[0].home
        try FileManager.default.removeItem(atPath: home.organisationKeyPath)
        try members[0].organisation.write(toKeyFile: home.organisationKeyPath)
        try home.writeGenesis(genesis)
        let connect = nodes.enumerated().flatMap { ["--connect", endpoint($0.element, $0.offset).description] } + ["--genesis", home.genesisPath]
        func run(_ arguments: [String]) throws -> MedLedgerBinary.Result {
            let result = try MedLedgerBinary.run(arguments, in: scratch.path)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            return result
        }

        _ = try run(["keygen", "--out", "alice.key"])
        _ = try run(["keygen", "--out", "dentist.key"])
        let alice = try PartyKeys.load(signingKeyPath: scratch.file("alice.key"), requireEncryption: true)
        let dentist = try PartyKeys.load(signingKeyPath: scratch.file("dentist.key"), requireEncryption: true)
        #expect(try run(["status"] + connect).stdout.contains("General Hospital"))
        #expect(try run(["patient", "register", "--key", "alice.key", "--facility-home", home.path] + connect).stdout.contains(alice.id.hex))

        // Alice follows her audit trail as it grows (JSON lines), in a process of its own.
        let follower = Process()
        follower.executableURL = MedLedgerBinary.url
        follower.arguments = ["audit", "--key", "alice.key", "--follow", "--json"] + connect
        follower.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
        let followed = Mutex<String>("")
        let pipe = Pipe()
        follower.standardOutput = pipe
        follower.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            followed.withLock { $0 += text }
        }
        try follower.run()
        defer { if follower.isRunning { kill(follower.processIdentifier, SIGKILL) } }

        // The dental clinic registers the dentist (through the library: no command for facilities' staff yet).
        var configuration = ClientConfiguration(genesis: genesis, endpoints: nodes.enumerated().map { endpoint($0.element, $0.offset) })
        configuration.pollInterval = .milliseconds(50)
        let client = try LedgerClient(configuration: configuration)
        defer { client.close() }
        _ = try client.submitAndWait(
            .registerPractitioner(RegisterPractitioner(practitioner: dentist.id, encryptionKey: dentist.encryptionKey!, roles: [.dentist], displayName: "Dr. Lee")),
            signedBy: members[1].organisation)

        let grant = try run(
            ["consent", "grant", "--key", "alice.key", "--grantee", "Dental Clinic", "--actions", "read,write", "--scope", "categories:dental",
             "--expiry", "+30d"] + connect)
        let consent = try #require(grant.stdout.split(separator: " ").dropFirst(2).first.map(String.init))
        try Data("panoramic x-ray, all clear".utf8).write(to: URL(fileURLWithPath: scratch.file("xray.txt")))
        let add = try run(
            ["record", "add", "--key", "dentist.key", "--patient", alice.id.hex, "--patient-record-key", alice.encryptionKey!.hex,
             "--file", "xray.txt", "--category", "dental", "--type", "ImagingStudy", "--consent", consent] + connect)
        let record = try #require(add.stdout.split(separator: " ").dropFirst(2).first.map(String.init))
        #expect(add.stdout.contains("custodian Dental Clinic"))

        _ = try run(["record", "get", "--key", "alice.key", "--record", record, "--out", "mine.txt"] + connect)
        #expect(try String(contentsOfFile: scratch.file("mine.txt"), encoding: .utf8) == "panoramic x-ray, all clear")
        _ = try run(["record", "get", "--key", "dentist.key", "--record", record, "--out", "theirs.txt"] + connect)
        #expect(try String(contentsOfFile: scratch.file("theirs.txt"), encoding: .utf8) == "panoramic x-ray, all clear")

        #expect(try run(["timeline", "--key", "alice.key"] + connect).stdout.contains("dental / ImagingStudy at Dental Clinic"))
        let audit = try run(["audit", "--key", "alice.key", "--json"] + connect)
        let events = try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]]
        #expect(events?.compactMap { $0["kind"] as? String } == ["registered", "consent_granted", "record_added", "access_granted"])

        // The follower printed every event as it committed, one JSON object a line.
        let deadline = Date().addingTimeInterval(20)
        while !followed.withLock({ $0.contains("access_granted") }), Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        // SIGTERM, as a shell would send; the follower unblocks it (a spawning thread may have blocked it).
        follower.terminate()
        let stopBy = Date().addingTimeInterval(10)
        while follower.isRunning, Date() < stopBy { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!follower.isRunning, "audit --follow did not stop on SIGTERM")
        if follower.isRunning { kill(follower.processIdentifier, SIGKILL) }
        follower.waitUntilExit()
        let lines = followed.withLock { $0 }.split(separator: "\n")
        let kinds = lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["kind"] as? String
        }
        #expect(kinds == ["registered", "consent_granted", "record_added", "access_granted"], "\(lines)")

        // The dentist may not read the audit trail: exit 1 with the ledger's code and advice.
        let refused = try MedLedgerBinary.run(["audit", "--key", "dentist.key", "--patient", alice.id.hex] + connect, in: scratch.path)
        #expect(refused.status == 1 && refused.stderr.contains("not_authorised"), "\(refused.stderr)")
        _ = try run(["consent", "revoke", "--key", "alice.key", "--consent", consent] + connect)
        let late = try MedLedgerBinary.run(["record", "get", "--key", "dentist.key", "--record", record, "--out", "late.txt"] + connect, in: scratch.path)
        #expect(late.status == 1, "\(late.stdout)\(late.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("late.txt")))
    }
}
