import MedLedgerWire

// JSON renderings of ledger values, by the conventions of Protocol/WIRE.md section 8: field names
// as in Protocol/LEDGER.md, bytes as hex, enums by name, bit sets as arrays of names.

extension WrappedKey: JSONRenderable {
    public var json: JSONValue { .object([("encapsulated_key", encapsulatedKey.json), ("sealed_key", .hex(sealedKey))]) }
}

extension Authority: JSONRenderable {
    public var json: JSONValue {
        switch self {
        case .consent(let id): .object([("kind", .string("consent")), ("id", id.json)])
        case .breakGlass(let id): .object([("kind", .string("break_glass")), ("id", id.json)])
        }
    }
}

extension ConsentScope: JSONRenderable {
    public var json: JSONValue {
        switch self {
        case .allRecords: .object([("kind", .string("all_records"))])
        case .categories(let list): .object([("kind", .string("categories")), ("categories", .array(list.map { .string($0) }))])
        case .records(let list): .object([("kind", .string("records")), ("records", .array(list.map(\.json)))])
        }
    }
}

extension Delegate: JSONRenderable {
    public var json: JSONValue { .object([("key", key.json), ("relation", .string(relation.name))]) }
}

extension RecoveryApproval: JSONRenderable {
    public var json: JSONValue { .object([("key", key.json), ("signature", signature.json)]) }
}

extension FetchRequest: JSONRenderable {
    public var json: JSONValue {
        .object([
            ("record", record.json), ("custodian", custodian.json), ("requester", requester.json),
            ("purpose", .string(purpose.name)), ("authority", authority.json), ("nonce", nonce.json),
            ("recent_block_hash", recentBlockHash.json), ("encryption_key", encryptionKey.json),
            ("signature", signature.json),
        ])
    }
}

extension TransactionBody: JSONRenderable {
    /// The body's fields, as Protocol/LEDGER.md section 3.3 names them.
    public var json: JSONValue {
        switch self {
        case .registerPatient(let b):
            return .object([("encryption_key", b.encryptionKey.json), ("facility", b.facility.json), ("attestation", b.attestation.json)])
        case .registerPractitioner(let b):
            return .object([
                ("practitioner", b.practitioner.json), ("encryption_key", b.encryptionKey.json),
                ("roles", .array(b.roles.names.map { .string($0) })), ("display_name", .string(b.displayName)),
            ])
        case .registerOrganisation(let b):
            return .object([
                ("organisation", b.organisation.json), ("encryption_key", b.encryptionKey.json),
                ("kind", .string(b.kind.name)), ("name", .string(b.name)),
            ])
        case .deregister(let b):
            return .object([("subject", b.subject.json)])
        case .setDelegates(let b):
            return .object([("patient", b.patient.json), ("delegates", .array(b.delegates.map(\.json)))])
        case .setRecovery(let b):
            return .object([("patient", b.patient.json), ("threshold", .int(b.threshold)), ("keys", .array(b.keys.map(\.json)))])
        case .replacePatientKey(let b):
            return .object([
                ("patient", b.patient.json), ("key_version", .int(b.keyVersion)), ("new_signing_key", b.newSigningKey.json),
                ("new_encryption_key", b.newEncryptionKey.json), ("approvals", .array(b.approvals.map(\.json))),
            ])
        case .grantConsent(let b):
            return .object([
                ("patient", b.patient.json), ("grantee", b.grantee.json),
                ("actions", .array(b.actions.names.map { .string($0) })),
                ("purposes", .array(b.purposes.members.map { .string($0.name) })), ("scope", b.scope.json),
                ("start", .int(b.start)), ("expiry", b.expiry.map { .int($0) } ?? .null),
            ])
        case .revokeConsent(let b):
            return .object([("patient", b.patient.json), ("consent", b.consent.json)])
        case .addRecord(let b):
            return .object([
                ("record", b.record.json), ("patient", b.patient.json), ("custodian", b.custodian.json),
                ("category", .string(b.category)), ("resource_type", .string(b.resourceType)),
                ("ciphertext_hash", b.ciphertextHash.json), ("padded_size", .int(b.paddedSize)), ("created", .int(b.created)),
                ("key_for_patient", b.keyForPatient.json), ("key_for_custodian", b.keyForCustodian.json),
                ("authority", b.authority.json),
            ])
        case .accessEntry(let b):
            let outcome: JSONValue
            switch b.outcome {
            case .granted(let key): outcome = .object([("kind", .string("granted")), ("key_for_requester", key.json)])
            case .refused(let code, let note):
                outcome = .object([("kind", .string("refused")), ("code", .int(code)), ("note", .string(note))])
            }
            return .object([("request", b.request.json), ("outcome", outcome)])
        case .breakGlass(let b):
            return .object([("patient", b.patient.json), ("custodian", b.custodian.json), ("reason", .string(b.reason))])
        case .setPreferences(let b):
            return .object([("patient", b.patient.json), ("break_glass_opt_out", .bool(b.breakGlassOptOut))])
        case .eraseRecord(let b):
            return .object([("patient", b.patient.json), ("record", b.record.json)])
        }
    }
}

extension VerifiedTransaction: JSONRenderable {
    /// The envelope (as WIRE.md renders a Transaction) with the type's name and the decoded body.
    public var json: JSONValue {
        guard case .object(var members) = envelope.json else { return envelope.json }
        members.insert(("type", .string(body.type.name)), at: 1)
        members.append(("decoded_body", body.json))
        return .object(members)
    }
}
