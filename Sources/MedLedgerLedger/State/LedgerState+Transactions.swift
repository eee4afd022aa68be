import MedLedgerCrypto
import MedLedgerWire

extension LedgerState {
    /// Applies one verified transaction at `context`, or changes nothing and says why not.
    ///
    /// Every rule is checked before anything is written, so a refused transaction leaves the state
    /// exactly as it was (Protocol/LEDGER.md section 3 lists the rules).
    public mutating func apply(_ tx: VerifiedTransaction, in context: BlockContext) throws(LedgerError) {
        if let last = nonces[tx.signer], tx.nonce <= last {
            throw LedgerError(.nonceReused, "nonce \(tx.nonce) of \(tx.signer.hex) is not above its last nonce \(last)")
        }
        switch tx.body {
        case .registerPatient(let body): try registerPatient(body, tx, context)
        case .registerPractitioner(let body): try registerPractitioner(body, tx)
        case .registerOrganisation(let body): try registerOrganisation(body, tx)
        case .deregister(let body): try deregister(body, tx)
        case .setDelegates(let body): try setDelegates(body, tx, context)
        case .setRecovery(let body): try setRecovery(body, tx, context)
        case .replacePatientKey(let body): try replacePatientKey(body, tx, context)
        case .grantConsent(let body): try grantConsent(body, tx, context)
        case .revokeConsent(let body): try revokeConsent(body, tx, context)
        case .addRecord(let body): try addRecord(body, tx, context)
        case .accessEntry(let body): try accessEntry(body, tx, context)
        case .breakGlass(let body): try breakGlass(body, tx, context)
        case .setPreferences(let body): try setPreferences(body, tx, context)
        case .eraseRecord(let body): try eraseRecord(body, tx, context)
        }
        setNonce(tx.nonce, of: tx.signer)
    }

    // MARK: Identities

    private func requireFacility(_ signer: Bytes32, _ what: String) throws(LedgerError) -> Facility {
        guard let facility = facilities[signer] else {
            throw LedgerError(.wrongSigner, "\(what) must be signed by a facility's organisation key; \(signer.hex) is not one")
        }
        return facility
    }

    private func requirePatient(_ id: Bytes32) throws(LedgerError) -> Patient {
        guard let patient = patients[id] else { throw LedgerError(.unknownPatient, "no patient \(id.hex) is registered") }
        return patient
    }

    /// The patient, if `signer` is its current key or a delegate.
    private func requireController(_ id: Bytes32, _ signer: Bytes32, _ what: String) throws(LedgerError) -> Patient {
        let patient = try requirePatient(id)
        guard patient.isController(signer) else {
            throw LedgerError(.wrongSigner, "only the patient or a delegate may \(what); \(signer.hex) is neither")
        }
        return patient
    }

    private func requireUnregistered(_ key: Bytes32) throws(LedgerError) {
        guard !isRegistered(key) else { throw LedgerError(.alreadyRegistered, "key \(key.hex) is already registered") }
    }

    private mutating func registerPatient(_ body: RegisterPatient, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        try requireUnregistered(tx.signer)
        guard facilities[body.facility] != nil else {
            throw LedgerError(.unknownFacility, "the attesting facility \(body.facility.hex) is not in genesis")
        }
        let attested = RegisterPatient.attestedBytes(patient: tx.signer, encryptionKey: body.encryptionKey)
        guard body.facility.ed25519.verifies(body.attestation, for: .patientAttestation, chainID: chainID, message: attested) else {
            throw LedgerError(.badSignature, "the facility's attestation does not verify")
        }
        let patient = Patient(id: tx.signer, signingKey: tx.signer, encryptionKey: body.encryptionKey, attestedBy: body.facility)
        put(patient)
        patientByKey[tx.signer] = tx.signer
        appendAudit(patient.id, kind: .registered, context: context, transaction: tx.id, actor: body.facility, subject: patient.id)
    }

    private mutating func registerPractitioner(_ body: RegisterPractitioner, _ tx: VerifiedTransaction) throws(LedgerError) {
        _ = try requireFacility(tx.signer, "register_practitioner")
        try requireUnregistered(body.practitioner)
        put(
            Practitioner(
                key: body.practitioner, facility: tx.signer, encryptionKey: body.encryptionKey, roles: body.roles,
                displayName: body.displayName, active: true))
    }

    private mutating func registerOrganisation(_ body: RegisterOrganisation, _ tx: VerifiedTransaction) throws(LedgerError) {
        _ = try requireFacility(tx.signer, "register_organisation")
        try requireUnregistered(body.organisation)
        put(
            Organisation(
                key: body.organisation, facility: tx.signer, encryptionKey: body.encryptionKey, kind: body.kind,
                name: body.name, active: true))
    }

    private mutating func deregister(_ body: Deregister, _ tx: VerifiedTransaction) throws(LedgerError) {
        _ = try requireFacility(tx.signer, "deregister")
        if var practitioner = practitioners[body.subject] {
            guard practitioner.facility == tx.signer else {
                throw LedgerError(.wrongSigner, "only the facility that registered \(body.subject.hex) may deregister it")
            }
            guard practitioner.active else { throw LedgerError(.inactiveParty, "\(body.subject.hex) is already deregistered") }
            practitioner.active = false
            put(practitioner)
        } else if var organisation = organisations[body.subject] {
            guard organisation.facility == tx.signer else {
                throw LedgerError(.wrongSigner, "only the facility that registered \(body.subject.hex) may deregister it")
            }
            guard organisation.active else { throw LedgerError(.inactiveParty, "\(body.subject.hex) is already deregistered") }
            organisation.active = false
            put(organisation)
        } else {
            throw LedgerError(.unknownParty, "no practitioner or organisation \(body.subject.hex) is registered")
        }
    }

    private mutating func setDelegates(_ body: SetDelegates, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        var patient = try requirePatient(body.patient)
        guard tx.signer == patient.signingKey else {
            throw LedgerError(.wrongSigner, "only the patient's own key may change its delegates")
        }
        guard !body.delegates.contains(where: { $0.key == patient.signingKey }) else {
            throw LedgerError(.invalidValue, "the patient cannot be its own delegate")
        }
        patient.delegates = body.delegates
        put(patient)
        appendAudit(patient.id, kind: .delegatesChanged, context: context, transaction: tx.id, actor: tx.signer, subject: patient.id)
    }

    private mutating func setRecovery(_ body: SetRecovery, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        var patient = try requirePatient(body.patient)
        guard tx.signer == patient.signingKey else {
            throw LedgerError(.wrongSigner, "only the patient's own key may change its recovery keys")
        }
        guard !body.keys.contains(patient.signingKey) else {
            throw LedgerError(.invalidValue, "the patient's own key cannot be one of its recovery keys")
        }
        patient.recoveryKeys = body.keys
        patient.recoveryThreshold = body.threshold
        put(patient)
        appendAudit(patient.id, kind: .recoveryChanged, context: context, transaction: tx.id, actor: tx.signer, subject: patient.id)
    }

    private mutating func replacePatientKey(_ body: ReplacePatientKey, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        var patient = try requirePatient(body.patient)
        guard body.keyVersion == patient.keyVersion else {
            throw LedgerError(.staleRequest, "the replacement is for key version \(body.keyVersion); the patient is at \(patient.keyVersion)")
        }
        if tx.signer == patient.signingKey {
            guard body.approvals.isEmpty else { throw LedgerError(.invalidValue, "a rotation by the patient's own key carries no approvals") }
        } else {
            guard patient.recoveryThreshold > 0 else {
                throw LedgerError(.notEnoughApprovals, "the patient has no recovery keys; only its own key can replace it")
            }
            var approved = 0
            for approval in body.approvals {
                guard patient.recoveryKeys.contains(approval.key) else {
                    throw LedgerError(.notEnoughApprovals, "\(approval.key.hex) is not one of the patient's recovery keys")
                }
                guard approval.key.ed25519.verifies(approval.signature, for: .keyRecovery, chainID: chainID, message: body.approvedBytes) else {
                    throw LedgerError(.badSignature, "the approval by recovery key \(approval.key.hex) does not verify")
                }
                approved += 1
            }
            guard approved >= Int(patient.recoveryThreshold) else {
                throw LedgerError(.notEnoughApprovals, "\(approved) approvals; the patient's threshold is \(patient.recoveryThreshold)")
            }
        }
        guard body.newSigningKey != patient.signingKey else { throw LedgerError(.invalidValue, "the new key is the current key") }
        try requireUnregistered(body.newSigningKey)
        patientByKey[patient.signingKey] = nil
        patient.signingKey = body.newSigningKey
        patient.encryptionKey = body.newEncryptionKey
        patient.keyVersion += 1
        patientByKey[body.newSigningKey] = patient.id
        put(patient)
        appendAudit(patient.id, kind: .keyReplaced, context: context, transaction: tx.id, actor: tx.signer, subject: patient.id)
    }

    // MARK: Consents

    /// Whether `key` names an active party that can be a grantee.
    private func requireGrantee(_ key: Bytes32) throws(LedgerError) {
        if facilities[key] != nil { return }
        if let practitioner = practitioners[key] {
            guard practitioner.active else { throw LedgerError(.inactiveParty, "practitioner \(key.hex) is deregistered") }
            return
        }
        if let organisation = organisations[key] {
            guard organisation.active else { throw LedgerError(.inactiveParty, "organisation \(key.hex) is deregistered") }
            return
        }
        throw LedgerError(.unknownParty, "the grantee \(key.hex) is not a registered facility, practitioner or organisation")
    }

    private mutating func grantConsent(_ body: GrantConsent, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        _ = try requireController(body.patient, tx.signer, "grant consent")
        try requireGrantee(body.grantee)
        let consent = Consent(id: tx.id, grant: body, grantedBy: tx.signer, grantedAtHeight: context.height, revokedAtHeight: nil)
        guard consents[consent.id] == nil else { throw LedgerError(.duplicate, "consent \(consent.id.hex) exists") }
        put(consent)
        appendAudit(body.patient, kind: .consentGranted, context: context, transaction: tx.id, actor: tx.signer, subject: consent.id)
    }

    private mutating func revokeConsent(_ body: RevokeConsent, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        _ = try requireController(body.patient, tx.signer, "revoke consent")
        guard var consent = consents[body.consent], consent.grant.patient == body.patient else {
            throw LedgerError(.unknownConsent, "patient \(body.patient.hex) has no consent \(body.consent.hex)")
        }
        guard consent.revokedAtHeight == nil else { throw LedgerError(.consentRevoked, "consent \(body.consent.hex) is already revoked") }
        consent.revokedAtHeight = context.height
        put(consent)
        appendAudit(body.patient, kind: .consentRevoked, context: context, transaction: tx.id, actor: tx.signer, subject: consent.id)
    }

    // MARK: Records and access

    /// Why `requester` may not `action` record `record` (category, type) of `patient` for
    /// `purpose` under `authority` at `context`, or nil when it may.
    func authorityFailure(
        requester: Bytes32, patient: Bytes32, custodian: Bytes32, record: Bytes32, category: String, resourceType: String,
        action: Actions, purpose: Purpose?, authority: Authority, context: BlockContext
    ) -> LedgerError? {
        switch authority {
        case .consent(let id):
            guard let consent = consents[id], consent.grant.patient == patient else {
                return LedgerError(.unknownConsent, "patient \(patient.hex) has no consent \(id.hex)")
            }
            if let failure = consent.notInForce(at: context.time) { return failure }
            guard covers(consent.grant.grantee, requester) else {
                return LedgerError(.noConsent, "consent \(id.hex) is for \(consent.grant.grantee.hex), not \(requester.hex)")
            }
            guard consent.grant.actions.contains(action) else {
                return LedgerError(.actionNotGranted, "consent \(id.hex) does not grant \(action.names.joined())")
            }
            if let purpose {
                guard consent.grant.purposes.contains(purpose) else {
                    return LedgerError(
                        .wrongPurpose,
                        "consent \(id.hex) allows \(consent.grant.purposes.members.map(\.name).joined(separator: ", ")), not \(purpose.name)")
                }
            } else if !consent.grant.purposes.contains(.treatment) && !consent.grant.purposes.contains(.emergency) {
                return LedgerError(.wrongPurpose, "writing a record needs a treatment or emergency consent")
            }
            guard consent.grant.scope.covers(record: record, category: category, resourceType: resourceType) else {
                return LedgerError(.outOfScope, "consent \(id.hex) does not cover \(category)/\(resourceType) record \(record.hex)")
            }
            return nil
        case .breakGlass(let id):
            guard let entry = breakGlasses[id], entry.entry.patient == patient else {
                return LedgerError(.unknownConsent, "patient \(patient.hex) has no break-glass entry \(id.hex)")
            }
            guard entry.practitioner == requester else {
                return LedgerError(.noConsent, "break-glass entry \(id.hex) was opened by \(entry.practitioner.hex), not \(requester.hex)")
            }
            guard entry.entry.custodian == custodian else {
                return LedgerError(
                    .outOfScope, "break-glass entry \(id.hex) is for records held by \(entry.entry.custodian.hex), not \(custodian.hex)")
            }
            guard context.time < entry.time + genesis.parameters.breakGlassValidity else {
                return LedgerError(.breakGlassExpired, "break-glass entry \(id.hex) expired")
            }
            if let purpose, purpose != .emergency {
                return LedgerError(.wrongPurpose, "break-glass access is for emergency use only, not \(purpose.name)")
            }
            return nil
        }
    }

    /// Whether a consent granted to `grantee` covers `party`: the grantee itself, or a practitioner
    /// of the grantee facility.
    func covers(_ grantee: Bytes32, _ party: Bytes32) -> Bool {
        if grantee == party { return true }
        if let practitioner = practitioners[party], practitioner.active, practitioner.facility == grantee { return true }
        return false
    }

    private mutating func addRecord(_ body: AddRecord, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        guard let author = practitioners[tx.signer] else {
            throw LedgerError(.wrongSigner, "add_record must be signed by a registered practitioner")
        }
        guard author.active else { throw LedgerError(.inactiveParty, "practitioner \(tx.signer.hex) is deregistered") }
        guard author.facility == body.custodian, facilities[body.custodian] != nil else {
            throw LedgerError(.wrongSigner, "the author works at \(author.facility.hex), not at custodian \(body.custodian.hex)")
        }
        _ = try requirePatient(body.patient)
        guard records[body.record] == nil else { throw LedgerError(.duplicate, "record \(body.record.hex) exists") }
        guard RecordSizes.isBucket(body.paddedSize) else {
            throw LedgerError(.invalidValue, "padded size \(body.paddedSize) is not a size bucket")
        }
        if let failure = authorityFailure(
            requester: tx.signer, patient: body.patient, custodian: body.custodian, record: body.record, category: body.category,
            resourceType: body.resourceType, action: .write, purpose: nil, authority: body.authority, context: context)
        {
            throw failure
        }
        put(RecordAnchor(entry: body, author: tx.signer, addedAtHeight: context.height, addedAtTime: context.time, erasedAtHeight: nil))
        appendAudit(body.patient, kind: .recordAdded, context: context, transaction: tx.id, actor: tx.signer, subject: body.record)
    }

    /// The id of an access entry: SHA-256 of its canonical fetch request (so a request commits once).
    public static func accessID(_ request: FetchRequest) -> Bytes32 { Bytes32(SHA256.hash(request.canonicalBytes).bytes)! }

    private mutating func accessEntry(_ body: AccessEntry, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        let request = body.request
        guard facilities[tx.signer] != nil, tx.signer == request.custodian else {
            throw LedgerError(.wrongSigner, "an access entry is submitted by the custodian named in the request")
        }
        guard let anchor = records[request.record] else { throw LedgerError(.unknownRecord, "no record \(request.record.hex)") }
        guard anchor.entry.custodian == request.custodian else {
            throw LedgerError(.wrongSigner, "record \(request.record.hex) is held by \(anchor.entry.custodian.hex)")
        }
        guard request.requester.ed25519.verifies(request.signature, for: .fetchRequest, chainID: chainID, message: request.signedBytes) else {
            throw LedgerError(.badSignature, "the requester's signature on the fetch request does not verify")
        }
        guard recentBlockHashes.contains(request.recentBlockHash) else {
            throw LedgerError(
                .staleRequest, "the fetch request names block \(request.recentBlockHash.hex), not one of the last \(genesis.parameters.fetchRequestWindow)")
        }
        let id = Self.accessID(request)
        guard accesses[id] == nil else { throw LedgerError(.duplicate, "this fetch request was already answered (access \(id.hex))") }
        let patientID = anchor.entry.patient
        switch body.outcome {
        case .granted:
            guard anchor.erasedAtHeight == nil else { throw LedgerError(.recordErased, "record \(request.record.hex) was erased") }
            if let failure = readFailure(request: request, anchor: anchor, context: context) { throw failure }
        case .refused(let code, _):
            guard LedgerError.Code(rawValue: code) != nil else {
                throw LedgerError(.invalidValue, "refusal code \(code) is not a ledger error code")
            }
        }
        put(access: AccessRecord(entry: body, height: context.height, time: context.time), id: id)
        let detail: UInt16
        let kind: AuditKind
        switch body.outcome {
        case .granted:
            kind = .accessGranted
            detail = 0
        case .refused(let code, _):
            kind = .accessRefused
            detail = code
        }
        appendAudit(patientID, kind: kind, context: context, transaction: tx.id, actor: request.requester, subject: id, detail: detail)
    }

    /// Why `request` may not read `anchor` now, or nil when it may: the patient and its delegates
    /// always may; anyone else needs the consent or break-glass entry it names.
    public func readFailure(request: FetchRequest, anchor: RecordAnchor, context: BlockContext) -> LedgerError? {
        let patientID = anchor.entry.patient
        if let patient = patients[patientID], patient.isController(request.requester) { return nil }
        if let practitioner = practitioners[request.requester], !practitioner.active {
            return LedgerError(.inactiveParty, "practitioner \(request.requester.hex) is deregistered")
        }
        if let organisation = organisations[request.requester], !organisation.active {
            return LedgerError(.inactiveParty, "organisation \(request.requester.hex) is deregistered")
        }
        return authorityFailure(
            requester: request.requester, patient: patientID, custodian: anchor.entry.custodian, record: anchor.entry.record,
            category: anchor.entry.category,
            resourceType: anchor.entry.resourceType, action: .read, purpose: request.purpose, authority: request.authority,
            context: context)
    }

    private mutating func breakGlass(_ body: BreakGlass, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        guard let practitioner = practitioners[tx.signer], practitioner.active else {
            throw LedgerError(.wrongSigner, "break_glass must be signed by an active practitioner")
        }
        guard practitioner.roles.contains(.breakGlass) else {
            throw LedgerError(.roleNotAllowed, "practitioner \(tx.signer.hex) has no break-glass role")
        }
        guard facilities[body.custodian] != nil else { throw LedgerError(.unknownFacility, "no facility \(body.custodian.hex)") }
        let patient = try requirePatient(body.patient)
        guard !patient.breakGlassOptOut else {
            throw LedgerError(.breakGlassOptedOut, "patient \(body.patient.hex) has opted out of break-glass access")
        }
        let dayAgo = context.time >= 86_400_000 ? context.time - 86_400_000 : 0
        let recent = (breakGlassByPractitioner[tx.signer] ?? []).filter { (breakGlasses[$0]?.time ?? 0) > dayAgo }.count
        guard recent < Int(genesis.parameters.breakGlassPerDay) else {
            throw LedgerError(
                .breakGlassRateLimited, "practitioner \(tx.signer.hex) opened \(recent) break-glass entries in the last 24 hours")
        }
        put(BreakGlassRecord(id: tx.id, practitioner: tx.signer, entry: body, height: context.height, time: context.time))
        appendAudit(body.patient, kind: .breakGlass, context: context, transaction: tx.id, actor: tx.signer, subject: tx.id)
    }

    private mutating func setPreferences(_ body: SetPreferences, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        var patient = try requireController(body.patient, tx.signer, "change preferences")
        patient.breakGlassOptOut = body.breakGlassOptOut
        put(patient)
        appendAudit(patient.id, kind: .preferencesChanged, context: context, transaction: tx.id, actor: tx.signer, subject: patient.id)
    }

    private mutating func eraseRecord(_ body: EraseRecord, _ tx: VerifiedTransaction, _ context: BlockContext) throws(LedgerError) {
        _ = try requireController(body.patient, tx.signer, "erase a record")
        guard var anchor = records[body.record], anchor.entry.patient == body.patient else {
            throw LedgerError(.unknownRecord, "patient \(body.patient.hex) has no record \(body.record.hex)")
        }
        guard anchor.erasedAtHeight == nil else { throw LedgerError(.recordErased, "record \(body.record.hex) is already erased") }
        anchor.erasedAtHeight = context.height
        put(anchor)
        appendAudit(body.patient, kind: .recordErased, context: context, transaction: tx.id, actor: tx.signer, subject: body.record)
    }
}

/// Record sizes are padded to buckets, so the chain does not reveal a record's true size.
public enum RecordSizes {
    /// 1 KiB, 4 KiB, 16 KiB, ... (powers of 4) up to 16 MiB, then multiples of 16 MiB.
    public static func bucket(for size: UInt64) -> UInt64 {
        var bucket: UInt64 = 1024
        while bucket < size && bucket < 16 << 20 { bucket *= 4 }
        if size <= bucket { return bucket }
        let step: UInt64 = 16 << 20
        return (size + step - 1) / step * step
    }

    /// Whether `size` is one of the buckets.
    public static func isBucket(_ size: UInt64) -> Bool { size > 0 && bucket(for: size) == size }
}
