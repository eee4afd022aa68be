import HashTreeCollections
import MedLedgerCrypto
import MedLedgerWire

/// Prefixes of the committed state's keys (Protocol/LEDGER.md section 5).
public enum StateKey {
    public enum Prefix: UInt8, Sendable {
        case facility = 0x01
        case practitioner = 0x02
        case patient = 0x03
        case organisation = 0x04
        case nonce = 0x05
        case consent = 0x06
        case record = 0x07
        case access = 0x08
        case breakGlass = 0x09
        case audit = 0x0A
        case evidence = 0x0B
    }

    /// `prefix || id`.
    public static func key(_ prefix: Prefix, _ id: Bytes32) -> [UInt8] { [prefix.rawValue] + id.bytes }

    /// `0x0A || patient || u64 sequence`: one audit event.
    public static func audit(_ patient: Bytes32, _ sequence: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(Prefix.audit.rawValue)
        writer.write(patient)
        writer.write(sequence)
        return writer.bytes
    }
}

/// The ledger's state after some height: identities, consents, anchors, access entries, the audit
/// trail, and the Merkle commitment over all of it.
///
/// A value: copying it is cheap and so is writing to a copy (persistent hash maps and a
/// path-copying trie share every untouched entry), so a node applies a proposed block to a copy
/// and keeps the committed state untouched until the block commits.
public struct LedgerState: Sendable {
    public let genesis: Genesis
    public let validators: ValidatorSet
    /// The last applied height; 0 before the first block.
    public internal(set) var height: UInt64 = 0
    /// The hash of the last applied block; zeros before the first.
    public internal(set) var lastBlockHash: Bytes32 = .zero
    /// The BFT time of the last applied block; genesis time before the first.
    public internal(set) var lastBlockTime: UInt64
    /// The hashes a fetch request may name: the genesis hash and the latest blocks, oldest first.
    public internal(set) var recentBlockHashes: [Bytes32]

    var facilities: TreeDictionary<Bytes32, Facility> = [:]
    /// Every key of every genesis facility: organisation, validator, node and record keys.
    var facilityKeys: Set<Bytes32> = []
    var practitioners: TreeDictionary<Bytes32, Practitioner> = [:]
    var organisations: TreeDictionary<Bytes32, Organisation> = [:]
    var patients: TreeDictionary<Bytes32, Patient> = [:]
    /// Current signing key to patient id.
    var patientByKey: TreeDictionary<Bytes32, Bytes32> = [:]
    var nonces: TreeDictionary<Bytes32, UInt64> = [:]
    var consents: TreeDictionary<Bytes32, Consent> = [:]
    var consentsByPatient: TreeDictionary<Bytes32, AppendOnlyList<Bytes32>> = [:]
    var records: TreeDictionary<Bytes32, RecordAnchor> = [:]
    var recordsByPatient: TreeDictionary<Bytes32, AppendOnlyList<Bytes32>> = [:]
    var accesses: TreeDictionary<Bytes32, AccessRecord> = [:]
    var breakGlasses: TreeDictionary<Bytes32, BreakGlassRecord> = [:]
    var breakGlassByPractitioner: TreeDictionary<Bytes32, [Bytes32]> = [:]
    var audit: TreeDictionary<Bytes32, AppendOnlyList<AuditEvent>> = [:]
    var evidence: TreeSet<Bytes32> = []
    /// The commitment: every entity above under its ``StateKey``, as canonical bytes.
    public internal(set) var tree = StateTree()
    /// Set by ``withoutCommitment()``.
    var skipsCommitment = false

    /// The state at height 0: the genesis facilities and nothing else.
    public init(genesis: Genesis) throws(LedgerError) {
        try genesis.validate()
        self.genesis = genesis
        validators = try genesis.validatorSet
        lastBlockTime = genesis.genesisTime
        recentBlockHashes = [genesis.hash]
        for facility in genesis.facilities {
            facilities[facility.organisationKey] = facility
            facilityKeys.formUnion([facility.organisationKey, facility.validatorKey, facility.nodeKey, facility.recordKey])
            commit(StateKey.key(.facility, facility.organisationKey), facility.canonicalBytes)
        }
    }

    public var chainID: String { genesis.chainID }

    /// The Merkle root of the state: the `state_root` of the block that produced it.
    ///
    /// Mutating like the tree's own root: the first read after writes hashes what they touched.
    public var stateRoot: Bytes32 {
        mutating get { tree.rootHash }
    }

    // MARK: Reads

    public func facility(_ key: Bytes32) -> Facility? { facilities[key] }
    public func practitioner(_ key: Bytes32) -> Practitioner? { practitioners[key] }
    public func organisation(_ key: Bytes32) -> Organisation? { organisations[key] }
    public func patient(_ id: Bytes32) -> Patient? { patients[id] }
    /// The patient whose current signing key is `key`.
    public func patient(signingKey key: Bytes32) -> Patient? { patientByKey[key].flatMap { patients[$0] } }
    public func consent(_ id: Bytes32) -> Consent? { consents[id] }
    public func record(_ id: Bytes32) -> RecordAnchor? { records[id] }
    public func access(_ id: Bytes32) -> AccessRecord? { accesses[id] }
    public func breakGlass(_ id: Bytes32) -> BreakGlassRecord? { breakGlasses[id] }
    /// The last nonce `signer` used; nil if it never signed.
    public func lastNonce(of signer: Bytes32) -> UInt64? { nonces[signer] }

    /// Whether `key` is registered as anything: any key of a genesis facility, a practitioner, an
    /// organisation, a patient id or a patient's current key.
    func isRegistered(_ key: Bytes32) -> Bool {
        facilityKeys.contains(key) || practitioners[key] != nil || organisations[key] != nil || patients[key] != nil
            || patientByKey[key] != nil
    }

    // MARK: Writes (map and commitment together)

    /// This state for rule checks only: later writes skip ``tree`` (the Merkle commitment), which
    /// is most of a write's cost, so its ``stateRoot`` no longer describes it. For a mempool's
    /// pending and scratch states, which only check rules and are never hashed; never a block's.
    package func withoutCommitment() -> LedgerState {
        var copy = self
        copy.skipsCommitment = true
        return copy
    }

    /// Writes `value` under `key` in the commitment, unless this state skips it.
    mutating func commit(_ key: @autoclosure () -> [UInt8], _ value: @autoclosure () -> [UInt8]) {
        guard !skipsCommitment else { return }
        tree.set(key(), value())
    }

    mutating func put(_ practitioner: Practitioner) {
        practitioners[practitioner.key] = practitioner
        commit(StateKey.key(.practitioner, practitioner.key), practitioner.canonicalBytes)
    }

    mutating func put(_ organisation: Organisation) {
        organisations[organisation.key] = organisation
        commit(StateKey.key(.organisation, organisation.key), organisation.canonicalBytes)
    }

    mutating func put(_ patient: Patient) {
        patients[patient.id] = patient
        commit(StateKey.key(.patient, patient.id), patient.canonicalBytes)
    }

    mutating func put(_ consent: Consent) {
        if consents[consent.id] == nil { consentsByPatient[consent.grant.patient, default: []].append(consent.id) }
        consents[consent.id] = consent
        commit(StateKey.key(.consent, consent.id), consent.canonicalBytes)
    }

    mutating func put(_ anchor: RecordAnchor) {
        if records[anchor.entry.record] == nil { recordsByPatient[anchor.entry.patient, default: []].append(anchor.entry.record) }
        records[anchor.entry.record] = anchor
        commit(StateKey.key(.record, anchor.entry.record), anchor.canonicalBytes)
    }

    mutating func put(access: AccessRecord, id: Bytes32) {
        accesses[id] = access
        commit(StateKey.key(.access, id), access.canonicalBytes)
    }

    mutating func put(_ record: BreakGlassRecord) {
        breakGlasses[record.id] = record
        breakGlassByPractitioner[record.practitioner, default: []].append(record.id)
        commit(StateKey.key(.breakGlass, record.id), record.canonicalBytes)
    }

    mutating func setNonce(_ nonce: UInt64, of signer: Bytes32) {
        nonces[signer] = nonce
        var writer = ByteWriter()
        writer.write(nonce)
        commit(StateKey.key(.nonce, signer), writer.bytes)
    }

    mutating func recordEvidence(_ hash: Bytes32, validator: Bytes32, height: UInt64) {
        evidence.insert(hash)
        var writer = ByteWriter()
        writer.write(validator)
        writer.write(height)
        commit(StateKey.key(.evidence, hash), writer.bytes)
    }

    /// Appends an event to `patientID`'s audit trail.
    mutating func appendAudit(
        _ patientID: Bytes32, kind: AuditKind, context: BlockContext, transaction: Bytes32, actor: Bytes32,
        subject: Bytes32, detail: UInt16 = 0
    ) {
        guard var patient = patients[patientID] else { return }
        let event = AuditEvent(
            sequence: patient.auditCount, kind: kind, height: context.height, time: context.time, transaction: transaction,
            actor: actor, subject: subject, detail: detail)
        audit[patientID, default: []].append(event)
        commit(StateKey.audit(patientID, event.sequence), event.canonicalBytes)
        patient.auditCount += 1
        put(patient)
    }
}

/// Where and when a transaction is applied: the block being built or checked.
public struct BlockContext: Hashable, Sendable {
    public var height: UInt64
    /// BFT time of the block.
    public var time: UInt64

    public init(height: UInt64, time: UInt64) {
        self.height = height
        self.time = time
    }
}

extension LedgerState {
    /// The committed value under `key` and a proof of it (or of its absence) against ``stateRoot``.
    public func proof(for key: [UInt8]) -> (value: [UInt8]?, proof: StateProof) {
        (tree[key], tree.proof(for: key))
    }
}
