import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// Deterministic keys from labels, as the ledger tests make them, so every run measures the same bytes.
enum BenchKeys {
    static func seed(_ label: String) -> SecureBytes { SecureBytes(SHA256.hash(Array(label.utf8)).bytes) }
    static func signing(_ label: String) -> Ed25519.PrivateKey { try! Ed25519.PrivateKey(seed: seed("sign " + label)) }
    static func encryption(_ label: String) -> X25519.PrivateKey {
        try! X25519.PrivateKey(rawKey: seed("box " + label))
    }
}

/// A party that signs: its Ed25519 key and its X25519 key.
struct BenchParty: Sendable {
    let signing: Ed25519.PrivateKey
    let encryption: X25519.PrivateKey

    init(_ label: String) {
        signing = BenchKeys.signing(label)
        encryption = BenchKeys.encryption(label)
    }

    var key: Bytes32 { signing.publicKey.wire }
    var box: Bytes32 { Bytes32(encryption.publicKey.bytes)! }
}

/// A genesis facility: its organisation party, its validator key and its genesis entry.
struct BenchFacility: Sendable {
    let organisation: BenchParty
    let validator: Ed25519.PrivateKey
    let facility: Facility

    init(_ name: String, kind: FacilityKind) {
        organisation = BenchParty("org " + name)
        validator = BenchKeys.signing("validator " + name)
        facility = Facility(
            name: name, kind: kind, organisationKey: organisation.key, validatorKey: validator.publicKey.wire,
            nodeKey: BenchKeys.signing("node " + name).publicKey.wire, recordKey: organisation.box, power: 10)
    }
}

/// The chain every suite measures: four facilities, block 1 registering practitioners and
/// patients, and a pool of signed `grant_consent` transactions for block 2.
///
/// Each patient signs `consentsPerPatient` grants (nonces 2, 3, ... after its registration's 1),
/// interleaved round by round as a mempool would hand them out: round 0 of every patient, then
/// round 1, and so on. Each grant names a practitioner or a facility, two categories, read or
/// read and write, treatment (and every third also research), starts at genesis and expires a
/// year later.
struct Workload: Sendable {
    static let chainID = "medledger-bench"
    static let genesisTime: UInt64 = 1_795_000_000_000
    static let blockInterval: UInt64 = 1000
    /// Sorted bytewise (upper case before lower case), as a category scope must be.
    static let categories = [
        "DiagnosticReport", "Immunization", "MedicationRequest", "Observation", "dental", "imaging", "laboratory",
        "mental-health",
    ]

    let facilities: [BenchFacility]
    let practitioners: [BenchParty]
    let patients: [BenchParty]
    /// Height 1 applied: every practitioner and patient registered.
    let registeredState: LedgerState
    let registrationBlock: Block
    /// The certificate of block 1 (block 2's `last_commit`).
    let registrationCommit: CommitCertificate
    /// The grants in block order, signed.
    let grants: [Transaction]
    /// The same grants' bodies as typed values (what an encoder starts from).
    let grantBodies: [TransactionBody]

    var chainID: String { Self.chainID }

    init(patients patientCount: Int, consentsPerPatient: Int, practitionersPerFacility: Int) throws {
        let facilities = [
            BenchFacility("General Hospital", kind: .hospital),
            BenchFacility("Smile Dental Clinic", kind: .dentalClinic),
            BenchFacility("City Diagnostic Lab", kind: .laboratory),
            BenchFacility("Elm Street Family Practice", kind: .familyPractice),
        ]
        let genesis = try Genesis(
            chainID: Self.chainID, genesisTime: Self.genesisTime, facilities: facilities.map(\.facility))
        let genesisState = try LedgerState(genesis: genesis)
        let chainID = Self.chainID

        // Block 1: each facility registers its practitioners; each patient registers, attested
        // by one facility.
        var registrations: [Transaction] = []
        var practitioners: [BenchParty] = []
        for (facilityIndex, facility) in facilities.enumerated() {
            for index in 0..<practitionersPerFacility {
                let practitioner = BenchParty("practitioner \(facilityIndex)-\(index)")
                practitioners.append(practitioner)
                let body = RegisterPractitioner(
                    practitioner: practitioner.key, encryptionKey: practitioner.box, roles: [.physician],
                    displayName: "Dr. Practitioner \(facilityIndex)-\(index)")
                registrations.append(
                    Transaction.signed(
                        .registerPractitioner(body), by: facility.organisation.signing, nonce: UInt64(index + 1),
                        chainID: chainID))
            }
        }
        let patients = (0..<patientCount).map { BenchParty("patient \($0)") }
        for (index, patient) in patients.enumerated() {
            let facility = facilities[index % facilities.count]
            let attested = RegisterPatient.attestedBytes(patient: patient.key, encryptionKey: patient.box)
            let attestation = facility.organisation.signing.signature(
                for: .patientAttestation, chainID: chainID, message: attested)
            let body = RegisterPatient(
                encryptionKey: patient.box, facility: facility.organisation.key,
                attestation: Bytes64(attestation.bytes)!)
            registrations.append(
                Transaction.signed(.registerPatient(body), by: patient.signing, nonce: 1, chainID: chainID))
        }
        let verified = try LedgerState.verify(registrations, chainID: chainID)
        let (block, state) = try genesisState.proposeBlock(
            transactions: verified, lastCommit: nil, proposer: facilities[0].facility.validatorKey)

        // The grants for block 2.
        let grantees = practitioners.map(\.key) + facilities.map(\.facility.organisationKey)
        var grants: [Transaction] = []
        var bodies: [TransactionBody] = []
        grants.reserveCapacity(patientCount * consentsPerPatient)
        for round in 0..<consentsPerPatient {
            for (index, patient) in patients.enumerated() {
                let serial = round * patientCount + index
                let first = serial % Self.categories.count
                let second = (first + 1 + serial % (Self.categories.count - 1)) % Self.categories.count
                let scope = [Self.categories[first], Self.categories[second]].sorted {
                    Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
                }
                let body = TransactionBody.grantConsent(
                    GrantConsent(
                        patient: patient.key, grantee: grantees[serial % grantees.count],
                        actions: serial % 2 == 0 ? [.read] : [.read, .write],
                        purposes: Purposes(serial % 3 == 0 ? [.treatment, .research] : [.treatment]),
                        scope: .categories(scope), start: Self.genesisTime,
                        expiry: Self.genesisTime + 365 * 24 * 3_600_000))
                bodies.append(body)
                grants.append(Transaction.signed(body, by: patient.signing, nonce: UInt64(round + 2), chainID: chainID))
            }
        }

        self.facilities = facilities
        self.practitioners = practitioners
        self.patients = patients
        self.registeredState = state
        self.registrationBlock = block
        self.grants = grants
        self.grantBodies = bodies
        self.registrationCommit = Self.certify(block.header, facilities: facilities)
    }

    /// Every validator's precommit for `header`, `blockInterval` after the block, as TestChain signs them.
    static func certify(_ header: BlockHeader, facilities: [BenchFacility]) -> CommitCertificate {
        let signatures = facilities.indices.map { index -> CommitSignature in
            let timestamp = header.time + blockInterval + UInt64(index)
            let vote = Vote(
                voteType: .precommit, height: header.height, round: 0, blockHash: header.hash, timestamp: timestamp,
                validator: facilities[index].facility.validatorKey, signature: Bytes64(repeating: 0))
            let signature = facilities[index].validator.signature(
                for: .vote, chainID: chainID, message: vote.signedBytes)
            return CommitSignature(
                validatorIndex: UInt16(index), timestamp: timestamp, signature: Bytes64(signature.bytes)!)
        }
        return CommitCertificate(height: header.height, round: 0, blockHash: header.hash, signatures: signatures)
    }

    func certify(_ header: BlockHeader) -> CommitCertificate { Self.certify(header, facilities: facilities) }

    /// The proposer of block 2 (round-robin, as the tests rotate it).
    var secondProposer: Bytes32 { facilities[1].facility.validatorKey }

    /// Block 2 holding the first `count` grants, proposed on the registered state: a real header
    /// (roots, BFT time, state root) and block 1's certificate as its `last_commit`.
    func proposeGrantBlock(count: Int) throws -> (block: Block, verified: [VerifiedTransaction], state: LedgerState) {
        let verified = try LedgerState.verify(Array(grants.prefix(count)), chainID: chainID)
        let (block, state) = try registeredState.proposeBlock(
            transactions: verified, lastCommit: registrationCommit, proposer: secondProposer)
        return (block, verified, state)
    }
}
