import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire
import Testing

/// Deterministic keys from labels.
enum SnapshotKeys {
    static func seed(_ label: String) -> SecureBytes { SecureBytes(SHA256.hash(Array(label.utf8)).bytes) }
    static func signing(_ label: String) -> Ed25519.PrivateKey { try! Ed25519.PrivateKey(seed: seed("sign " + label)) }
    static func encryption(_ label: String) -> X25519.PrivateKey {
        try! X25519.PrivateKey(rawKey: seed("box " + label))
    }
    static func bytes(_ label: String) -> Bytes32 { Bytes32(SHA256.hash(Array(label.utf8)).bytes)! }
}

/// A party that signs transactions, with its next nonce.
final class SnapshotParty: @unchecked Sendable {
    let label: String
    let signing: Ed25519.PrivateKey
    let encryption: X25519.PrivateKey
    var nonce: UInt64 = 0

    init(_ label: String) {
        self.label = label
        signing = SnapshotKeys.signing(label)
        encryption = SnapshotKeys.encryption(label)
    }

    var key: Bytes32 { signing.publicKey.wire }
    var box: Bytes32 { Bytes32(encryption.publicKey.bytes)! }

    func sign(_ body: TransactionBody, chainID: String) -> Transaction {
        nonce += 1
        return Transaction.signed(body, by: signing, nonce: nonce, chainID: chainID)
    }
}

/// A chain built with MedLedgerLedger's public API (the ledger's own TestChain is in a test
/// target this one cannot import): proposes, checks and certifies blocks, and keeps the state
/// after every height.
struct SnapshotChain {
    struct Member {
        let organisation: SnapshotParty
        let validator: Ed25519.PrivateKey
        let facility: Facility

        init(_ name: String, kind: FacilityKind) {
            organisation = SnapshotParty("org " + name)
            validator = SnapshotKeys.signing("validator " + name)
            facility = Facility(
                name: name, kind: kind, organisationKey: organisation.key, validatorKey: validator.publicKey.wire,
                nodeKey: SnapshotKeys.signing("node " + name).publicKey.wire, recordKey: organisation.box, power: 10)
        }
    }

    static let genesisTime: UInt64 = 1_795_000_000_000

    let chainID: String
    let members: [Member]
    var hospital: Member { members[0] }
    var dental: Member { members[1] }
    var lab: Member { members[2] }
    var practice: Member { members[3] }
    let genesis: Genesis
    var state: LedgerState
    var lastCommit: CommitCertificate?
    var blocks: [CommittedBlock] = []
    /// `states[h]` is the state after block `h` (`states[0]` the genesis state).
    var states: [LedgerState]

    init(
        chainID: String = "medledger-snapshot-test",
        parameters: LedgerParameters = LedgerParameters(fetchRequestWindow: 8, breakGlassPerDay: 5)
    ) {
        self.chainID = chainID
        members = [
            Member("General Hospital", kind: .hospital), Member("Smile Dental Clinic", kind: .dentalClinic),
            Member("City Diagnostic Lab", kind: .laboratory),
            Member("Elm Street Family Practice", kind: .familyPractice),
        ]
        genesis = try! Genesis(
            chainID: chainID, genesisTime: Self.genesisTime, facilities: members.map(\.facility), parameters: parameters
        )
        state = try! LedgerState(genesis: genesis)
        states = [state]
    }

    @discardableResult
    mutating func commit(_ transactions: [Transaction], evidence: [Evidence] = []) throws -> CommittedBlock {
        let verified = try LedgerState.verify(transactions, chainID: chainID)
        let proposer = members[Int(state.height % 4)].facility.validatorKey
        let (block, _) = try state.proposeBlock(
            transactions: verified, evidence: evidence, lastCommit: lastCommit, proposer: proposer)
        let checked = try state.applying(block)
        let commit = certify(block.header)
        state = checked
        lastCommit = commit
        let committed = CommittedBlock(block: block, commit: commit)
        blocks.append(committed)
        states.append(state)
        return committed
    }

    func certify(_ header: BlockHeader) -> CommitCertificate {
        let signatures = members.indices.map { index -> CommitSignature in
            let timestamp = header.time + 1000 + UInt64(index)
            let vote = Vote(
                voteType: .precommit, height: header.height, round: 0, blockHash: header.hash, timestamp: timestamp,
                validator: members[index].facility.validatorKey, signature: Bytes64(repeating: 0))
            let signature = members[index].validator.signature(for: .vote, chainID: chainID, message: vote.signedBytes)
            return CommitSignature(
                validatorIndex: UInt16(index), timestamp: timestamp, signature: Bytes64(signature.bytes)!)
        }
        return CommitCertificate(height: header.height, round: 0, blockHash: header.hash, signatures: signatures)
    }

    // MARK: Transaction builders

    func registerPatient(_ patient: SnapshotParty, at member: Member) -> Transaction {
        let attested = RegisterPatient.attestedBytes(patient: patient.key, encryptionKey: patient.box)
        let attestation = member.organisation.signing.signature(
            for: .patientAttestation, chainID: chainID, message: attested)
        return patient.sign(
            .registerPatient(
                RegisterPatient(
                    encryptionKey: patient.box, facility: member.organisation.key,
                    attestation: Bytes64(attestation.bytes)!)),
            chainID: chainID)
    }

    func registerPractitioner(_ practitioner: SnapshotParty, at member: Member, roles: Roles) -> Transaction {
        member.organisation.sign(
            .registerPractitioner(
                RegisterPractitioner(
                    practitioner: practitioner.key, encryptionKey: practitioner.box, roles: roles,
                    displayName: practitioner.label)),
            chainID: chainID)
    }

    func grant(
        by signer: SnapshotParty, patient: SnapshotParty, to grantee: Bytes32, actions: Actions, purposes: [Purpose],
        scope: ConsentScope, start: UInt64 = 0, expiry: UInt64? = nil
    ) -> Transaction {
        signer.sign(
            .grantConsent(
                GrantConsent(
                    patient: patient.key, grantee: grantee, actions: actions, purposes: Purposes(purposes),
                    scope: scope, start: start,
                    expiry: expiry)),
            chainID: chainID)
    }

    /// A record encrypted for real; returns the anchor transaction, the ciphertext and the record id.
    func addRecord(
        _ label: String, author: SnapshotParty, at custodian: Member, patient: SnapshotParty, category: String,
        resourceType: String,
        authority: Authority, created: UInt64? = nil
    ) throws -> (transaction: Transaction, ciphertext: [UInt8], record: Bytes32) {
        let record = SnapshotKeys.bytes("record " + label)
        let sealed = try RecordCrypto.encrypt(
            Array("contents of \(label)".utf8), record: record, dataKey: SnapshotKeys.seed("data key " + label))
        let patientKey = try RecordCrypto.wrap(
            sealed.dataKey, for: patient.box, record: record,
            ephemeralKey: SnapshotKeys.encryption("eph patient " + label))
        let custodianKey = try RecordCrypto.wrap(
            sealed.dataKey, for: custodian.facility.recordKey, record: record,
            ephemeralKey: SnapshotKeys.encryption("eph custodian " + label))
        let body = AddRecord(
            record: record, patient: patient.key, custodian: custodian.organisation.key, category: category,
            resourceType: resourceType,
            ciphertextHash: sealed.ciphertextHash, paddedSize: sealed.paddedSize,
            created: created ?? state.lastBlockTime,
            keyForPatient: patientKey, keyForCustodian: custodianKey, authority: authority)
        return (author.sign(.addRecord(body), chainID: chainID), sealed.ciphertext, record)
    }

    func fetchRequest(
        _ label: String, requester: SnapshotParty, record: Bytes32, custodian: Member, purpose: Purpose,
        authority: Authority
    ) -> FetchRequest {
        var request = FetchRequest(
            record: record, custodian: custodian.organisation.key, requester: requester.key, purpose: purpose,
            authority: authority,
            nonce: SnapshotKeys.bytes("fetch " + label), recentBlockHash: state.lastBlockHash,
            encryptionKey: requester.box,
            signature: Bytes64(repeating: 0))
        request.signature = Bytes64(
            requester.signing.signature(for: .fetchRequest, chainID: chainID, message: request.signedBytes).bytes)!
        return request
    }

    func grantAccess(_ request: FetchRequest, by custodian: Member, label: String) throws -> Transaction {
        let anchor = try #require(state.record(request.record))
        let dataKey = try RecordCrypto.unwrap(
            anchor.entry.keyForCustodian, with: custodian.organisation.encryption, record: request.record)
        let wrapped = try RecordCrypto.wrap(
            dataKey, for: request.encryptionKey, record: request.record,
            ephemeralKey: SnapshotKeys.encryption("eph access " + label))
        return custodian.organisation.sign(
            .accessEntry(AccessEntry(request: request, outcome: .granted(wrapped))), chainID: chainID)
    }

    func refuseAccess(_ request: FetchRequest, by custodian: Member, code: LedgerError.Code) -> Transaction {
        custodian.organisation.sign(
            .accessEntry(
                AccessEntry(request: request, outcome: .refused(code: code.rawValue, note: "refused: \(code.name)"))),
            chainID: chainID)
    }
}

/// Everyone in the story, so that tests can ask queries as each of them.
struct SnapshotCast {
    let alice = SnapshotParty("patient alice")
    let bob = SnapshotParty("patient bob")
    let carol = SnapshotParty("patient carol")
    let bobNew = SnapshotParty("patient bob, new key")
    let mother = SnapshotParty("alice's mother")
    let recoveryA = SnapshotParty("bob recovery a")
    let recoveryB = SnapshotParty("bob recovery b")
    let doctor = SnapshotParty("dr house, hospital")
    let nurse = SnapshotParty("nurse joy, hospital")
    let dentist = SnapshotParty("dr dent, dental")
    let labTech = SnapshotParty("lee, lab")
    let researcher = SnapshotParty("north research institute")

    var patients: [SnapshotParty] { [alice, bob, carol] }
    var everyone: [SnapshotParty] {
        [alice, bob, carol, bobNew, mother, recoveryA, recoveryB, doctor, nurse, dentist, labTech, researcher]
    }
}

/// A chain of every transaction type and the evidence kind, with several consents and records
/// of one patient in one block, a practitioner's break-glass entries in one block and in later
/// ones, revocation, erasure, key replacement, deregistration, expiring consents, and enough
/// blocks to roll the fetch-request window (8 blocks).
func buildSnapshotStory(_ cast: SnapshotCast = SnapshotCast(), chainID: String = "medledger-snapshot-test") throws -> (
    SnapshotChain, records: [Bytes32], accesses: [Bytes32]
) {
    var chain = SnapshotChain(chainID: chainID)
    let c = cast
    let id = chain.chainID
    let start = SnapshotChain.genesisTime

    // 1: people.
    try chain.commit([
        chain.registerPractitioner(c.doctor, at: chain.hospital, roles: [.physician, .breakGlass]),
        chain.registerPractitioner(c.nurse, at: chain.hospital, roles: [.nurse, .breakGlass]),
        chain.registerPractitioner(c.dentist, at: chain.dental, roles: [.dentist]),
        chain.registerPractitioner(c.labTech, at: chain.lab, roles: [.labTechnician]),
        chain.hospital.organisation.sign(
            .registerOrganisation(
                RegisterOrganisation(
                    organisation: c.researcher.key, encryptionKey: c.researcher.box, kind: .research, name: "North")),
            chainID: id),
        chain.registerPatient(c.carol, at: chain.dental),
        chain.registerPatient(c.alice, at: chain.hospital),
        chain.registerPatient(c.bob, at: chain.practice),
    ])

    // 2: several consents of one patient in one block; one expiring, one not yet valid.
    // A signer's transactions go in nonce order: build them in block order.
    let aliceResearch = chain.grant(
        by: c.alice, patient: c.alice, to: c.researcher.key, actions: [.read], purposes: [.research],
        scope: .categories(["laboratory"]))
    let aliceDental = chain.grant(
        by: c.alice, patient: c.alice, to: chain.dental.organisation.key, actions: [.read, .write],
        purposes: [.treatment], scope: .categories(["dental"]))
    let aliceLab = chain.grant(
        by: c.alice, patient: c.alice, to: chain.lab.organisation.key, actions: [.write], purposes: [.treatment],
        scope: .categories(["laboratory"]))
    let bobHospital = chain.grant(
        by: c.bob, patient: c.bob, to: chain.hospital.organisation.key, actions: [.read, .write],
        purposes: [.treatment, .emergency], scope: .allRecords)
    let carolLater = chain.grant(
        by: c.carol, patient: c.carol, to: c.dentist.key, actions: [.read], purposes: [.treatment], scope: .allRecords,
        start: start + 12_000)
    let carolHospital = chain.grant(
        by: c.carol, patient: c.carol, to: chain.hospital.organisation.key, actions: [.read, .write],
        purposes: [.treatment], scope: .allRecords, expiry: start + 9_000)
    try chain.commit([aliceResearch, aliceDental, aliceLab, bobHospital, carolLater, carolHospital])

    // 3: records, two of alice's in one block (the later-created one first).
    let dentalRecord = try chain.addRecord(
        "alice x-ray", author: c.dentist, at: chain.dental, patient: c.alice, category: "dental",
        resourceType: "ImagingStudy", authority: .consent(aliceDental.id), created: start + 500)
    let labRecord = try chain.addRecord(
        "alice panel", author: c.labTech, at: chain.lab, patient: c.alice, category: "laboratory",
        resourceType: "DiagnosticReport", authority: .consent(aliceLab.id), created: start + 100)
    let bobRecord = try chain.addRecord(
        "bob note", author: c.doctor, at: chain.hospital, patient: c.bob, category: "clinical",
        resourceType: "Encounter", authority: .consent(bobHospital.id))
    let carolRecord = try chain.addRecord(
        "carol note", author: c.nurse, at: chain.hospital, patient: c.carol, category: "clinical",
        resourceType: "Observation", authority: .consent(carolHospital.id))
    try chain.commit([dentalRecord.transaction, labRecord.transaction, bobRecord.transaction, carolRecord.transaction])

    // 4: accesses granted and refused.
    let research = chain.fetchRequest(
        "research", requester: c.researcher, record: labRecord.record, custodian: chain.lab, purpose: .research,
        authority: .consent(aliceResearch.id))
    let nurseRead = chain.fetchRequest(
        "nurse bob", requester: c.nurse, record: bobRecord.record, custodian: chain.hospital, purpose: .treatment,
        authority: .consent(bobHospital.id))
    let refused = chain.fetchRequest(
        "research dental", requester: c.researcher, record: dentalRecord.record, custodian: chain.dental,
        purpose: .research, authority: .consent(aliceResearch.id))
    try chain.commit([
        try chain.grantAccess(research, by: chain.lab, label: "research"),
        try chain.grantAccess(nurseRead, by: chain.hospital, label: "nurse bob"),
        chain.refuseAccess(refused, by: chain.dental, code: .outOfScope),
    ])

    // 5: one practitioner's break-glass entries for two patients in one block; another's.
    func breakGlass(_ who: SnapshotParty, _ patient: SnapshotParty, _ custodian: SnapshotChain.Member, _ reason: String)
        -> Transaction
    {
        who.sign(
            .breakGlass(BreakGlass(patient: patient.key, custodian: custodian.organisation.key, reason: reason)),
            chainID: id)
    }
    try chain.commit([
        breakGlass(c.doctor, c.carol, chain.hospital, "unconscious"),
        breakGlass(c.doctor, c.alice, chain.dental, "anaphylaxis"),
        breakGlass(c.nurse, c.bob, chain.hospital, "cardiac arrest"),
    ])

    // 6: revocation, delegates, erasure, preferences.
    try chain.commit([
        c.alice.sign(.revokeConsent(RevokeConsent(patient: c.alice.key, consent: aliceDental.id)), chainID: id),
        c.alice.sign(
            .setDelegates(
                SetDelegates(patient: c.alice.key, delegates: [Delegate(key: c.mother.key, relation: .parent)])),
            chainID: id),
        c.bob.sign(.eraseRecord(EraseRecord(patient: c.bob.key, record: bobRecord.record)), chainID: id),
        c.carol.sign(.setPreferences(SetPreferences(patient: c.carol.key, breakGlassOptOut: true)), chainID: id),
    ])

    // 7, 8: recovery keys, then a key replacement by them.
    try chain.commit([
        c.bob.sign(
            .setRecovery(SetRecovery(patient: c.bob.key, threshold: 2, keys: [c.recoveryA.key, c.recoveryB.key])),
            chainID: id)
    ])
    var replacement = ReplacePatientKey(
        patient: c.bob.key, keyVersion: 0, newSigningKey: c.bobNew.key, newEncryptionKey: c.bobNew.box, approvals: [])
    let approvals = [c.recoveryA, c.recoveryB].map { key in
        RecoveryApproval(
            key: key.key,
            signature: Bytes64(
                key.signing.signature(for: .keyRecovery, chainID: id, message: replacement.approvedBytes).bytes)!)
    }
    replacement = ReplacePatientKey(
        patient: c.bob.key, keyVersion: 0, newSigningKey: c.bobNew.key, newEncryptionKey: c.bobNew.box,
        approvals: approvals)
    try chain.commit([c.recoveryA.sign(.replacePatientKey(replacement), chainID: id)])

    // 9: deregistration, evidence, the mother grants for alice, the doctor's third break-glass.
    let validator = chain.lab.validator
    func vote(_ hash: Bytes32) -> Vote {
        var vote = Vote(
            voteType: .prevote, height: 8, round: 0, blockHash: hash, timestamp: 5, validator: validator.publicKey.wire,
            signature: Bytes64(repeating: 0))
        vote.signature = Bytes64(validator.signature(for: .vote, chainID: id, message: vote.signedBytes).bytes)!
        return vote
    }
    let motherGrant = chain.grant(
        by: c.mother, patient: c.alice, to: chain.practice.organisation.key, actions: [.read], purposes: [.treatment],
        scope: .allRecords)
    try chain.commit(
        [
            chain.hospital.organisation.sign(.deregister(Deregister(subject: c.nurse.key)), chainID: id), motherGrant,
            breakGlass(c.doctor, c.bob, chain.hospital, "stroke"),
        ],
        evidence: [Evidence(duplicateVote: vote(Bytes32(repeating: 1)), vote(Bytes32(repeating: 2)))])

    // 10-14: time passes (carol's hospital consent expires, her dentist consent starts); a few more events.
    try chain.commit([])
    let labRecord2 = try chain.addRecord(
        "alice panel 2", author: c.labTech, at: chain.lab, patient: c.alice, category: "laboratory",
        resourceType: "DiagnosticReport", authority: .consent(aliceLab.id), created: start + 100)
    try chain.commit([labRecord2.transaction])
    try chain.commit([])
    let late = chain.fetchRequest(
        "research late", requester: c.researcher, record: labRecord2.record, custodian: chain.lab, purpose: .research,
        authority: .consent(aliceResearch.id))
    try chain.commit([try chain.grantAccess(late, by: chain.lab, label: "research late")])
    try chain.commit([
        c.bobNew.sign(.setPreferences(SetPreferences(patient: c.bob.key, breakGlassOptOut: false)), chainID: id)
    ])

    let records = [dentalRecord.record, labRecord.record, bobRecord.record, carolRecord.record, labRecord2.record]
    let accesses = [research, nurseRead, refused, late].map(LedgerState.accessID)
    return (chain, records, accesses)
}
