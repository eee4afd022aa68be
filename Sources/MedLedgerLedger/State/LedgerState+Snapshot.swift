import HashTreeCollections
import MedLedgerWire

extension LedgerState {
    /// Rebuilds a state from its committed entries (the ``tree``'s key/value pairs, as a snapshot
    /// stores them) and the fields the commitment does not cover, and checks it against `stateRoot`.
    ///
    /// Every value is decoded strictly, must re-encode to exactly its bytes, and must sit under the
    /// key its own id gives (Protocol/LEDGER.md section 5). The genesis facilities must be exactly
    /// the genesis's; audit sequences must run 0, 1, 2, ... per patient up to the patient's
    /// `audit_count`; every consent and record must be announced once by its patient's audit
    /// trail. Anything else is refused, naming the key.
    ///
    /// The secondary indexes are rebuilt deterministically from the committed entries:
    ///
    /// - a patient's consents and records: in the order of the patient's `consent_granted` and
    ///   `record_added` audit events, which is the order they were applied — the same arrays
    ///   incremental application builds;
    /// - a patient's audit trail: by sequence;
    /// - the current-key map: every patient's current signing key (old keys are never kept);
    /// - a practitioner's break-glass entries: by height, then id. The state does not record the
    ///   order of two entries the same practitioner opened in one block for different patients,
    ///   so there this order can differ from the applied one; nothing observes it (the only use is
    ///   counting the entries of the last 24 hours).
    ///
    /// - Parameters:
    ///   - entries: the committed (key, value) pairs in strictly ascending key order (as
    ///     ``StateTree`` iterates), genesis facilities included.
    ///   - stateRoot: the commitment the entries must have: the `state_root` of the block at
    ///     `height` (the genesis state's root at height 0).
    /// - Throws: `malformed` for an entry that does not decode, `invalid_value` for entries that
    ///   are inconsistent or out of order, `invalid_block` when the rebuilt root is not `stateRoot`.
    public init<Entries: Sequence>(
        restoring entries: Entries, genesis: Genesis, height: UInt64, lastBlockHash: Bytes32, lastBlockTime: UInt64,
        recentBlockHashes: [Bytes32], stateRoot: Bytes32
    ) throws(LedgerError) where Entries.Element == (key: [UInt8], value: [UInt8]) {
        var state = try LedgerState(genesis: genesis)
        try state.restoreContext(
            height: height, lastBlockHash: lastBlockHash, lastBlockTime: lastBlockTime,
            recentBlockHashes: recentBlockHashes)

        var tree = StateTree()
        var previousKey: [UInt8]?
        var facilitiesSeen = 0
        var auditEvents: [Bytes32: [AuditEvent]] = [:]
        for (key, value) in entries {
            if let previousKey, !previousKey.lexicographicallyPrecedes(key) {
                throw Self.bad(
                    "entry \(Hex.encode(key)) is not after \(Hex.encode(previousKey)): entries must be sorted and distinct"
                )
            }
            previousKey = key
            try state.restoreEntry(key: key, value: value, facilitiesSeen: &facilitiesSeen, auditEvents: &auditEvents)
            tree.set(key, value)
        }
        guard facilitiesSeen == genesis.facilities.count else {
            throw Self.bad("\(facilitiesSeen) facility entries; the genesis has \(genesis.facilities.count)")
        }
        try state.restoreIndexes(auditEvents: auditEvents)

        state.tree = tree
        let root = state.stateRoot
        guard root == stateRoot else {
            throw LedgerError(
                .invalidBlock, "the restored state's root \(root.hex) is not the recorded state root \(stateRoot.hex)")
        }
        self = state
    }

    private static func bad(_ reason: String) -> LedgerError {
        LedgerError(.invalidValue, "restoring the state: " + reason)
    }

    /// The fields outside the commitment, checked against what applying blocks produces.
    private mutating func restoreContext(
        height: UInt64, lastBlockHash: Bytes32, lastBlockTime: UInt64, recentBlockHashes: [Bytes32]
    ) throws(LedgerError) {
        let window = UInt64(genesis.parameters.fetchRequestWindow)
        // After block h the window holds the genesis hash and the hashes of blocks 1 to h - 1, cut to its size.
        let expected = Swift.min(Swift.max(height, 1), window)
        guard UInt64(recentBlockHashes.count) == expected else {
            throw Self.bad("\(recentBlockHashes.count) recent block hashes at height \(height); expected \(expected)")
        }
        if height <= window, recentBlockHashes.first != genesis.hash {
            throw Self.bad("the recent block hashes at height \(height) do not start with the genesis hash")
        }
        guard (height == 0) == (lastBlockHash == .zero) else {
            throw Self.bad("last block hash \(lastBlockHash.hex) at height \(height)")
        }
        guard lastBlockTime >= genesis.genesisTime, height > 0 || lastBlockTime == genesis.genesisTime else {
            throw Self.bad("last block time \(lastBlockTime) at height \(height) (genesis time \(genesis.genesisTime))")
        }
        self.height = height
        self.lastBlockHash = lastBlockHash
        self.lastBlockTime = lastBlockTime
        self.recentBlockHashes = recentBlockHashes
    }

    /// Decodes one committed entry into the typed maps.
    private mutating func restoreEntry(
        key: [UInt8], value: [UInt8], facilitiesSeen: inout Int, auditEvents: inout [Bytes32: [AuditEvent]]
    ) throws(LedgerError) {
        guard let first = key.first, let prefix = StateKey.Prefix(rawValue: first) else {
            throw Self.bad("key \(Hex.encode(key)) has no known prefix")
        }
        let expectedLength = prefix == .audit ? 41 : 33
        guard key.count == expectedLength else {
            throw Self.bad("key \(Hex.encode(key)) is \(key.count) bytes; a \(prefix) key has \(expectedLength)")
        }
        let id = Bytes32(key[1..<33])!

        /// Decodes `value` strictly and checks that it is canonical.
        func decode<T: WireCodable>(_: T.Type) throws(LedgerError) -> T {
            let decoded: T
            do {
                decoded = try T(canonicalBytes: value)
            } catch {
                throw LedgerError(
                    .malformed, "restoring the state: the value of \(Hex.encode(key)) does not decode: \(error)",
                    wireError: error)
            }
            guard decoded.canonicalBytes == value else {
                throw Self.bad("the value of \(Hex.encode(key)) is not canonical")
            }
            return decoded
        }
        func requireID(_ actual: Bytes32, _ what: String) throws(LedgerError) {
            guard actual == id else { throw Self.bad("\(what) \(actual.hex) is stored under \(Hex.encode(key))") }
        }

        switch prefix {
        case .facility:
            guard let facility = facilities[id], facility.canonicalBytes == value else {
                throw Self.bad("facility entry \(Hex.encode(key)) is not a genesis facility")
            }
            facilitiesSeen += 1
        case .practitioner:
            let practitioner = try decode(Practitioner.self)
            try requireID(practitioner.key, "practitioner")
            practitioners[id] = practitioner
        case .patient:
            let patient = try decode(Patient.self)
            try requireID(patient.id, "patient")
            guard patientByKey[patient.signingKey] == nil else {
                throw Self.bad("two patients have the current key \(patient.signingKey.hex)")
            }
            patients[id] = patient
            patientByKey[patient.signingKey] = patient.id
        case .organisation:
            let organisation = try decode(Organisation.self)
            try requireID(organisation.key, "organisation")
            organisations[id] = organisation
        case .nonce:
            guard value.count == 8 else {
                throw Self.bad("nonce entry \(Hex.encode(key)) is \(value.count) bytes, not 8")
            }
            nonces[id] = value.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        case .consent:
            let consent = try decode(Consent.self)
            try requireID(consent.id, "consent")
            consents[id] = consent
        case .record:
            let anchor = try decode(RecordAnchor.self)
            try requireID(anchor.entry.record, "record")
            records[id] = anchor
        case .access:
            let access = try decode(AccessRecord.self)
            try requireID(Self.accessID(access.entry.request), "access")
            accesses[id] = access
        case .breakGlass:
            let entry = try decode(BreakGlassRecord.self)
            try requireID(entry.id, "break-glass entry")
            breakGlasses[id] = entry
        case .audit:
            let event = try decode(AuditEvent.self)
            let sequence = key[33..<41].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let expected = UInt64(auditEvents[id]?.count ?? 0)
            guard event.sequence == sequence, sequence == expected else {
                throw Self.bad("audit event \(Hex.encode(key)) has sequence \(event.sequence); expected \(expected)")
            }
            auditEvents[id, default: []].append(event)
        case .evidence:
            guard value.count == 40 else {
                throw Self.bad("evidence entry \(Hex.encode(key)) is \(value.count) bytes, not 40")
            }
            evidence.insert(id)
        }
    }

    /// Rebuilds the audit trails and the per-patient and per-practitioner lists (see
    /// ``init(restoring:genesis:height:lastBlockHash:lastBlockTime:recentBlockHashes:stateRoot:)``).
    private mutating func restoreIndexes(auditEvents: [Bytes32: [AuditEvent]]) throws(LedgerError) {
        for (patientID, events) in auditEvents {
            guard let patient = patients[patientID] else {
                throw Self.bad("audit events of unknown patient \(patientID.hex)")
            }
            guard patient.auditCount == UInt64(events.count) else {
                throw Self.bad(
                    "patient \(patientID.hex) counts \(patient.auditCount) audit events; the state holds \(events.count)"
                )
            }
        }
        for (patientID, patient) in patients where patient.auditCount > 0 && auditEvents[patientID] == nil {
            throw Self.bad("patient \(patientID.hex) counts \(patient.auditCount) audit events; the state holds none")
        }
        audit = TreeDictionary(uniqueKeysWithValues: auditEvents.map { ($0.key, AppendOnlyList($0.value)) })

        var grantedByAudit = 0
        var addedByAudit = 0
        for (patientID, events) in auditEvents {
            for event in events {
                switch event.kind {
                case .consentGranted:
                    guard let consent = consents[event.subject], consent.grant.patient == patientID else {
                        throw Self.bad(
                            "patient \(patientID.hex)'s audit event \(event.sequence) grants unknown consent \(event.subject.hex)"
                        )
                    }
                    consentsByPatient[patientID, default: []].append(event.subject)
                    grantedByAudit += 1
                case .recordAdded:
                    guard let anchor = records[event.subject], anchor.entry.patient == patientID else {
                        throw Self.bad(
                            "patient \(patientID.hex)'s audit event \(event.sequence) adds unknown record \(event.subject.hex)"
                        )
                    }
                    recordsByPatient[patientID, default: []].append(event.subject)
                    addedByAudit += 1
                default:
                    break
                }
            }
        }
        // Each consent and record announced exactly once: the counts match and no list repeats an id.
        guard grantedByAudit == consents.count, consentsByPatient.values.allSatisfy({ Set($0).count == $0.count })
        else {
            throw Self.bad("\(consents.count) consents, but the audit trails grant \(grantedByAudit) (or one twice)")
        }
        guard addedByAudit == records.count, recordsByPatient.values.allSatisfy({ Set($0).count == $0.count }) else {
            throw Self.bad("\(records.count) records, but the audit trails add \(addedByAudit) (or one twice)")
        }

        for entry in breakGlasses.values { breakGlassByPractitioner[entry.practitioner, default: []].append(entry.id) }
        for practitioner in breakGlassByPractitioner.keys {
            breakGlassByPractitioner[practitioner]!.sort { a, b in
                let (x, y) = (breakGlasses[a]!, breakGlasses[b]!)
                return x.height != y.height ? x.height < y.height : a < b
            }
        }
    }
}
