import Dispatch
import Logging
import MedLedgerClient
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNode
import MedLedgerStore
import MedLedgerWire
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The story of `medledger demo`, told through the client library to four real node processes.
///
/// Every step is a signed request or transaction sent over the client protocol; every
/// transaction is committed by the four validators' BFT consensus before the story moves on.
struct NetworkDemo {
    let directory: String
    let facilities: [(name: String, kind: FacilityKind)] = [
        ("General Hospital", .hospital), ("Smile Dental Clinic", .dentalClinic), ("City Diagnostic Lab", .laboratory),
        ("Elm Street Family Practice", .familyPractice),
    ]
    /// Whether each node writes its key log (HOME/keys.log).
    let keyLog: Bool
    var step = 0

    init(directory: String, keyLog: Bool = false) {
        self.directory = directory
        self.keyLog = keyLog
    }

    mutating func say(_ title: String) {
        step += 1
        print("\n\(step). \(title)")
    }

    func detail(_ text: String) { print("   " + text) }

    func short(_ key: Bytes32) -> String { String(key.hex.prefix(8)) + "…" }

    mutating func run() throws {
        var config = NodeConfig()
        config.timeouts.commitMs = 200
        config.metricsListen = nil
        config.logLevel = .notice
        if keyLog { config.keyLog = "keys.log" }
        let testnet: Testnet
        do {
            testnet = try Testnet.create(nodes: 4, in: directory, chainID: "medledger-demo", basePort: 0, config: config)
        } catch {
            throw DemoFailure("cannot create the demo's network in \(directory): \(error)")
        }
        // The facility names of the story, on the cards and in the genesis.
        let cluster = ProcessCluster(testnet: testnet, observer: Ed25519.PrivateKey().publicKey)
        defer { cluster.stop() }
        print("MedLedger demo: four facilities, each running a validator node as its own process on loopback.")
        try cluster.start()
        try cluster.waitConnected(timeout: 60)
        let genesis = testnet.genesis
        var endpoints: [ClientEndpoint] = []
        for node in testnet.nodes {
            guard let ports = try node.home.loadPorts() else { throw DemoFailure("\(node.home.portsPath) is missing") }
            endpoints.append(ClientEndpoint(host: "127.0.0.1", port: ports.client, nodeKey: node.card.nodeKey))
            detail("\(node.card.name) (\(node.card.kind)): pid \(cluster.pids[node.index]), p2p \(ports.p2p), client \(ports.client), home \(node.home.path)")
        }
        detail("chain \(genesis.chainID): a block commits only with precommits from more than 2/3 of the validators' power")

        let organisations = try testnet.nodes.map { try $0.home.loadOrganisationKey() }
        let facilityKeys = testnet.nodes.map(\.card.organisationKey)
        let names = Dictionary(uniqueKeysWithValues: testnet.nodes.map { ($0.card.organisationKey, $0.card.name) })
        let (hospital, dental, lab, _) = (0, 1, 2, 3)

        // One client for everyone, preferring the hospital's node; it fails over to the others.
        var clientConfig = ClientConfiguration(genesis: genesis, endpoints: endpoints)
        clientConfig.commitTimeout = .seconds(30)
        var logger = Logger(label: "medledger.demo")
        logger.logLevel = .error
        let client = try LedgerClient(configuration: clientConfig, logger: logger)
        defer { client.close() }

        let alice = PartyKeys.generate()
        let ortiz = PartyKeys.generate()
        let dentist = PartyKeys.generate()
        let labTech = PartyKeys.generate()
        let research = PartyKeys.generate()
        let people = names.merging(
            [(alice.id, "Alice"), (ortiz.id, "Dr. Ada Ortiz"), (dentist.id, "Dr. Sam Lee"), (labTech.id, "Lee Chan"),
             (research.id, "North Research Institute")], uniquingKeysWith: { first, _ in first })
        let who = { (key: Bytes32) -> String in people[key] ?? (String(key.hex.prefix(8)) + "…") }

        say("Facilities register their people; the hospital registers a research organisation as a client")
        var height = try client.submitAndWait(
            .registerPractitioner(RegisterPractitioner(practitioner: ortiz.id, encryptionKey: ortiz.encryptionKey!, roles: [.physician, .breakGlass], displayName: "Dr. Ada Ortiz")),
            signedBy: organisations[hospital]).height
        detail("\(names[facilityKeys[hospital]]!) registers Dr. Ada Ortiz, emergency physician (break-glass allowed): height \(height)")
        height = try client.submitAndWait(
            .registerPractitioner(RegisterPractitioner(practitioner: dentist.id, encryptionKey: dentist.encryptionKey!, roles: [.dentist], displayName: "Dr. Sam Lee")),
            signedBy: organisations[dental]).height
        detail("\(names[facilityKeys[dental]]!) registers Dr. Sam Lee, dentist: height \(height)")
        height = try client.submitAndWait(
            .registerPractitioner(RegisterPractitioner(practitioner: labTech.id, encryptionKey: labTech.encryptionKey!, roles: [.labTechnician], displayName: "Lee Chan")),
            signedBy: organisations[lab]).height
        detail("\(names[facilityKeys[lab]]!) registers Lee Chan, lab technician: height \(height)")
        height = try client.submitAndWait(
            .registerOrganisation(RegisterOrganisation(organisation: research.id, encryptionKey: research.encryptionKey!, kind: .research, name: "North Research Institute")),
            signedBy: organisations[hospital]).height
        detail("North Research Institute joins as a client (it reads; it never validates): height \(height)")

        say("Alice registers at the hospital under a pseudonymous key \(short(alice.id))")
        height = try client.submitAndWait(
            .registerPatient(RegisterPatient.attested(patient: alice.id, encryptionKey: alice.encryptionKey!, by: organisations[hospital], chainID: genesis.chainID)),
            signedBy: alice.signing).height
        detail("the hospital attests the registration; validators see a key, never her name: height \(height)")

        // Alice's phone listens for her audit events from now on: an emergency read must reach her.
        let alerts = Mutex<[String]>([])
        let subscription = try client.subscribe(patient: alice.id, as: alice.signing) { result in
            guard case .success(let notice) = result, notice.event.kind == .breakGlass else { return }
            alerts.withLock { $0.append("height \(notice.event.height): break-glass by \(notice.event.actor.hex.prefix(8))…") }
        }
        defer { subscription.cancel() }

        say("Alice grants consents")
        let status = try client.status()
        let yearFromNow = status.time + 365 * 86_400_000
        let dentalConsent = try client.submitAndWait(
            .grantConsent(GrantConsent(patient: alice.id, grantee: facilityKeys[dental], actions: [.read, .write], purposes: Purposes([.treatment]), scope: .categories(["dental"]), start: 0, expiry: yearFromNow)),
            signedBy: alice.signing)
        detail("\(names[facilityKeys[dental]]!): read and write dental records, for treatment, for one year: height \(dentalConsent.height)")
        let labConsent = try client.submitAndWait(
            .grantConsent(GrantConsent(patient: alice.id, grantee: facilityKeys[lab], actions: [.read, .write], purposes: Purposes([.treatment]), scope: .categories(["laboratory"]), start: 0, expiry: nil)),
            signedBy: alice.signing)
        detail("\(names[facilityKeys[lab]]!): read and write laboratory results, for treatment, until revoked: height \(labConsent.height)")

        say("Records are added at two facilities, encrypted end to end")
        let xray = try client.addRecord(
            NewRecord(contents: Array("bitewing x-ray: no caries, filling on 36 intact".utf8), patient: alice.id, patientEncryptionKey: alice.encryptionKey!,
                      custodian: facilityKeys[dental], category: "dental", resourceType: "ImagingStudy", created: status.time - 86_400_000,
                      authority: .consent(dentalConsent.transaction.id)),
            author: dentist.signing)
        detail("Dr. Sam Lee stores an x-ray report at the dental clinic's node and anchors it: height \(xray.height)")
        let panel = try client.addRecord(
            NewRecord(contents: Array("HbA1c 5.4 %, LDL 2.9 mmol/l".utf8), patient: alice.id, patientEncryptionKey: alice.encryptionKey!,
                      custodian: facilityKeys[lab], category: "laboratory", resourceType: "DiagnosticReport", created: status.time,
                      authority: .consent(labConsent.transaction.id)),
            author: labTech.signing)
        detail("Lee Chan stores a lab panel at the lab's node and anchors it: height \(panel.height)")
        detail("each record is sealed under its own AES-256-GCM key and padded to a size bucket; the key is wrapped")
        detail("with HPKE for Alice and the custodian; the ciphertext is copied to two more facilities")

        say("Alice's timeline across facilities, decrypted with her own key")
        for anchor in try client.fullTimeline(patient: alice.id, as: alice.signing) {
            let read = try client.readOwnRecord(anchor.entry.record, patient: alice)
            let text = String(decoding: read.contents, as: UTF8.self)
            detail("\(anchor.entry.resourceType) at \(who(anchor.entry.custodian)) (\(anchor.entry.paddedSize / 1024) KiB bucket): \"\(text)\"")
        }

        say("North Research Institute asks the lab for the lab panel")
        if let refusal = try refused({ () throws(LedgerClientError) -> FetchedRecord in try client.fetchRecord(panel.record, purpose: .research, authority: .consent(labConsent.transaction.id), requester: research, custodianHint: facilityKeys[lab]) }) {
            detail("refused (\(refusal.name), \(refusal.code)): \(refusal.note)")
            detail("the refusal is on the chain too, as access entry \(refusal.access.prefix(8))…")
        } else {
            detail("unexpected: the read went through")
        }

        say("Alice grants a research consent for laboratory results; the read goes through")
        let researchConsent = try client.submitAndWait(
            .grantConsent(GrantConsent(patient: alice.id, grantee: research.id, actions: [.read], purposes: Purposes([.research]), scope: .categories(["laboratory"]), start: 0, expiry: nil)),
            signedBy: alice.signing)
        detail("consent committed at height \(researchConsent.height)")
        let researchRead = try client.fetchRecord(panel.record, purpose: .research, authority: .consent(researchConsent.transaction.id), requester: research)
        detail("the lab commits the access entry at height \(researchRead.height); only then can the institute open the key:")
        detail("\"\(String(decoding: researchRead.contents, as: UTF8.self))\"")

        say("Emergency: Dr. Ada Ortiz opens break-glass access at the lab")
        let breakGlass = try client.submitAndWait(
            .breakGlass(BreakGlass(patient: alice.id, custodian: facilityKeys[lab], reason: "unconscious in A&E, diabetic history unknown")),
            signedBy: ortiz.signing)
        let emergency = try client.fetchRecord(panel.record, purpose: .emergency, authority: .breakGlass(breakGlass.transaction.id), requester: ortiz)
        detail("break-glass at height \(breakGlass.height), the emergency read at height \(emergency.height): allowed for a role")
        detail("that may, rate-limited, and flagged to Alice")
        let deadline = Node.now() + 10_000
        while alerts.withLock({ $0.isEmpty }) && Node.now() < deadline { usleep(50_000) }
        for alert in alerts.withLock({ $0 }) { detail("Alice's phone, subscribed to her audit events: \(alert)") }

        say("Alice revokes the dental clinic's consent")
        let revoke = try client.submitAndWait(.revokeConsent(RevokeConsent(patient: alice.id, consent: dentalConsent.transaction.id)), signedBy: alice.signing)
        detail("revoked at height \(revoke.height)")
        if let refusal = try refused({ () throws(LedgerClientError) -> FetchedRecord in try client.fetchRecord(xray.record, purpose: .treatment, authority: .consent(dentalConsent.transaction.id), requester: dentist, custodianHint: facilityKeys[dental]) }) {
            detail("Dr. Sam Lee's next read is refused (\(refusal.name), \(refusal.code)), and the refusal is recorded")
        } else {
            detail("unexpected: the read went through")
        }

        say("Alice erases the x-ray")
        let erase = try client.submitAndWait(.eraseRecord(EraseRecord(patient: alice.id, record: xray.record)), signedBy: alice.signing)
        detail("the anchor becomes a tombstone at height \(erase.height); every facility holding a copy deletes it")
        do {
            _ = try client.readOwnRecord(xray.record, patient: alice)
            detail("unexpected: the erased record was served")
        } catch {
            detail("a read now fails: \(error.description.prefix(100))")
        }

        say("Alice's audit trail: who did what, when, and why")
        for event in try client.fullAuditTrail(patient: alice.id, as: alice.signing) {
            let extra = event.kind == .accessRefused ? " (\(LedgerError.Code(rawValue: event.detail)?.name ?? "code \(event.detail)"))" : ""
            detail("#\(event.sequence) height \(event.height): \(event.kind.name)\(extra) by \(who(event.actor))")
        }

        say("Every node holds the same chain")
        let target = try client.status().height
        let settle = Node.now() + 20_000
        while Node.now() < settle, !testnet.nodes.allSatisfy({ (ProcessCluster.status($0.home.path)?["height"] ?? 0) >= target }) {
            usleep(100_000)
        }
        subscription.cancel()
        client.close()
        cluster.stop()
        var heads: [[Bytes32]] = []
        for node in testnet.nodes {
            let (log, _) = try SegmentLog.open(directory: node.home.logDirectory, chainID: genesis.chainID)
            defer { log.close() }
            var hashes: [Bytes32] = []
            if log.lastHeight > 0 {
                for h in 1...log.lastHeight { hashes.append(try log.read(height: h).block.header.hash) }
            }
            heads.append(hashes)
        }
        let common = heads.map(\.count).min() ?? 0
        let identical = common > 0 && heads.allSatisfy { Array($0.prefix(common)) == Array(heads[0].prefix(common)) }
        for (index, hashes) in heads.enumerated() {
            detail("\(testnet.nodes[index].card.name): \(hashes.count) blocks, block \(common) is \(hashes.count >= common && common > 0 ? short(hashes[common - 1]) : "-")")
        }
        guard identical else { throw DemoFailure("the nodes' chains differ within their first \(common) blocks: see the node logs in \(directory)") }
        detail("all 4 nodes hold identical chains: the same \(common) block hashes (checked from each node's own segment log)")
        print("\nThe nodes are stopped; their data is in \(directory) (node0 … node3).")
        if keyLog {
            print("Key logs: \(directory)/nodeN/keys.log (secrets: anyone holding them can read that node's traffic)")
        }
        print("Inspect a chain: medledger-inspect log verify \(testnet.nodes[0].home.logDirectory) --genesis \(testnet.nodes[0].home.genesisPath)")
    }
}

/// The custodian's refusal of a read (it is committed on the chain), or nil when the read went through.
private func refused(_ read: () throws(LedgerClientError) -> FetchedRecord) throws
    -> (code: UInt16, name: String, note: String, access: String)?
{
    do {
        _ = try read()
        return nil
    } catch {
        guard case .accessRefused(let code, let name, let note, let access) = error else { throw error }
        return (code, name, note, access)
    }
}

struct DemoFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
