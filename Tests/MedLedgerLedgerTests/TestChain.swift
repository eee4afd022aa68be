import MedLedgerCrypto
@testable import MedLedgerLedger
import MedLedgerWire
import Testing

/// Deterministic keys from labels, so that a scenario replays to the same state root anywhere.
enum TestKeys {
    static func seed(_ label: String) -> SecureBytes { SecureBytes(SHA256.hash(Array(label.utf8)).bytes) }
    static func signing(_ label: String) -> Ed25519.PrivateKey { try! Ed25519.PrivateKey(seed: seed("sign " + label)) }
    static func encryption(_ label: String) -> X25519.PrivateKey { try! X25519.PrivateKey(rawKey: seed("box " + label)) }
    static func bytes(_ label: String) -> Bytes32 { Bytes32(SHA256.hash(Array(label.utf8)).bytes)! }
}

/// A party that signs transactions: its keys and its next nonce.
final class Party: @unchecked Sendable {
    let label: String
    let signing: Ed25519.PrivateKey
    let encryption: X25519.PrivateKey
    var nonce: UInt64 = 0

    init(_ label: String) {
        self.label = label
        signing = TestKeys.signing(label)
        encryption = TestKeys.encryption(label)
    }

    var key: Bytes32 { signing.publicKey.wire }
    var box: Bytes32 { Bytes32(encryption.publicKey.bytes)! }

    func sign(_ body: TransactionBody, chainID: String) -> Transaction {
        nonce += 1
        return Transaction.signed(body, by: signing, nonce: nonce, chainID: chainID)
    }
}

/// A facility: organisation key (a party), validator key, node key, record key.
struct TestFacility {
    let organisation: Party
    let validator: Ed25519.PrivateKey
    let facility: Facility

    init(_ name: String, kind: FacilityKind) {
        organisation = Party("org " + name)
        validator = TestKeys.signing("validator " + name)
        facility = Facility(
            name: name, kind: kind, organisationKey: organisation.key, validatorKey: validator.publicKey.wire,
            nodeKey: TestKeys.signing("node " + name).publicKey.wire, recordKey: organisation.box, power: 10)
    }
}

/// A chain run by four facilities: proposes blocks from transactions, has every validator sign
/// the precommits, and checks every block the way a validator would before committing it.
struct TestChain {
    static let chainID = "medledger-test"
    static let genesisTime: UInt64 = 1_795_000_000_000

    let hospital = TestFacility("General Hospital", kind: .hospital)
    let dental = TestFacility("Smile Dental Clinic", kind: .dentalClinic)
    let lab = TestFacility("City Diagnostic Lab", kind: .laboratory)
    let practice = TestFacility("Elm Street Family Practice", kind: .familyPractice)
    var facilities: [TestFacility] { [hospital, dental, lab, practice] }

    var state: LedgerState
    var lastCommit: CommitCertificate?
    var blocks: [CommittedBlock] = []
    /// Milliseconds between blocks (validators' precommit clocks).
    var blockInterval: UInt64 = 1000

    init(parameters: LedgerParameters = LedgerParameters()) {
        let facilities = [hospital, dental, lab, practice].map(\.facility)
        let genesis = try! Genesis(chainID: Self.chainID, genesisTime: Self.genesisTime, facilities: facilities, parameters: parameters)
        state = try! LedgerState(genesis: genesis)
    }

    var chainID: String { Self.chainID }

    /// Proposes, checks, certifies and commits a block of `transactions`; throws what the ledger refused.
    @discardableResult
    mutating func commit(_ transactions: [Transaction], evidence: [Evidence] = []) throws -> CommittedBlock {
        let verified = try LedgerState.verify(transactions, chainID: chainID)
        let proposer = facilities[Int(state.height % 4)].facility.validatorKey
        let (block, proposed) = try state.proposeBlock(
            transactions: verified, evidence: evidence, lastCommit: lastCommit, proposer: proposer)
        // Every validator re-executes the block from the committed state before voting.
        var checked = try state.applying(block)
        var proposedCopy = proposed
        #expect(checked.stateRoot == proposedCopy.stateRoot)
        let commit = certify(block.header)
        state = checked
        lastCommit = commit
        let committed = CommittedBlock(block: block, commit: commit)
        blocks.append(committed)
        return committed
    }

    /// Every validator's precommit for `header`, timed `blockInterval` after the block.
    func certify(_ header: BlockHeader, signers: [Int] = [0, 1, 2, 3]) -> CommitCertificate {
        let signatures = signers.map { index -> CommitSignature in
            let timestamp = header.time + blockInterval + UInt64(index)
            let vote = Vote(
                voteType: .precommit, height: header.height, round: 0, blockHash: header.hash, timestamp: timestamp,
                validator: facilities[index].facility.validatorKey, signature: Bytes64(repeating: 0))
            let signature = facilities[index].validator.signature(for: .vote, chainID: chainID, message: vote.signedBytes)
            return CommitSignature(validatorIndex: UInt16(index), timestamp: timestamp, signature: Bytes64(signature.bytes)!)
        }
        return CommitCertificate(height: header.height, round: 0, blockHash: header.hash, signatures: signatures)
    }

    /// Expects `transactions` to be refused with `code` and the state to stay as it was.
    mutating func expectRefused(
        _ code: LedgerError.Code, _ transactions: [Transaction], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var before = state
        let rootBefore = before.stateRoot
        do {
            try commit(transactions)
            Issue.record("expected \(code.name), but the block committed", sourceLocation: sourceLocation)
        } catch let error as LedgerError {
            #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected \(code.name), got \(error)", sourceLocation: sourceLocation)
        }
        #expect(state.stateRoot == rootBefore, sourceLocation: sourceLocation)
    }

    // MARK: Transaction builders

    func registerPatient(_ patient: Party, at facility: TestFacility) -> Transaction {
        let attested = RegisterPatient.attestedBytes(patient: patient.key, encryptionKey: patient.box)
        let attestation = facility.organisation.signing.signature(for: .patientAttestation, chainID: chainID, message: attested)
        return patient.sign(
            .registerPatient(RegisterPatient(encryptionKey: patient.box, facility: facility.organisation.key, attestation: Bytes64(attestation.bytes)!)),
            chainID: chainID)
    }

    func registerPractitioner(_ practitioner: Party, at facility: TestFacility, roles: Roles) -> Transaction {
        facility.organisation.sign(
            .registerPractitioner(
                RegisterPractitioner(practitioner: practitioner.key, encryptionKey: practitioner.box, roles: roles, displayName: practitioner.label)),
            chainID: chainID)
    }

    func registerOrganisation(_ organisation: Party, by facility: TestFacility, kind: OrganisationKind) -> Transaction {
        facility.organisation.sign(
            .registerOrganisation(
                RegisterOrganisation(organisation: organisation.key, encryptionKey: organisation.box, kind: kind, name: organisation.label)),
            chainID: chainID)
    }

    func grant(
        by signer: Party, patient: Party, to grantee: Bytes32, actions: Actions, purposes: [Purpose], scope: ConsentScope,
        start: UInt64 = 0, expiry: UInt64? = nil
    ) -> Transaction {
        signer.sign(
            .grantConsent(
                GrantConsent(
                    patient: patient.key, grantee: grantee, actions: actions, purposes: Purposes(purposes), scope: scope,
                    start: start, expiry: expiry)),
            chainID: chainID)
    }

    /// A record encrypted for real: ciphertext, anchor transaction, and the data key.
    func addRecord(
        _ label: String, author: Party, at custodian: TestFacility, patient: Party, category: String, resourceType: String,
        authority: Authority, contents: String
    ) throws -> (transaction: Transaction, ciphertext: [UInt8], record: Bytes32) {
        let record = TestKeys.bytes("record " + label)
        let sealed = try RecordCrypto.encrypt(Array(contents.utf8), record: record, dataKey: TestKeys.seed("data key " + label))
        let patientKey = try RecordCrypto.wrap(
            sealed.dataKey, for: patient.box, record: record, ephemeralKey: TestKeys.encryption("eph patient " + label))
        let custodianKey = try RecordCrypto.wrap(
            sealed.dataKey, for: custodian.facility.recordKey, record: record, ephemeralKey: TestKeys.encryption("eph custodian " + label))
        let body = AddRecord(
            record: record, patient: patient.key, custodian: custodian.organisation.key, category: category,
            resourceType: resourceType, ciphertextHash: sealed.ciphertextHash, paddedSize: sealed.paddedSize,
            created: state.lastBlockTime, keyForPatient: patientKey, keyForCustodian: custodianKey, authority: authority)
        return (author.sign(.addRecord(body), chainID: chainID), sealed.ciphertext, record)
    }

    /// A requester's signed fetch request.
    func fetchRequest(
        _ label: String, requester: Party, record: Bytes32, custodian: TestFacility, purpose: Purpose, authority: Authority,
        recentBlock: Bytes32? = nil
    ) -> FetchRequest {
        var request = FetchRequest(
            record: record, custodian: custodian.organisation.key, requester: requester.key, purpose: purpose,
            authority: authority, nonce: TestKeys.bytes("fetch " + label), recentBlockHash: recentBlock ?? state.lastBlockHash,
            encryptionKey: requester.box, signature: Bytes64(repeating: 0))
        let signature = requester.signing.signature(for: .fetchRequest, chainID: chainID, message: request.signedBytes)
        request.signature = Bytes64(signature.bytes)!
        return request
    }

    /// The custodian's access entry granting `request`: it unwraps its own copy of the data key and
    /// re-wraps it for the requester.
    func grantAccess(_ request: FetchRequest, by custodian: TestFacility, label: String) throws -> Transaction {
        let anchor = try #require(state.record(request.record))
        let dataKey = try RecordCrypto.unwrap(anchor.entry.keyForCustodian, with: custodian.organisation.encryption, record: request.record)
        let wrapped = try RecordCrypto.wrap(
            dataKey, for: request.encryptionKey, record: request.record, ephemeralKey: TestKeys.encryption("eph access " + label))
        return custodian.organisation.sign(.accessEntry(AccessEntry(request: request, outcome: .granted(wrapped))), chainID: chainID)
    }

    func refuseAccess(_ request: FetchRequest, by custodian: TestFacility, code: LedgerError.Code, note: String) -> Transaction {
        custodian.organisation.sign(
            .accessEntry(AccessEntry(request: request, outcome: .refused(code: code.rawValue, note: note))), chainID: chainID)
    }
}
