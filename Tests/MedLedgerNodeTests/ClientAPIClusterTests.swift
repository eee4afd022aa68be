import Foundation
import Logging
import MedLedgerConsensus
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerNode
import MedLedgerWire
import Testing

/// The client port's kinds 3 to 12 and record replication (Protocol/CLIENT.md), on four nodes
/// in one process over loopback. They bind ports, so the suite runs serialized.
@Suite("client API and record replication on a loopback cluster", .serialized)
struct ClientAPIClusterTests {
    static let chainID = "medledger-client-api-test"

    struct Member {
        let organisation: Ed25519.PrivateKey
        let validator: Ed25519.PrivateKey
        let node: Ed25519.PrivateKey
        let record: X25519.PrivateKey
    }

    static func key(_ label: String) -> Ed25519.PrivateKey {
        try! Ed25519.PrivateKey(seed: SecureBytes(SHA256.hash(Array("client api \(label)".utf8)).bytes))
    }

    let members = (0..<4).map {
        Member(
            organisation: ClientAPIClusterTests.key("org \($0)"), validator: ClientAPIClusterTests.key("validator \($0)"),
            node: ClientAPIClusterTests.key("node \($0)"), record: X25519.PrivateKey())
    }
    let genesis: Genesis
    let directory: String

    // The people of the story: a patient, a doctor of facility 0 (the custodian), a doctor of
    // facility 1 the patient lets read, and one of facility 2 it does not.
    let patient = key("patient")
    let patientBox = X25519.PrivateKey()
    let doctor = key("doctor")
    let reader = key("reader")
    let readerBox = X25519.PrivateKey()
    let stranger = key("stranger")

    init() throws {
        let facilities = members.enumerated().map { index, member in
            Facility(
                name: "facility \(index)", kind: .hospital, organisationKey: member.organisation.publicKey.wire,
                validatorKey: member.validator.publicKey.wire, nodeKey: member.node.publicKey.wire,
                recordKey: Bytes32(member.record.publicKey.bytes)!, power: 10)
        }
        genesis = try Genesis(chainID: Self.chainID, genesisTime: 1_700_000_000_000, facilities: facilities)
        directory = NSTemporaryDirectory() + "medledger-client-api-\(UInt64.random(in: 0..<UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    // MARK: Cluster

    func options(_ index: Int, peers: [PeerEndpoint]) -> Node.Options {
        var options = Node.Options(
            genesis: genesis, dataDirectory: "\(directory)/node\(index)", nodeKey: members[index].node, validatorKey: members[index].validator)
        options.peers = peers
        options.timeouts.propose = 800
        options.timeouts.prevote = 300
        options.timeouts.precommit = 300
        options.timeouts.delta = 200
        options.commitWait = .milliseconds(50)
        options.statusInterval = .milliseconds(200)
        options.organisationKey = members[index].organisation
        options.recordKey = members[index].record
        options.repairInterval = .seconds(1)
        var logger = Logger(label: "node\(index)")
        logger.logLevel = ProcessInfo.processInfo.environment["MEDLEDGER_TEST_LOG"] == nil ? .critical : .info
        options.logger = logger
        return options
    }

    /// Starts nodes `indices`; those in `keyless` without the organisation and record keys.
    func start(_ indices: [Int], addresses: inout [Int: SocketAddress], keyless: Set<Int> = []) throws -> [Int: Node] {
        var nodes: [Int: Node] = [:]
        for index in indices {
            let peers = addresses.map { PeerEndpoint(host: "127.0.0.1", port: $0.value.port, key: members[$0.key].node.publicKey) }
            var options = options(index, peers: peers)
            if keyless.contains(index) {
                options.organisationKey = nil
                options.recordKey = nil
            }
            let node = try Node(options: options)
            try node.start()
            addresses[index] = node.p2pAddress!
            nodes[index] = node
        }
        return nodes
    }

    func client(_ node: Node, as key: Ed25519.PrivateKey, index: Int) throws -> NodeClient {
        try NodeClient(
            chainID: Self.chainID, host: "127.0.0.1", port: node.clientAddress!.port, nodeKey: members[index].node.publicKey, key: key,
            timeout: .seconds(40))
    }

    static func eventually(seconds: Double = 20, _ condition: () throws -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Submits `transactions` and waits until the last one is committed.
    func commit(_ transactions: [Transaction], via client: NodeClient) async throws {
        for transaction in transactions {
            let result = try client.submit(transaction)
            if case .rejected(let code, let reason) = result { Issue.record("rejected (\(code)): \(reason)") }
        }
        let committed = await Self.eventually {
            if case .committed = try client.submit(transactions.last!) { return true }
            return false
        }
        #expect(committed, "the transactions did not commit")
    }

    func signed(_ body: TransactionBody, by key: Ed25519.PrivateKey, nonce: UInt64) -> Transaction {
        Transaction.signed(body, by: key, nonce: nonce, chainID: Self.chainID)
    }

    /// The patient, its consent for facility 0 (and so its doctors) to read and write, the
    /// doctors, and (with `readerConsent`) a consent for the reader. Returns the consents' ids.
    func setUp(via client: NodeClient) async throws -> (custodian: Bytes32, reader: Bytes32) {
        let p = patient.publicKey.wire
        let box = Bytes32(patientBox.publicKey.bytes)!
        let custodianConsent = signed(
            .grantConsent(GrantConsent(
                patient: p, grantee: members[0].organisation.publicKey.wire, actions: [.read, .write], purposes: Purposes([.treatment]),
                scope: .allRecords, start: 0, expiry: nil)), by: patient, nonce: 2)
        let readerConsent = signed(
            .grantConsent(GrantConsent(
                patient: p, grantee: reader.publicKey.wire, actions: [.read], purposes: Purposes([.treatment]), scope: .allRecords,
                start: 0, expiry: nil)), by: patient, nonce: 3)
        try await commit(
            [
                signed(.registerPatient(.attested(patient: p, encryptionKey: box, by: members[0].organisation, chainID: Self.chainID)), by: patient, nonce: 1),
                signed(
                    .registerPractitioner(RegisterPractitioner(
                        practitioner: doctor.publicKey.wire, encryptionKey: Bytes32(X25519.PrivateKey().publicKey.bytes)!,
                        roles: [.physician, .breakGlass], displayName: "Dr Who")), by: members[0].organisation, nonce: 1),
                signed(
                    .registerPractitioner(RegisterPractitioner(
                        practitioner: reader.publicKey.wire, encryptionKey: Bytes32(readerBox.publicKey.bytes)!, roles: [.physician],
                        displayName: "Dr Reader")), by: members[1].organisation, nonce: 1),
                signed(
                    .registerPractitioner(RegisterPractitioner(
                        practitioner: stranger.publicKey.wire, encryptionKey: Bytes32(X25519.PrivateKey().publicKey.bytes)!,
                        roles: [.physician], displayName: "Dr Stranger")), by: members[2].organisation, nonce: 1),
                custodianConsent, readerConsent,
            ], via: client)
        return (custodianConsent.id, readerConsent.id)
    }

    /// Expects `body` to fail with `code`.
    func expectRefusal(
        _ code: LedgerError.Code, _ client: NodeClient, _ kind: ClientRequestKind, _ body: [UInt8],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try client.request(kind, body: body)
            Issue.record("\(kind) was answered; expected \(code.name)", sourceLocation: sourceLocation)
        } catch let failure as NodeClient.Failure {
            #expect(failure.code == code.rawValue, "\(kind): \(failure)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    func blobPath(_ index: Int, _ hash: Bytes32) -> String {
        "\(directory)/node\(index)/blobs/\(String(hash.hex.prefix(2)))/\(hash.hex)"
    }

    func holds(_ index: Int, _ hash: Bytes32) -> Bool {
        guard let data = FileManager.default.contents(atPath: blobPath(index, hash)) else { return false }
        return Bytes32(SHA256.hash(Array(data)).bytes) == hash
    }

    // MARK: Tests

    @Test("queries, state proofs and subscriptions answer the controllers and refuse the others")
    func queriesProofsAndSubscriptions() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var addresses: [Int: SocketAddress] = [:]
        // A node refuses another facility's organisation or record key.
        var wrongKey = options(0, peers: [])
        wrongKey.organisationKey = members[1].organisation
        #expect(throws: LedgerError.self) { _ = try Node(options: wrongKey) }
        wrongKey = options(0, peers: [])
        wrongKey.recordKey = members[1].record
        #expect(throws: LedgerError.self) { _ = try Node(options: wrongKey) }

        // Alone, node 0 commits nothing: at height 0 there is no certified header to prove against.
        var nodes = try start([0], addresses: &addresses)
        defer { for node in nodes.values { node.stop() } }
        let anyone = try client(nodes[0]!, as: Self.key("anyone"), index: 0)
        expectRefusal(.invalidValue, anyone, .stateProof, StateProofQuery(key: StateKey.key(.facility, members[0].organisation.publicKey.wire)).canonicalBytes)
        for (index, node) in try start([1, 2, 3], addresses: &addresses, keyless: [3]) { nodes[index] = node }
        #expect(await ClusterTests.wait(for: Array(nodes.values), height: 2))

        let viaPatient = try client(nodes[0]!, as: patient, index: 0)
        let viaDoctor = try client(nodes[0]!, as: doctor, index: 0)
        let consents = try await setUp(via: viaPatient)
        let p = patient.publicKey.wire

        // status names the facility the node serves.
        let status = try anyone.statusAnswer()
        #expect(status.facility == members[0].organisation.publicKey.wire)
        #expect(status.chainID == Self.chainID)

        // consents_in_force: the patient's two, paged; not for a doctor; not for nobody.
        let page = try PageAnswer<Consent>(
            canonicalBytes: try viaPatient.request(.consentsInForce, body: PatientPage(patient: p, limit: 1).canonicalBytes))
        #expect(page.items.map(\.id) == [consents.custodian])
        #expect(page.next == 1)
        let rest = try PageAnswer<Consent>(
            canonicalBytes: try viaPatient.request(.consentsInForce, body: PatientPage(patient: p, cursor: 1).canonicalBytes))
        #expect(rest.items.map(\.id) == [consents.reader] && rest.next == nil)
        expectRefusal(.notAuthorised, viaDoctor, .consentsInForce, PatientPage(patient: p).canonicalBytes)
        expectRefusal(.unknownPatient, viaPatient, .consentsInForce, PatientPage(patient: Self.key("nobody").publicKey.wire).canonicalBytes)
        expectRefusal(.malformed, viaPatient, .consentsInForce, [1, 2, 3])
        expectRefusal(.malformed, viaPatient, .consentsInForce, p.bytes + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])  // limit 0

        // audit_trail: registered, then the two grants.
        let trail = try PageAnswer<AuditEvent>(canonicalBytes: try viaPatient.request(.auditTrail, body: PatientPage(patient: p).canonicalBytes))
        #expect(trail.items.map(\.kind) == [.registered, .consentGranted, .consentGranted])
        expectRefusal(.notAuthorised, viaDoctor, .auditTrail, PatientPage(patient: p).canonicalBytes)

        // state_proof: the patient's entry, proven against a certified header; a changed value fails.
        let patientKey = StateKey.key(.patient, p)
        let proof = try StateProofAnswer(canonicalBytes: try viaPatient.request(.stateProof, body: StateProofQuery(key: patientKey).canonicalBytes))
        #expect(try Patient(canonicalBytes: proof.value ?? []).id == p)
        #expect(throws: Never.self) { try proof.verify(key: patientKey, validators: try genesis.validatorSet, chainID: Self.chainID) }
        var tampered = proof
        tampered.value![tampered.value!.count - 1] ^= 1
        #expect(throws: LedgerError.self) { try tampered.verify(key: patientKey, validators: try genesis.validatorSet, chainID: Self.chainID) }
        var forged = proof
        forged.certificate.signatures.removeLast(2)
        #expect(throws: LedgerError.self) { try forged.verify(key: patientKey, validators: try genesis.validatorSet, chainID: Self.chainID) }
        expectRefusal(.notAuthorised, viaDoctor, .stateProof, StateProofQuery(key: patientKey).canonicalBytes)
        // Absent entries of a patient's kinds are not revealed; public prefixes prove absence.
        expectRefusal(.notAuthorised, viaPatient, .stateProof, StateProofQuery(key: StateKey.key(.consent, Self.b32("none"))).canonicalBytes)
        let absent = try StateProofAnswer(
            canonicalBytes: try anyone.request(.stateProof, body: StateProofQuery(key: StateKey.key(.practitioner, Self.b32("none"))).canonicalBytes))
        #expect(absent.value == nil)
        #expect(throws: Never.self) {
            try absent.verify(key: StateKey.key(.practitioner, Self.b32("none")), validators: try genesis.validatorSet, chainID: Self.chainID)
        }
        expectRefusal(.invalidValue, anyone, .stateProof, StateProofQuery(key: [0x0C] + p.bytes).canonicalBytes)
        // The consent's grantee may see it.
        let viaReader = try client(nodes[0]!, as: reader, index: 0)
        let consentProof = try StateProofAnswer(
            canonicalBytes: try viaReader.request(.stateProof, body: StateProofQuery(key: StateKey.key(.consent, consents.reader)).canonicalBytes))
        #expect(consentProof.value != nil)

        // subscribe: the past events at once, then a break-glass entry as it commits.
        let events = EventLog()
        viaPatient.onEvent { events.append($0) }
        let answer = try SubscribeAnswer(
            canonicalBytes: try viaPatient.request(.subscribe, body: SubscribeRequest(patient: p, fromSequence: 1).canonicalBytes))
        #expect(answer.nextSequence == 3)
        #expect(await Self.eventually { events.notices.count == 2 }, "the committed events were not replayed")
        try await commit(
            [signed(.breakGlass(BreakGlass(patient: p, custodian: members[0].organisation.publicKey.wire, reason: "unconscious in A&E")), by: doctor, nonce: 1)],
            via: viaDoctor)
        #expect(await Self.eventually { events.notices.count == 3 }, "the break-glass event did not arrive")
        let notices = events.notices
        #expect(notices.map(\.event.sequence) == [1, 2, 3])
        #expect(notices.last?.event.kind == .breakGlass)
        #expect(notices.last?.event.actor == doctor.publicKey.wire)
        #expect(notices.allSatisfy { $0.patient == p })
        expectRefusal(.notAuthorised, viaDoctor, .subscribe, SubscribeRequest(patient: p, fromSequence: 0).canonicalBytes)
        // At most 16 per connection; unsubscribe frees one.
        for _ in 0..<15 { _ = try viaPatient.request(.subscribe, body: SubscribeRequest(patient: p, fromSequence: 4).canonicalBytes) }
        expectRefusal(.invalidValue, viaPatient, .subscribe, SubscribeRequest(patient: p, fromSequence: 4).canonicalBytes)
        expectRefusal(.invalidValue, viaPatient, .unsubscribe, UnsubscribeRequest(subscriptionID: 999_999).canonicalBytes)

        // A node without the organisation key (an observer's setup) cannot answer fetch_record.
        let viaKeyless = try client(nodes[3]!, as: reader, index: 3)
        var keyless = FetchRequest(
            record: Self.b32("any record"), custodian: members[3].organisation.publicKey.wire, requester: reader.publicKey.wire,
            purpose: .treatment, authority: .consent(consents.reader), nonce: Self.b32("n"), recentBlockHash: status.blockHash,
            encryptionKey: Bytes32(readerBox.publicKey.bytes)!, signature: Bytes64(repeating: 0))
        keyless.signature = Bytes64(reader.signature(for: .fetchRequest, chainID: Self.chainID, message: keyless.signedBytes).bytes)!
        expectRefusal(.invalidValue, viaKeyless, .fetchRecord, keyless.canonicalBytes)
        #expect(try viaKeyless.statusAnswer().facility == members[3].organisation.publicKey.wire)

        // Requests checked before any kind: the timestamp, the signature, the kind.
        let raw = try RawClient(port: nodes[0]!.clientAddress!.port, nodeKey: members[0].node.publicKey)
        defer { raw.close() }
        let body = PatientPage(patient: p).canonicalBytes
        #expect(raw.ask(kind: 6, body: body, key: patient, timestamp: Node.now() - 400_000) == LedgerError.Code.staleRequest.rawValue)
        #expect(raw.ask(kind: 6, body: body, key: patient, timestamp: Node.now() + 400_000) == LedgerError.Code.staleRequest.rawValue)
        #expect(raw.ask(kind: 6, body: body, key: patient, timestamp: Node.now(), breakSignature: true) == LedgerError.Code.badSignature.rawValue)
        #expect(raw.ask(kind: 99, body: body, key: patient, timestamp: Node.now()) == LedgerError.Code.malformed.rawValue)
        #expect(raw.ask(kind: 6, body: body, key: patient, timestamp: Node.now()) == 0)
        for node in nodes.values { #expect(node.fault == nil) }
    }

    @Test("records: stored, anchored, replicated to two holders, fetched (granted and refused), read from a replica, repaired, erased")
    func recordLifecycle() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var addresses: [Int: SocketAddress] = [:]
        var nodes = try start([0, 1, 2, 3], addresses: &addresses)
        defer { for node in nodes.values { node.stop() } }
        #expect(await ClusterTests.wait(for: Array(nodes.values), height: 2))
        let viaPatient = try client(nodes[0]!, as: patient, index: 0)
        let viaDoctor = try client(nodes[0]!, as: doctor, index: 0)
        let viaReader = try client(nodes[0]!, as: reader, index: 0)
        let viaStranger = try client(nodes[0]!, as: stranger, index: 0)
        let consents = try await setUp(via: viaPatient)
        let p = patient.publicKey.wire
        let custodian = members[0].organisation.publicKey.wire

        // The doctor encrypts a record (2.5 MB: three chunks and a bit) and stores it at its node.
        let record = Self.b32("record \(UInt64.random(in: 0..<UInt64.max))")
        let plaintext = (0..<2_500_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let sealed = try RecordCrypto.encrypt(plaintext, record: record)
        let ciphertext = sealed.ciphertext
        let chunks = stride(from: 0, to: ciphertext.count, by: ClientLimits.chunk).map {
            RecordChunkUpload(
                record: record, offset: UInt64($0), total: UInt64(ciphertext.count),
                chunk: Array(ciphertext[$0..<min(ciphertext.count, $0 + ClientLimits.chunk)]))
        }
        expectRefusal(.wrongSigner, viaReader, .storeRecord, chunks[0].canonicalBytes)  // not a practitioner of facility 0
        expectRefusal(.invalidValue, viaDoctor, .storeRecord, chunks[1].canonicalBytes)  // not from offset 0
        var stored: StoreAnswer?
        for (index, chunk) in chunks.enumerated() {
            stored = try StoreAnswer(canonicalBytes: try viaDoctor.request(.storeRecord, body: chunk.canonicalBytes))
            if index == 0 {
                // A retry of the last chunk is accepted again; skipping ahead is not.
                #expect(try StoreAnswer(canonicalBytes: try viaDoctor.request(.storeRecord, body: chunk.canonicalBytes)).received == stored!.received)
                expectRefusal(.invalidValue, viaDoctor, .storeRecord, chunks[2].canonicalBytes)
            }
        }
        #expect(stored == StoreAnswer(received: UInt64(ciphertext.count), ciphertextHash: sealed.ciphertextHash))

        // add_record anchors it; the custodian keeps it and pushes it to the next two facilities.
        let add = AddRecord(
            record: record, patient: p, custodian: custodian, category: "laboratory", resourceType: "DiagnosticReport",
            ciphertextHash: sealed.ciphertextHash, paddedSize: sealed.paddedSize, created: 1_700_000_000_000,
            keyForPatient: try RecordCrypto.wrap(sealed.dataKey, for: Bytes32(patientBox.publicKey.bytes)!, record: record),
            keyForCustodian: try RecordCrypto.wrap(sealed.dataKey, for: Bytes32(members[0].record.publicKey.bytes)!, record: record),
            authority: .consent(consents.custodian))
        try await commit([signed(.addRecord(add), by: doctor, nonce: 1)], via: viaDoctor)
        let hash = sealed.ciphertextHash
        #expect(await Self.eventually { holds(0, hash) && holds(1, hash) && holds(2, hash) }, "the record was not replicated to nodes 1 and 2")
        #expect(!holds(3, hash), "node 3 is not a holder")
        expectRefusal(.duplicate, viaDoctor, .storeRecord, chunks[0].canonicalBytes)

        // may_read and the timeline.
        let mayRead = try MayReadAnswer(
            canonicalBytes: try viaReader.request(.mayRead, body: MayReadQuery(requester: reader.publicKey.wire, record: record, purpose: .treatment).canonicalBytes))
        #expect(mayRead.allowed && mayRead.consent == consents.reader && mayRead.code == 0)
        let mayNot = try MayReadAnswer(
            canonicalBytes: try viaStranger.request(.mayRead, body: MayReadQuery(requester: stranger.publicKey.wire, record: record, purpose: .treatment).canonicalBytes))
        #expect(!mayNot.allowed && mayNot.code == LedgerError.Code.noConsent.rawValue)
        expectRefusal(.notAuthorised, viaStranger, .mayRead, MayReadQuery(requester: reader.publicKey.wire, record: record, purpose: .treatment).canonicalBytes)
        let timeline = try PageAnswer<RecordAnchor>(canonicalBytes: try viaReader.request(.timeline, body: PatientPage(patient: p).canonicalBytes))
        #expect(timeline.items.map(\.entry.record) == [record])
        expectRefusal(.notAuthorised, viaStranger, .timeline, PatientPage(patient: p).canonicalBytes)

        // fetch_record, granted: the reader opens the data key, reads the ciphertext from a
        // replica, checks it and decrypts it.
        let status = try viaReader.status()
        let request = fetchRequest(record: record, by: reader, box: Bytes32(readerBox.publicKey.bytes)!, consent: consents.reader, recent: status.hash)
        let granted = try FetchAnswer(canonicalBytes: try viaReader.request(.fetchRecord, body: request.canonicalBytes))
        #expect(granted.access == LedgerState.accessID(request))
        guard case .granted(let wrapped) = granted.outcome else {
            Issue.record("the fetch was refused: \(granted.outcome)")
            return
        }
        let dataKey = try RecordCrypto.unwrap(wrapped, with: readerBox, record: record)
        let again = try FetchAnswer(canonicalBytes: try viaReader.request(.fetchRecord, body: request.canonicalBytes))
        #expect(again == granted, "a repeated fetch is answered with the committed entry")
        let replicaReader = try client(nodes[1]!, as: reader, index: 1)
        let fetched = try readAll(record, access: granted.access, via: replicaReader)
        #expect(Bytes32(SHA256.hash(fetched).bytes) == hash)
        #expect(try RecordCrypto.decrypt(fetched, dataKey: dataKey, record: record) == plaintext)
        expectRefusal(.wrongSigner, replicaReader, .fetchRecord, request.canonicalBytes)  // not the custodian's node
        expectRefusal(.wrongSigner, viaStranger, .fetchRecord, request.canonicalBytes)  // not the requester

        // fetch_record, refused: the stranger has no consent; the refusal is on the chain.
        let strangerRequest = fetchRequest(
            record: record, by: stranger, box: Bytes32(X25519.PrivateKey().publicKey.bytes)!, consent: consents.reader, recent: status.hash)
        let refused = try FetchAnswer(canonicalBytes: try viaStranger.request(.fetchRecord, body: strangerRequest.canonicalBytes))
        guard case .refused(let code, _) = refused.outcome else {
            Issue.record("the stranger was granted access")
            return
        }
        #expect(code == LedgerError.Code.noConsent.rawValue)
        let trail = try PageAnswer<AuditEvent>(canonicalBytes: try viaPatient.request(.auditTrail, body: PatientPage(patient: p).canonicalBytes))
        #expect(trail.items.contains { $0.kind == .accessRefused && $0.actor == stranger.publicKey.wire && $0.detail == code && $0.subject == refused.access })
        #expect(trail.items.contains { $0.kind == .accessGranted && $0.actor == reader.publicKey.wire && $0.subject == granted.access })
        expectRefusal(
            .notAuthorised, viaStranger, .getRecord, GetRecordRequest(record: record, access: refused.access).canonicalBytes)
        expectRefusal(.notHeld, try client(nodes[3]!, as: patient, index: 3), .getRecord, GetRecordRequest(record: record, access: nil).canonicalBytes)

        // The custodian loses its disk copy; after a restart it asks its peers and holds it again.
        nodes[0]!.stop()
        try FileManager.default.removeItem(atPath: "\(directory)/node0/blobs")
        addresses[0] = nil
        nodes[0] = try start([0], addresses: &addresses)[0]
        #expect(await Self.eventually(seconds: 30) { holds(0, hash) }, "the custodian did not repair its copy")
        let viaPatient0 = try client(nodes[0]!, as: patient, index: 0)
        #expect(try readAll(record, access: nil, via: viaPatient0) == ciphertext, "the patient reads its record without an access entry")

        // Erasure deletes every copy.
        try await commit([signed(.eraseRecord(EraseRecord(patient: p, record: record)), by: patient, nonce: 4)], via: viaPatient0)
        #expect(await Self.eventually { !holds(0, hash) && !holds(1, hash) && !holds(2, hash) }, "a copy survived the erasure")
        for index in [0, 1, 2] { #expect(!FileManager.default.fileExists(atPath: blobPath(index, hash))) }
        expectRefusal(.recordErased, viaPatient0, .getRecord, GetRecordRequest(record: record, access: nil).canonicalBytes)
        for node in nodes.values { #expect(node.fault == nil) }
    }

    // MARK: Helpers

    static func b32(_ label: String) -> Bytes32 { Bytes32(SHA256.hash(Array(label.utf8)).bytes)! }

    func fetchRequest(record: Bytes32, by key: Ed25519.PrivateKey, box: Bytes32, consent: Bytes32, recent: Bytes32) -> FetchRequest {
        var request = FetchRequest(
            record: record, custodian: members[0].organisation.publicKey.wire, requester: key.publicKey.wire, purpose: .treatment,
            authority: .consent(consent), nonce: Self.b32("nonce \(UInt64.random(in: 0..<UInt64.max))"), recentBlockHash: recent,
            encryptionKey: box, signature: Bytes64(repeating: 0))
        request.signature = Bytes64(key.signature(for: .fetchRequest, chainID: Self.chainID, message: request.signedBytes).bytes)!
        return request
    }

    func readAll(_ record: Bytes32, access: Bytes32?, via client: NodeClient) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let chunk = try RecordChunk(
                canonicalBytes: try client.request(.getRecord, body: GetRecordRequest(record: record, access: access, offset: UInt64(bytes.count)).canonicalBytes))
            #expect(chunk.offset == UInt64(bytes.count))
            bytes += chunk.chunk
            if bytes.count == Int(chunk.total) || chunk.chunk.isEmpty { return bytes }
        }
    }
}

/// Subscription events collected from the client's thread.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ClientEvent] = []

    func append(_ event: ClientEvent) {
        lock.lock()
        events.append(event)
        lock.unlock()
    }

    var notices: [AuditEventNotice] {
        lock.lock()
        defer { lock.unlock() }
        return events.compactMap { try? AuditEventNotice(canonicalBytes: $0.body) }
    }
}

/// A client that signs requests as told (old timestamps, broken signatures), over the transport.
final class RawClient: @unchecked Sendable {
    let transport: Transport
    let events = Events()
    var connection: ConnectionID?
    var nextID: UInt64 = 1

    init(port: UInt16, nodeKey: Ed25519.PublicKey) throws {
        let events = events
        transport = try Transport(
            configuration: TransportConfiguration(chainID: ClientAPIClusterTests.chainID, nodeKey: Ed25519.PrivateKey(), admittedPeerKeys: [])
        ) { event in events.append(event) }
        transport.dial(PeerEndpoint(host: "127.0.0.1", port: port, key: nodeKey, channel: .client))
        let deadline = Date().addingTimeInterval(10)
        while connection == nil, Date() < deadline {
            for event in events.drain() { if case .connected(let peer) = event { connection = peer.connectionID } }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    func close() { transport.shutdown() }

    /// The error code of the answer, 0 for a success, nil for none.
    func ask(kind: UInt16, body: [UInt8], key: Ed25519.PrivateKey, timestamp: UInt64, breakSignature: Bool = false) -> UInt16? {
        guard let connection else { return nil }
        var request = SignedRequest(kind: kind, signer: key.publicKey.wire, timestamp: timestamp, body: body, signature: Bytes64(repeating: 0))
        var signature = key.signature(for: .clientRequest, chainID: ClientAPIClusterTests.chainID, message: request.signedBytes).bytes
        if breakSignature { signature[0] ^= 1 }
        request.signature = Bytes64(signature)!
        let id = nextID
        nextID += 1
        guard (try? transport.send(.clientRequest(ClientRequest(requestID: id, request: request)), on: connection)) != nil else { return nil }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            for event in events.drain() {
                switch event {
                case .message(.clientError(let error), _) where error.requestID == id: return error.code
                case .message(.clientResponse(let response), _) where response.requestID == id: return 0
                default: break
                }
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return nil
    }
}
