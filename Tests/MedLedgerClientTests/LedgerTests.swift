import Foundation
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire
import Synchronization
import Testing
@testable import MedLedgerClient

@Suite("client against the real ledger: proofs, nonces, commits, queries, records")
struct ClientLedgerTests {
    let chain = MiniChain()

    func registration(_ patient: PartyKeys, at member: Int) -> TransactionBody {
        .registerPatient(
            .attested(patient: patient.id, encryptionKey: patient.encryptionKey!, by: chain.members[member].organisation, chainID: MiniChain.chainID))
    }

    // MARK: Nonces and proofs

    @Test("the nonce book counts up from the committed nonce and never goes below what it handed out")
    func nonceBook() {
        let signer = Bytes32(repeating: 1)
        var book = NonceBook()
        #expect(!book.knows(signer))
        book.learn(signer, committed: 4)
        #expect(book.knows(signer))
        #expect(book.next(signer) == 5)
        #expect(book.next(signer) == 6)
        book.invalidate(signer)
        #expect(!book.knows(signer))
        book.learn(signer, committed: 3)  // the chain lags behind what is in flight
        #expect(book.next(signer) == 7)
        book.invalidate(signer)
        book.learn(signer, committed: 20)  // another client of the same key went ahead
        #expect(book.next(signer) == 21)
        #expect(book.next(Bytes32(repeating: 2)) == 1)
    }

    @Test("a state proof made by the ledger verifies against the genesis validators: present and absent values")
    func verifiedValues() throws {
        let alice = Keys.party("alice")
        try chain.commit([Transaction.signed(registration(alice, at: 0), by: alice.signing, nonce: 3, chainID: MiniChain.chainID)])
        let node = try FakeNode(key: chain.members[0].node, handler: ledgerHandler(chain, member: 0))
        let client = try makeClient(chain, [node.endpoint])
        let proven = try client.verifiedValue(key: StateKey.key(.nonce, alice.id))
        #expect(proven.value == [0, 0, 0, 0, 0, 0, 0, 3])
        #expect(proven.height == 2)
        #expect(try client.committedNonce(of: alice.id) == 3)
        #expect(try client.committedNonce(of: Keys.signing("nobody").publicKey.wire) == 0)
        let facility = try client.verifiedEntity(Facility.self, key: StateKey.key(.facility, chain.facility(2)))
        #expect(facility.entity?.name == "facility 2")
        #expect(throws: LedgerClientError.self) { try client.verifiedValue(key: []) }
        #expect(throws: LedgerClientError.self) { try client.verifiedValue(key: [UInt8](repeating: 5, count: 257)) }
    }

    @Test("a tampered value, a forged certificate, or a proof of another chain is refused as proofInvalid")
    func proofNegativeControls() throws {
        let alice = Keys.party("alice")
        try chain.commit([Transaction.signed(registration(alice, at: 0), by: alice.signing, nonce: 1, chainID: MiniChain.chainID)])
        let key = StateKey.key(.nonce, alice.id)
        let strangers = (0..<4).map { Keys.signing("stranger \($0)") }
        let tamperings: [(String, @Sendable (StateProofAnswer) -> StateProofAnswer)] = [
            ("value", { var a = $0; a.value = [0, 0, 0, 0, 0, 0, 0, 9]; return a }),
            ("absence", { var a = $0; a.value = nil; return a }),
            ("certificate", { [chain] in var a = $0; a.certificate = chain.certify(a.header, by: strangers); return a }),
            ("quorum", { var a = $0; a.certificate.signatures = Array(a.certificate.signatures.prefix(2)); return a }),
            ("state root", { var a = $0; a.header.stateRoot = Bytes32(repeating: 3); return a }),
        ]
        for (what, tamper) in tamperings {
            let node = try FakeNode(key: chain.members[0].node) { [chain] request in
                guard let query = try? StateProofQuery(canonicalBytes: request.body) else { return .refuse(.malformed, "?") }
                return .answer(tamper(chain.proofAnswer(query.key)).canonicalBytes)
            }
            let client = try makeClient(chain, [node.endpoint])
            let error = failure { try client.verifiedValue(key: key) }
            guard case .proofInvalid(let detail)? = error else { Issue.record("tampered \(what): \(String(describing: error))"); continue }
            #expect("\(LedgerClientError.proofInvalid(detail))".contains("Do not trust this node"), "\(what)")
        }
    }

    // MARK: Submitting

    @Test("submit signs with the committed nonce + 1, counts up locally, and waitForCommit returns the height")
    func submitAndCommit() throws {
        let node = try FakeNode(key: chain.members[0].node, handler: ledgerHandler(chain, member: 0))
        let client = try makeClient(chain, [node.endpoint])
        let alice = Keys.party("alice")
        // Alice signed before, with nonce 5, through someone else.
        try chain.commit([Transaction.signed(registration(alice, at: 0), by: alice.signing, nonce: 5, chainID: MiniChain.chainID)])
        let grant = TransactionBody.grantConsent(
            GrantConsent(patient: alice.id, grantee: chain.facility(1), actions: [.read], purposes: Purposes([.treatment]), scope: .allRecords, start: 0, expiry: nil))
        let first = try client.submit(grant, signedBy: alice.signing)
        #expect(first.transaction.nonce == 6)
        #expect(first.answer == .inMempool)
        let height = try client.waitForCommit(first.transaction)
        #expect(height == chain.state.height)
        let (second, secondHeight) = try client.submitAndWait(grant, signedBy: alice.signing)
        #expect(second.nonce == 7 && secondHeight == height + 1)
        #expect(chain.state.consent(first.id) != nil && chain.state.consent(second.id) != nil)
    }

    @Test("after nonce_reused the client asks the chain again and retries once with a fresh nonce")
    func nonceReusedRetries() throws {
        let node = try FakeNode(key: chain.members[0].node, handler: ledgerHandler(chain, member: 0))
        let client = try makeClient(chain, [node.endpoint])
        let alice = Keys.party("alice")
        _ = try client.submitAndWait(registration(alice, at: 0), signedBy: alice.signing)
        // Another device of Alice's uses nonces 2 to 4 behind this client's back.
        for nonce in 2...4 {
            let body = TransactionBody.setPreferences(SetPreferences(patient: alice.id, breakGlassOptOut: false))
            try chain.commit([Transaction.signed(body, by: alice.signing, nonce: UInt64(nonce), chainID: MiniChain.chainID)])
        }
        let (transaction, _) = try client.submitAndWait(.setPreferences(SetPreferences(patient: alice.id, breakGlassOptOut: true)), signedBy: alice.signing)
        #expect(transaction.nonce == 5)
    }

    @Test("a rejected transaction throws rejected with the ledger's code, reason and advice")
    func rejected() throws {
        let node = try FakeNode(key: chain.members[0].node, handler: ledgerHandler(chain, member: 0))
        let client = try makeClient(chain, [node.endpoint])
        let stranger = Keys.party("stranger")
        let grant = TransactionBody.grantConsent(
            GrantConsent(patient: stranger.id, grantee: chain.facility(1), actions: [.read], purposes: Purposes([.treatment]), scope: .allRecords, start: 0, expiry: nil))
        let error = failure { try client.submit(grant, signedBy: stranger.signing) }
        guard case .rejected(let code, let name, _)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(code == LedgerError.Code.unknownPatient.rawValue && name == "unknown_patient")
        #expect(LedgerClientError.rejected(code: code, name: name, reason: "").description.contains("medledger patient register"))
    }

    // MARK: Queries

    @Test("timeline, audit trail and consents come back whole across pages, in order")
    func queries() throws {
        let node = try FakeNode(key: chain.members[0].node, handler: ledgerHandler(chain, member: 0))
        let client = try makeClient(chain, [node.endpoint])
        let alice = Keys.party("alice")
        _ = try client.submitAndWait(registration(alice, at: 0), signedBy: alice.signing)
        var grants: [Bytes32] = []
        for index in 0..<3 {
            let grant = TransactionBody.grantConsent(
                GrantConsent(patient: alice.id, grantee: chain.facility(index), actions: [.read], purposes: Purposes([.treatment]), scope: .allRecords, start: 0, expiry: nil))
            grants.append(try client.submitAndWait(grant, signedBy: alice.signing).transaction.id)
        }
        #expect(try client.allConsentsInForce(patient: alice.id, as: alice.signing).map(\.id) == grants)
        let page = try client.auditTrail(patient: alice.id, as: alice.signing, cursor: 0, limit: 2)
        #expect(page.items.map(\.sequence) == [0, 1] && page.next == 2)
        let trail = try client.fullAuditTrail(patient: alice.id, as: alice.signing)
        #expect(trail.map(\.kind) == [.registered, .consentGranted, .consentGranted, .consentGranted])
        #expect(try client.fullTimeline(patient: alice.id, as: alice.signing).isEmpty)
        // The pager follows `next` to the end.
        var served: [UInt64] = []
        let all = try client.allPages { cursor throws(LedgerClientError) in
            served.append(cursor)
            return PageAnswer(height: 1, items: [AuditEvent](), next: cursor < 4 ? cursor + 2 : nil)
        }
        #expect(all.isEmpty && served == [0, 2, 4])
    }

    // MARK: Records

    /// Alice registered at facility 0, a dentist of facility 1, and Alice's consent letting
    /// facility 1 read and write dental records; a client of two fake nodes (facilities 0 and 1).
    func story(shelves: [BlobShelf]) throws -> (client: LedgerClient, nodes: [FakeNode], alice: PartyKeys, dentist: PartyKeys, consent: Bytes32) {
        let nodes = try (0..<2).map { try FakeNode(key: chain.members[$0].node, handler: ledgerHandler(chain, member: $0, shelf: shelves[$0])) }
        let client = try makeClient(chain, nodes.map(\.endpoint))
        let alice = Keys.party("alice")
        let dentist = Keys.party("dentist")
        _ = try client.submitAndWait(registration(alice, at: 0), signedBy: alice.signing)
        _ = try client.submitAndWait(
            .registerPractitioner(RegisterPractitioner(practitioner: dentist.id, encryptionKey: dentist.encryptionKey!, roles: [.dentist], displayName: "Dr. Lee")),
            signedBy: chain.members[1].organisation)
        let consent = try client.submitAndWait(
            .grantConsent(GrantConsent(patient: alice.id, grantee: chain.facility(1), actions: [.read, .write], purposes: Purposes([.treatment]), scope: .categories(["dental"]), start: 0, expiry: nil)),
            signedBy: alice.signing
        ).transaction.id
        return (client, nodes, alice, dentist, consent)
    }

    func newRecord(_ contents: [UInt8], alice: PartyKeys, consent: Bytes32) -> NewRecord {
        NewRecord(
            contents: contents, patient: alice.id, patientEncryptionKey: alice.encryptionKey!, custodian: chain.facility(1),
            category: "dental", resourceType: "ImagingStudy", created: 1_795_000_000_500, authority: .consent(consent))
    }

    @Test("addRecord encrypts, stores at the custodian's node, anchors; the patient reads it back with its own key")
    func addAndReadOwn() throws {
        let shelves = [BlobShelf(), BlobShelf()]
        let (client, nodes, alice, dentist, consent) = try story(shelves: shelves)
        defer { withExtendedLifetime(nodes) {} }
        let contents = Array("bitewing x-ray: no caries, filling on 36 intact. ".utf8) + (0..<5_000).map { UInt8($0 % 251) }
        let added = try client.addRecord(newRecord(contents, alice: alice, consent: consent), author: dentist.signing)
        // The custodian's node got exactly the ciphertext; the other node nothing; no plaintext anywhere.
        let stored = try #require(shelves[1][added.record])
        #expect(shelves[0][added.record] == nil)
        #expect(Bytes32(SHA256.hash(stored).bytes)! == added.ciphertextHash)
        #expect(added.paddedSize == 16 * 1024 && stored.count == 16 * 1024 + 16)
        #expect(!Data(stored).contains(Data("bitewing".utf8)))
        let anchor = try #require(chain.state.record(added.record))
        #expect(anchor.entry.custodian == chain.facility(1) && anchor.author == dentist.id && anchor.addedAtHeight == added.height)

        let own = try client.readOwnRecord(added.record, patient: alice)
        #expect(own.contents == contents && own.access == nil)
        // Another party's record key cannot open the patient's copy.
        #expect(throws: LedgerClientError.self) { _ = try client.readOwnRecord(added.record, patient: PartyKeys(signing: alice.signing, encryption: dentist.encryption)) }
        #expect(try client.fullTimeline(patient: alice.id, as: alice.signing).map(\.entry.record) == [added.record])
    }

    @Test("fetchRecord: the custodian commits a granted access entry, the key opens, the ciphertext is checked and decrypted")
    func fetchGranted() throws {
        let shelves = [BlobShelf(), BlobShelf()]
        let (client, nodes, alice, dentist, consent) = try story(shelves: shelves)
        defer { withExtendedLifetime(nodes) {} }
        let contents = Array("HbA1c 5.4 %".utf8)
        let added = try client.addRecord(newRecord(contents, alice: alice, consent: consent), author: dentist.signing)
        let research = Keys.party("research")
        _ = try client.submitAndWait(
            .registerOrganisation(RegisterOrganisation(organisation: research.id, encryptionKey: research.encryptionKey!, kind: .research, name: "North Research")),
            signedBy: chain.members[0].organisation)

        // Without a consent: may_read says no, and nothing is put on the chain.
        #expect {
            _ = try client.fetchRecord(added.record, purpose: .research, requester: research)
        } throws: { error in (error as? LedgerClientError)?.code != nil }

        // With a consent naming it explicitly: refused on the chain when the purpose does not match.
        let grant = try client.submitAndWait(
            .grantConsent(GrantConsent(patient: alice.id, grantee: research.id, actions: [.read], purposes: Purposes([.research]), scope: .categories(["dental"]), start: 0, expiry: nil)),
            signedBy: alice.signing
        ).transaction.id
        let refusal = failure { try client.fetchRecord(added.record, purpose: .insurance, authority: .consent(grant), requester: research) }
        if case .accessRefused(let code, let name, _, let access)? = refusal {
            #expect(code == LedgerError.Code.wrongPurpose.rawValue && name == "wrong_purpose")
            #expect(chain.state.access(Bytes32(hex: access)!) != nil, "the refusal is on the chain")
        } else {
            Issue.record("a read for a purpose the consent does not allow: \(String(describing: refusal))")
        }

        // With the consent found by may_read: granted, on the chain, decrypted.
        let fetched = try client.fetchRecord(added.record, purpose: .research, requester: research)
        #expect(fetched.contents == contents)
        let access = try #require(fetched.access.flatMap { chain.state.access($0) })
        #expect(access.entry.request.requester == research.id && access.height == fetched.height)
        let trail = try client.fullAuditTrail(patient: alice.id, as: alice.signing)
        #expect(trail.suffix(2).map(\.kind) == [.accessRefused, .accessGranted])
    }

    @Test("a holder without the record (not_held) or with altered bytes is passed over for the next holder")
    func holdersFailOver() throws {
        let shelves = [BlobShelf(), BlobShelf()]
        let (client, nodes, alice, dentist, consent) = try story(shelves: shelves)
        defer { withExtendedLifetime(nodes) {} }
        let contents = (0..<3_000).map { UInt8($0 % 13) }
        let added = try client.addRecord(newRecord(contents, alice: alice, consent: consent), author: dentist.signing)
        // Only facility 1 holds it: a read starting at facility 0 gets not_held there first.
        #expect(try client.fetchCiphertext(record: added.record, access: nil, expectedHash: added.ciphertextHash, first: 0, signer: alice.signing).count == 4 * 1024 + 16)
        // Facility 0 holds a corrupted copy: its bytes are refused, facility 1's are used.
        var corrupted = try #require(shelves[1][added.record])
        corrupted[100] ^= 0xFF
        shelves[0][added.record] = corrupted
        let good = try client.fetchCiphertext(record: added.record, access: nil, expectedHash: added.ciphertextHash, first: 0, signer: alice.signing)
        #expect(Bytes32(SHA256.hash(good).bytes)! == added.ciphertextHash)
        // Every copy corrupted: recordCorrupt, never the altered bytes.
        shelves[1][added.record] = corrupted
        #expect {
            _ = try client.readOwnRecord(added.record, patient: alice)
        } throws: { error in
            guard case .recordCorrupt(let detail)? = error as? LedgerClientError else { return false }
            return detail.contains("ciphertext_hash")
        }
    }

    @Test("records too large for the 64 MiB ciphertext limit, or for an unknown custodian, are refused before anything is sent")
    func recordArguments() throws {
        #expect(LedgerClient.maxRecordContents == 48 * 1024 * 1024 - 4)
        let node = try FakeNode(key: chain.members[1].node, handler: ledgerHandler(chain, member: 1))
        let client = try makeClient(chain, [node.endpoint])
        let alice = Keys.party("alice")
        var record = newRecord([1, 2, 3], alice: alice, consent: .zero)
        record.custodian = Bytes32(repeating: 7)
        #expect {
            _ = try client.addRecord(record, author: alice.signing)
        } throws: { error in "\(error)".contains("not a facility of this chain") }
        record.custodian = chain.facility(1)
        record.category = String(repeating: "x", count: 65)
        #expect {
            _ = try client.addRecord(record, author: alice.signing)
        } throws: { error in "\(error)".contains("at most 64") }
        #expect(node.recorded.requests.withLock { $0.isEmpty })
    }

    // MARK: Subscriptions

    @Test("subscribe delivers audit events in order; a gap ends the stream with badAnswer")
    func subscription() async throws {
        let alice = Keys.party("alice")
        let node = try FakeNode(key: chain.members[0].node) { request in
            .answer(SubscribeAnswer(height: 4, nextSequence: 2).canonicalBytes)
        }
        let client = try makeClient(chain, [node.endpoint])
        let subscription = try client.subscribe(patient: alice.id, from: 0, as: alice.signing)
        #expect(subscription.nextSequence == 2 && subscription.lastSequence == nil)
        let id = try #require(node.recorded.requests.withLock { $0.last }).timestamp  // (the request reached the node)
        #expect(id > 0)
        func event(_ sequence: UInt64) -> ClientEvent {
            let notice = AuditEventNotice(
                patient: alice.id,
                event: AuditEvent(sequence: sequence, kind: .consentGranted, height: 3, time: 1, transaction: .zero, actor: alice.id, subject: .zero, detail: 0))
            return ClientEvent(subscriptionID: subscription.id, kind: 1, body: notice.canonicalBytes)
        }
        for sequence in [0, 1, 3] as [UInt64] { node.broadcast(event(sequence)) }
        var seen: [UInt64] = []
        do {
            for try await notice in subscription.events { seen.append(notice.event.sequence) }
            Issue.record("the stream ended without an error")
        } catch let error as LedgerClientError {
            guard case .badAnswer(let detail) = error else { Issue.record("\(error)"); return }
            #expect(detail.contains("event 3 arrived where 2 was due"))
        }
        #expect(seen == [0, 1])
        #expect(subscription.lastSequence == 1)
    }

    @Test("a resumable subscription whose connection ends subscribes again elsewhere from the next sequence; a plain one ends")
    func subscriptionResumes() async throws {
        let alice = Keys.party("alice")
        func event(_ sequence: UInt64, _ id: UInt64) -> ClientEvent {
            let notice = AuditEventNotice(
                patient: alice.id,
                event: AuditEvent(sequence: sequence, kind: .recordAdded, height: 3, time: 1, transaction: .zero, actor: alice.id, subject: .zero, detail: 0))
            return ClientEvent(subscriptionID: id, kind: 1, body: notice.canonicalBytes)
        }
        let answer = SubscribeAnswer(height: 4, nextSequence: 2).canonicalBytes
        let first = try FakeNode(key: chain.members[0].node) { _ in .answer(answer) }
        let second = try FakeNode(key: chain.members[1].node) { _ in .answer(answer) }
        let client = try makeClient(chain, [first.endpoint, second.endpoint])
        let subscription = try client.subscribe(patient: alice.id, from: 0, as: alice.signing, resume: true)
        let firstID = subscription.id
        first.broadcast(event(0, firstID))
        first.broadcast(event(1, firstID))
        var iterator = subscription.events.makeAsyncIterator()
        #expect(try await iterator.next()?.event.sequence == 0)
        #expect(try await iterator.next()?.event.sequence == 1)
        first.stop()
        // The second node gets `subscribe` from sequence 2, signed by Alice.
        let deadline = ContinuousClock.now + .seconds(10)
        while second.recorded.requests.withLock({ $0.isEmpty }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let resumed = try #require(second.recorded.requests.withLock { $0.first })
        #expect(resumed.signer == alice.id)
        #expect(try SubscribeRequest(canonicalBytes: resumed.body).fromSequence == 2)
        while subscription.resumptions == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        second.broadcast(event(2, subscription.id))
        #expect(try await iterator.next()?.event.sequence == 2)
        #expect(subscription.lastSequence == 2)
        subscription.cancel()
        #expect(try await iterator.next() == nil)

        // Without resume, the end of the connection ends the stream.
        let plain = try client.subscribe(patient: alice.id, from: 0, as: alice.signing)
        second.closeConnections()
        do {
            for try await _ in plain.events {}
            Issue.record("the stream ended without an error")
        } catch let error as LedgerClientError {
            guard case .connectionLost = error else { Issue.record("\(error)"); return }
        }
    }

    @Test("a subscribe whose first node drops the connection before answering lands on the next node, stream intact")
    func subscribeFailsOver() async throws {
        let alice = Keys.party("alice")
        let closing = try FakeNode(key: chain.members[0].node) { _ in .close }
        let good = try FakeNode(key: chain.members[1].node) { _ in .answer(SubscribeAnswer(height: 4, nextSequence: 1).canonicalBytes) }
        let client = try makeClient(chain, [closing.endpoint, good.endpoint])
        let subscription = try client.subscribe(patient: alice.id, from: 0, as: alice.signing)
        let notice = AuditEventNotice(
            patient: alice.id,
            event: AuditEvent(sequence: 0, kind: .registered, height: 1, time: 1, transaction: .zero, actor: alice.id, subject: alice.id, detail: 0))
        good.broadcast(ClientEvent(subscriptionID: subscription.id, kind: 1, body: notice.canonicalBytes))
        var iterator = subscription.events.makeAsyncIterator()
        #expect(try await iterator.next() == notice)
        #expect(closing.recorded.requests.withLock { $0.count } == 1)
        subscription.cancel()
    }
}
