import MedLedgerCrypto
@testable import MedLedgerLedger
import MedLedgerWire
import Testing

/// A chain with a patient, a dentist at the dental clinic, a nurse with break-glass at the hospital,
/// a research organisation, and a consent for the dental clinic.
struct RuleFixture {
    var chain: TestChain
    let patient = Party("patient bob")
    let dentist = Party("dentist")
    let nurse = Party("emergency nurse")
    let clerk = Party("admin clerk")
    let research = Party("research org")
    let stranger = Party("stranger")
    var consent = Bytes32.zero
    var record = Bytes32.zero

    init(parameters: LedgerParameters = LedgerParameters(), consentExpiry: UInt64? = nil) throws {
        chain = TestChain(parameters: parameters)
        try chain.commit([
            chain.registerPatient(patient, at: chain.hospital),
            chain.registerPractitioner(dentist, at: chain.dental, roles: [.dentist]),
            chain.registerPractitioner(nurse, at: chain.hospital, roles: [.nurse, .breakGlass]),
            chain.registerPractitioner(clerk, at: chain.hospital, roles: [.administrative]),
            chain.registerOrganisation(research, by: chain.hospital, kind: .research),
        ])
        let grant = chain.grant(
            by: patient, patient: patient, to: chain.dental.organisation.key, actions: [.read, .write],
            purposes: [.treatment], scope: .categories(["dental"]), expiry: consentExpiry)
        consent = grant.id
        try chain.commit([grant])
        let add = try chain.addRecord(
            "bob molar", author: dentist, at: chain.dental, patient: patient, category: "dental",
            resourceType: "Observation", authority: .consent(consent), contents: "molar 36 filled")
        record = add.record
        try chain.commit([add.transaction])
    }

    var id: String { chain.chainID }
}

@Suite("ledger rules: every rejection")
struct RuleTests {
    @Test("a transaction with a bad signature is refused")
    func badSignature() throws {
        var f = try RuleFixture()
        var tx = f.patient.sign(.setPreferences(SetPreferences(patient: f.patient.key, breakGlassOptOut: true)), chainID: f.id)
        tx.nonce += 1  // the signature no longer covers the envelope
        f.chain.expectRefused(.badSignature, [tx])
        // Signed for another chain: refused too.
        let other = Transaction.signed(
            .setPreferences(SetPreferences(patient: f.patient.key, breakGlassOptOut: true)), by: f.patient.signing, nonce: 99,
            chainID: "medledger-other")
        f.chain.expectRefused(.badSignature, [other])
    }

    @Test("a reused nonce is refused; a gap is allowed")
    func nonces() throws {
        var f = try RuleFixture()
        let first = f.patient.sign(.setPreferences(SetPreferences(patient: f.patient.key, breakGlassOptOut: true)), chainID: f.id)
        try f.chain.commit([first])
        f.chain.expectRefused(.nonceReused, [first])
        f.patient.nonce += 10
        try f.chain.commit([f.patient.sign(.setPreferences(SetPreferences(patient: f.patient.key, breakGlassOptOut: false)), chainID: f.id)])
    }

    @Test("the wrong signer is refused: a stranger granting consent, a practitioner registering people")
    func wrongSigner() throws {
        var f = try RuleFixture()
        f.chain.expectRefused(.wrongSigner, [
            f.chain.grant(by: f.stranger, patient: f.patient, to: f.research.key, actions: [.read], purposes: [.research], scope: .allRecords)
        ])
        f.chain.expectRefused(.wrongSigner, [
            f.dentist.sign(.registerOrganisation(RegisterOrganisation(organisation: f.stranger.key, encryptionKey: f.stranger.box, kind: .pharma, name: "x")), chainID: f.id)
        ])
    }

    @Test("a write without consent is refused, and so is a write outside the consent's scope")
    func writeWithoutConsent() throws {
        var f = try RuleFixture()
        // The lab has no consent at all.
        let tech = Party("lab tech")
        try f.chain.commit([f.chain.registerPractitioner(tech, at: f.chain.lab, roles: [.labTechnician])])
        let noConsent = try f.chain.addRecord(
            "no consent", author: tech, at: f.chain.lab, patient: f.patient, category: "laboratory", resourceType: "Observation",
            authority: .consent(f.consent), contents: "x")
        f.chain.expectRefused(.noConsent, [noConsent.transaction])
        // The dentist writing an imaging record: the consent covers dental only.
        let outOfScope = try f.chain.addRecord(
            "out of scope", author: f.dentist, at: f.chain.dental, patient: f.patient, category: "imaging",
            resourceType: "ImagingStudy", authority: .consent(f.consent), contents: "x")
        f.chain.expectRefused(.outOfScope, [outOfScope.transaction])
        // A read-only consent does not allow writing.
        let readOnly = f.chain.grant(by: f.patient, patient: f.patient, to: f.chain.lab.organisation.key, actions: [.read], purposes: [.treatment], scope: .allRecords)
        try f.chain.commit([readOnly])
        let noWrite = try f.chain.addRecord(
            "no write", author: tech, at: f.chain.lab, patient: f.patient, category: "laboratory", resourceType: "Observation",
            authority: .consent(readOnly.id), contents: "x")
        f.chain.expectRefused(.actionNotGranted, [noWrite.transaction])
    }

    @Test("an expired consent no longer allows a read")
    func expiredConsent() throws {
        // Blocks are 1 s apart; the consent lapses 3 s after genesis.
        var f = try RuleFixture(consentExpiry: TestChain.genesisTime + 3000)
        try f.chain.commit([])
        try f.chain.commit([])
        let request = f.chain.fetchRequest("late", requester: f.dentist, record: f.record, custodian: f.chain.dental, purpose: .treatment, authority: .consent(f.consent))
        f.chain.expectRefused(.consentExpired, [try f.chain.grantAccess(request, by: f.chain.dental, label: "late")])
    }

    @Test("an access entry whose consent was revoked in an earlier block is refused")
    func revokedEarlier() throws {
        var f = try RuleFixture()
        // The request is signed while the consent is in force ...
        let request = f.chain.fetchRequest("before revoke", requester: f.dentist, record: f.record, custodian: f.chain.dental, purpose: .treatment, authority: .consent(f.consent))
        let entry = try f.chain.grantAccess(request, by: f.chain.dental, label: "before revoke")
        // ... but the revocation commits first.
        try f.chain.commit([f.patient.sign(.revokeConsent(RevokeConsent(patient: f.patient.key, consent: f.consent)), chainID: f.id)])
        f.chain.expectRefused(.consentRevoked, [entry])
    }

    @Test("a revocation earlier in the same block counts too")
    func revokedSameBlock() throws {
        var f = try RuleFixture()
        let request = f.chain.fetchRequest("same block", requester: f.dentist, record: f.record, custodian: f.chain.dental, purpose: .treatment, authority: .consent(f.consent))
        let revoke = f.patient.sign(.revokeConsent(RevokeConsent(patient: f.patient.key, consent: f.consent)), chainID: f.id)
        f.chain.expectRefused(.consentRevoked, [revoke, try f.chain.grantAccess(request, by: f.chain.dental, label: "same block")])
    }

    @Test("a research organisation cannot read under a treatment consent")
    func wrongPurpose() throws {
        var f = try RuleFixture()
        let grant = f.chain.grant(by: f.patient, patient: f.patient, to: f.research.key, actions: [.read], purposes: [.treatment], scope: .allRecords)
        try f.chain.commit([grant])
        let request = f.chain.fetchRequest("research", requester: f.research, record: f.record, custodian: f.chain.dental, purpose: .research, authority: .consent(grant.id))
        f.chain.expectRefused(.wrongPurpose, [try f.chain.grantAccess(request, by: f.chain.dental, label: "research")])
    }

    @Test("a stale fetch request is refused, and a replayed one too")
    func staleAndReplayed() throws {
        var f = try RuleFixture(parameters: LedgerParameters(fetchRequestWindow: 2))
        let old = f.chain.state.lastBlockHash
        let stale = f.chain.fetchRequest("stale", requester: f.dentist, record: f.record, custodian: f.chain.dental, purpose: .treatment, authority: .consent(f.consent), recentBlock: old)
        try f.chain.commit([])
        try f.chain.commit([])
        try f.chain.commit([])
        f.chain.expectRefused(.staleRequest, [try f.chain.grantAccess(stale, by: f.chain.dental, label: "stale")])
        let fresh = f.chain.fetchRequest("fresh", requester: f.dentist, record: f.record, custodian: f.chain.dental, purpose: .treatment, authority: .consent(f.consent))
        try f.chain.commit([try f.chain.grantAccess(fresh, by: f.chain.dental, label: "fresh")])
        f.chain.expectRefused(.duplicate, [try f.chain.grantAccess(fresh, by: f.chain.dental, label: "fresh again")])
    }

    @Test("break-glass: allowed for the role, refused for others, for opted-out patients, past the rate limit and after expiry")
    func breakGlass() throws {
        var f = try RuleFixture(parameters: LedgerParameters(breakGlassPerDay: 2, breakGlassValidity: 2500))
        let entry = { (who: Party) in who.sign(.breakGlass(BreakGlass(patient: f.patient.key, custodian: f.chain.dental.organisation.key, reason: "unconscious, allergy check")), chainID: f.id) }
        f.chain.expectRefused(.roleNotAllowed, [entry(f.clerk)])
        let first = entry(f.nurse)
        try f.chain.commit([first])
        // The nurse reads the dental record under the break-glass entry, for emergency use only.
        let asTreatment = f.chain.fetchRequest("bg treatment", requester: f.nurse, record: f.record, custodian: f.chain.dental, purpose: .treatment, authority: .breakGlass(first.id))
        f.chain.expectRefused(.wrongPurpose, [try f.chain.grantAccess(asTreatment, by: f.chain.dental, label: "bg treatment")])
        let emergency = f.chain.fetchRequest("bg", requester: f.nurse, record: f.record, custodian: f.chain.dental, purpose: .emergency, authority: .breakGlass(first.id))
        try f.chain.commit([try f.chain.grantAccess(emergency, by: f.chain.dental, label: "bg")])
        #expect(try f.chain.state.auditTrail(patient: f.patient.key, requester: f.patient.key).items.contains { $0.kind == .breakGlass })
        try f.chain.commit([entry(f.nurse)])
        f.chain.expectRefused(.breakGlassRateLimited, [entry(f.nurse)])
        // After its validity the first entry authorises nothing.
        try f.chain.commit([])
        let late = f.chain.fetchRequest("bg late", requester: f.nurse, record: f.record, custodian: f.chain.dental, purpose: .emergency, authority: .breakGlass(first.id))
        f.chain.expectRefused(.breakGlassExpired, [try f.chain.grantAccess(late, by: f.chain.dental, label: "bg late")])
        // A patient who opted out gets none.
        try f.chain.commit([f.patient.sign(.setPreferences(SetPreferences(patient: f.patient.key, breakGlassOptOut: true)), chainID: f.id)])
        let other = Party("second nurse")
        try f.chain.commit([f.chain.registerPractitioner(other, at: f.chain.hospital, roles: [.breakGlass])])
        f.chain.expectRefused(.breakGlassOptedOut, [entry(other)])
    }

    @Test("only the patient or a delegate may erase a record; an erased record is never served again")
    func erase() throws {
        var f = try RuleFixture()
        let erase = { (who: Party) in who.sign(.eraseRecord(EraseRecord(patient: f.patient.key, record: f.record)), chainID: f.id) }
        f.chain.expectRefused(.wrongSigner, [erase(f.dentist)])
        f.chain.expectRefused(.wrongSigner, [erase(f.chain.dental.organisation)])
        let delegate = Party("bob's guardian")
        try f.chain.commit([f.patient.sign(.setDelegates(SetDelegates(patient: f.patient.key, delegates: [Delegate(key: delegate.key, relation: .guardian)])), chainID: f.id)])
        try f.chain.commit([erase(delegate)])
        #expect(f.chain.state.record(f.record)?.erasedAtHeight != nil)
        let request = f.chain.fetchRequest("erased", requester: f.dentist, record: f.record, custodian: f.chain.dental, purpose: .treatment, authority: .consent(f.consent))
        f.chain.expectRefused(.recordErased, [try f.chain.grantAccess(request, by: f.chain.dental, label: "erased")])
    }

    @Test("registrations: no double registration, no unattested patient, deregistered parties cannot act")
    func registrations() throws {
        var f = try RuleFixture()
        f.chain.expectRefused(.alreadyRegistered, [f.chain.registerPractitioner(f.dentist, at: f.chain.lab, roles: [.physician])])
        // An attestation by a key that is not a facility.
        let mallory = Party("mallory")
        let fake = Party("fake facility")
        let attested = RegisterPatient.attestedBytes(patient: mallory.key, encryptionKey: mallory.box)
        let signature = fake.signing.signature(for: .patientAttestation, chainID: f.id, message: attested)
        f.chain.expectRefused(.unknownFacility, [
            mallory.sign(.registerPatient(RegisterPatient(encryptionKey: mallory.box, facility: fake.key, attestation: Bytes64(signature.bytes)!)), chainID: f.id)
        ])
        // A facility key, but the signature is by someone else.
        f.chain.expectRefused(.badSignature, [
            mallory.sign(.registerPatient(RegisterPatient(encryptionKey: mallory.box, facility: f.chain.hospital.organisation.key, attestation: Bytes64(signature.bytes)!)), chainID: f.id)
        ])
        f.chain.expectRefused(.wrongSigner, [f.chain.lab.organisation.sign(.deregister(Deregister(subject: f.dentist.key)), chainID: f.id)])
        try f.chain.commit([f.chain.dental.organisation.sign(.deregister(Deregister(subject: f.dentist.key)), chainID: f.id)])
        let after = try f.chain.addRecord(
            "after deregistration", author: f.dentist, at: f.chain.dental, patient: f.patient, category: "dental",
            resourceType: "Observation", authority: .consent(f.consent), contents: "x")
        f.chain.expectRefused(.inactiveParty, [after.transaction])
    }

    @Test("key recovery needs the threshold of distinct recovery keys and the current key version")
    func recovery() throws {
        var f = try RuleFixture()
        let a = Party("recovery a")
        let b = Party("recovery b")
        let fresh = Party("bob new")
        try f.chain.commit([f.patient.sign(.setRecovery(SetRecovery(patient: f.patient.key, threshold: 2, keys: [a.key, b.key])), chainID: f.id)])
        func replacement(_ approvers: [Party], version: UInt32 = 0) -> ReplacePatientKey {
            let unsigned = ReplacePatientKey(patient: f.patient.key, keyVersion: version, newSigningKey: fresh.key, newEncryptionKey: fresh.box, approvals: [])
            return ReplacePatientKey(
                patient: f.patient.key, keyVersion: version, newSigningKey: fresh.key, newEncryptionKey: fresh.box,
                approvals: approvers.map { RecoveryApproval(key: $0.key, signature: Bytes64($0.signing.signature(for: .keyRecovery, chainID: f.id, message: unsigned.approvedBytes).bytes)!) })
        }
        f.chain.expectRefused(.notEnoughApprovals, [a.sign(.replacePatientKey(replacement([a])), chainID: f.id)])
        f.chain.expectRefused(.notEnoughApprovals, [a.sign(.replacePatientKey(replacement([a, f.stranger])), chainID: f.id)])
        f.chain.expectRefused(.staleRequest, [a.sign(.replacePatientKey(replacement([a, b], version: 1)), chainID: f.id)])
        try f.chain.commit([a.sign(.replacePatientKey(replacement([a, b])), chainID: f.id)])
        #expect(f.chain.state.patient(f.patient.key)?.signingKey == fresh.key)
        // The same approvals cannot be replayed: the key version moved on.
        f.chain.expectRefused(.staleRequest, [b.sign(.replacePatientKey(replacement([a, b])), chainID: f.id)])
    }
}

@Suite("commit certificates and blocks")
struct CommitTests {
    func fixture() throws -> (TestChain, CommittedBlock) {
        var chain = TestChain()
        let block = try chain.commit([])
        return (chain, block)
    }

    @Test("a certificate from every validator verifies; from three of four too (30 of 40 > 2/3)")
    func validCertificates() throws {
        let (chain, block) = try fixture()
        try chain.state.validators.verify(block.commit, height: 1, blockHash: block.block.header.hash, chainID: chain.chainID)
        let three = chain.certify(block.block.header, signers: [0, 1, 3])
        try chain.state.validators.verify(three, height: 1, blockHash: block.block.header.hash, chainID: chain.chainID)
    }

    func expectInvalid(_ commit: CommitCertificate, _ chain: TestChain, _ hash: Bytes32, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sourceLocation: sourceLocation) {
            try chain.state.validators.verify(commit, height: 1, blockHash: hash, chainID: chain.chainID)
        } throws: { error in
            guard let error = error as? LedgerError, error.code == .invalidCommit else { return false }
            return error.reason.contains(message)
        }
    }

    @Test("forged certificates are refused: too little power, a duplicate voter, a bad signature, the wrong validator set")
    func forgedCertificates() throws {
        let (chain, block) = try fixture()
        let header = block.block.header
        // Two of four validators hold exactly 1/2: not more than 2/3.
        expectInvalid(chain.certify(header, signers: [0, 1]), chain, header.hash, "voting power")
        // A duplicate voter (built in memory; the wire decoder refuses it too).
        var duplicate = chain.certify(header, signers: [0, 1, 2])
        duplicate.signatures.append(duplicate.signatures[2])
        expectInvalid(duplicate, chain, header.hash, "signed twice")
        // A bad signature.
        var bad = chain.certify(header)
        var bytes = bad.signatures[1].signature.bytes
        bytes[0] ^= 1
        bad.signatures[1].signature = Bytes64(bytes)!
        expectInvalid(bad, chain, header.hash, "does not verify")
        // Signed by another validator set: same indices, other keys.
        let strangerKeys = (0..<4).map { TestKeys.signing("foreign validator \($0)") }
        let foreign = CommitCertificate(
            height: 1, round: 0, blockHash: header.hash,
            signatures: (0..<4).map { index in
                let vote = Vote(voteType: .precommit, height: 1, round: 0, blockHash: header.hash, timestamp: header.time + 1, validator: strangerKeys[index].publicKey.wire, signature: Bytes64(repeating: 0))
                return CommitSignature(validatorIndex: UInt16(index), timestamp: header.time + 1, signature: Bytes64(strangerKeys[index].signature(for: .vote, chainID: chain.chainID, message: vote.signedBytes).bytes)!)
            })
        expectInvalid(foreign, chain, header.hash, "does not verify")
        // An index outside the set.
        var outside = chain.certify(header, signers: [0, 1, 2])
        outside.signatures[2].validatorIndex = 9
        expectInvalid(outside, chain, header.hash, "the set has 4")
        // A certificate for another block.
        expectInvalid(chain.certify(header), chain, Bytes32(repeating: 7), "decides block")
    }

    @Test("a block with a forged last commit, a wrong time, a wrong state root or a foreign proposer is invalid")
    func invalidBlocks() throws {
        var chain = TestChain()
        try chain.commit([])
        let good = try chain.state.proposeBlock(transactions: [], lastCommit: chain.lastCommit, proposer: chain.hospital.facility.validatorKey).block
        _ = try chain.state.applying(good)
        func refused(_ block: Block, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(sourceLocation: sourceLocation) { _ = try chain.state.applying(block) } throws: { error in
                (error as? LedgerError)?.reason.contains(text) == true
            }
        }
        var weak = good
        weak.lastCommit = chain.certify(chain.blocks[0].block.header, signers: [0, 1])
        weak.header.lastCommitHash = LedgerState.commitHash(weak.lastCommit)
        refused(weak, "voting power")
        var time = good
        time.header.time += 1
        refused(time, "BFT time")
        var root = good
        root.header.stateRoot = Bytes32(repeating: 1)
        refused(root, "state_root")
        var proposer = good
        proposer.header.proposer = Bytes32(repeating: 2)
        refused(proposer, "not a validator")
        var missing = good
        missing.lastCommit = nil
        refused(missing, "needs the certificate")
    }

    @Test("duplicate-vote evidence is checked and committed once")
    func evidence() throws {
        var chain = TestChain()
        try chain.commit([])
        let validator = chain.lab.validator
        func vote(_ hash: Bytes32) -> Vote {
            var vote = Vote(voteType: .prevote, height: 2, round: 0, blockHash: hash, timestamp: 5, validator: validator.publicKey.wire, signature: Bytes64(repeating: 0))
            vote.signature = Bytes64(validator.signature(for: .vote, chainID: chain.chainID, message: vote.signedBytes).bytes)!
            return vote
        }
        let evidence = Evidence(duplicateVote: vote(Bytes32(repeating: 1)), vote(Bytes32(repeating: 2)))
        try chain.commit([], evidence: [evidence])
        #expect(throws: LedgerError.self) { try chain.commit([], evidence: [evidence]) }
        var forged = Evidence(duplicateVote: vote(Bytes32(repeating: 3)), vote(Bytes32(repeating: 4)))
        var bytes = forged.voteB.signature.bytes
        bytes[5] ^= 1
        forged.voteB.signature = Bytes64(bytes)!
        #expect(throws: LedgerError.self) { try chain.commit([], evidence: [forged]) }
    }
}

@Suite("ledger rules: found by the threat model")
struct ThreatModelRuleTests {
    @Test("a break-glass entry opens records only at the custodian it names")
    func breakGlassCustodian() throws {
        var f = try RuleFixture()
        // The nurse opens an entry for the hospital's records; the record is held by the dental clinic.
        let entry = f.nurse.sign(.breakGlass(BreakGlass(patient: f.patient.key, custodian: f.chain.hospital.organisation.key, reason: "collapsed")), chainID: f.id)
        try f.chain.commit([entry])
        let request = f.chain.fetchRequest("elsewhere", requester: f.nurse, record: f.record, custodian: f.chain.dental, purpose: .emergency, authority: .breakGlass(entry.id))
        f.chain.expectRefused(.outOfScope, [try f.chain.grantAccess(request, by: f.chain.dental, label: "elsewhere")])
    }

    @Test("no facility key, validator and node keys included, can be registered as a practitioner")
    func facilityKeysAreTaken() throws {
        var f = try RuleFixture()
        let validatorKey = f.chain.lab.facility.validatorKey
        let tx = f.chain.hospital.organisation.sign(
            .registerPractitioner(RegisterPractitioner(practitioner: validatorKey, encryptionKey: f.stranger.box, roles: [.physician], displayName: "x")),
            chainID: f.id)
        f.chain.expectRefused(.alreadyRegistered, [tx])
    }
}
