import MedLedgerWire

/// A care facility: a validator, from genesis.
public struct Facility: Hashable, Sendable, WireCodable {
    public var name: String
    public var kind: FacilityKind
    /// Registers practitioners and organisations, attests patients, submits access entries. Its id.
    public var organisationKey: Bytes32
    /// Signs consensus votes.
    public var validatorKey: Bytes32
    /// The transport identity.
    public var nodeKey: Bytes32
    /// X25519: receives record keys as custodian.
    public var recordKey: Bytes32
    public var power: UInt64

    public init(
        name: String, kind: FacilityKind, organisationKey: Bytes32, validatorKey: Bytes32, nodeKey: Bytes32,
        recordKey: Bytes32, power: UInt64
    ) {
        self.name = name
        self.kind = kind
        self.organisationKey = organisationKey
        self.validatorKey = validatorKey
        self.nodeKey = nodeKey
        self.recordKey = recordKey
        self.power = power
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(name)
        writer.write(kind.rawValue)
        writer.write(organisationKey)
        writer.write(validatorKey)
        writer.write(nodeKey)
        writer.write(recordKey)
        writer.write(power)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        name = try reader.readString(max: RegisterPractitioner.maxNameLength, "name")
        kind = try reader.readEnum("kind")
        organisationKey = try Bytes32(from: &reader)
        validatorKey = try Bytes32(from: &reader)
        nodeKey = try Bytes32(from: &reader)
        recordKey = try Bytes32(from: &reader)
        power = try reader.readU64("power")
    }
}

/// A practitioner, registered by a facility.
public struct Practitioner: Hashable, Sendable, WireCodable {
    public var key: Bytes32
    public var facility: Bytes32
    public var encryptionKey: Bytes32
    public var roles: Roles
    public var displayName: String
    public var active: Bool

    public func encode(to writer: inout ByteWriter) {
        writer.write(key)
        writer.write(facility)
        writer.write(encryptionKey)
        writer.write(roles.rawValue)
        writer.write(displayName)
        writer.write(active)
    }

    public init(key: Bytes32, facility: Bytes32, encryptionKey: Bytes32, roles: Roles, displayName: String, active: Bool) {
        self.key = key
        self.facility = facility
        self.encryptionKey = encryptionKey
        self.roles = roles
        self.displayName = displayName
        self.active = active
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        key = try Bytes32(from: &reader)
        facility = try Bytes32(from: &reader)
        encryptionKey = try Bytes32(from: &reader)
        roles = Roles(rawValue: try reader.readU32("roles"))
        displayName = try reader.readString(max: RegisterPractitioner.maxNameLength, "display_name")
        active = try reader.readBool("active")
    }
}

/// A research, pharma, insurance or other organisation: a client, never a validator.
public struct Organisation: Hashable, Sendable, WireCodable {
    public var key: Bytes32
    public var facility: Bytes32
    public var encryptionKey: Bytes32
    public var kind: OrganisationKind
    public var name: String
    public var active: Bool

    public init(key: Bytes32, facility: Bytes32, encryptionKey: Bytes32, kind: OrganisationKind, name: String, active: Bool) {
        self.key = key
        self.facility = facility
        self.encryptionKey = encryptionKey
        self.kind = kind
        self.name = name
        self.active = active
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(key)
        writer.write(facility)
        writer.write(encryptionKey)
        writer.write(kind.rawValue)
        writer.write(name)
        writer.write(active)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        key = try Bytes32(from: &reader)
        facility = try Bytes32(from: &reader)
        encryptionKey = try Bytes32(from: &reader)
        kind = try reader.readEnum("kind")
        name = try reader.readString(max: RegisterPractitioner.maxNameLength, "name")
        active = try reader.readBool("active")
    }
}

/// A patient: pseudonymous keys, delegates, recovery and preferences.
public struct Patient: Hashable, Sendable, WireCodable {
    /// The key the patient registered with: the patient's id forever, whatever key it uses now.
    public var id: Bytes32
    public var signingKey: Bytes32
    public var encryptionKey: Bytes32
    public var keyVersion: UInt32
    public var attestedBy: Bytes32
    public var delegates: [Delegate]
    public var recoveryThreshold: UInt8
    public var recoveryKeys: [Bytes32]
    public var breakGlassOptOut: Bool
    /// Events in the audit trail so far (the next event's sequence number).
    public var auditCount: UInt64

    public init(id: Bytes32, signingKey: Bytes32, encryptionKey: Bytes32, attestedBy: Bytes32) {
        self.id = id
        self.signingKey = signingKey
        self.encryptionKey = encryptionKey
        keyVersion = 0
        self.attestedBy = attestedBy
        delegates = []
        recoveryThreshold = 0
        recoveryKeys = []
        breakGlassOptOut = false
        auditCount = 0
    }

    /// Whether `key` may act for this patient: its current key or a delegate.
    public func isController(_ key: Bytes32) -> Bool {
        key == signingKey || delegates.contains { $0.key == key }
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(id)
        writer.write(signingKey)
        writer.write(encryptionKey)
        writer.write(keyVersion)
        writer.write(attestedBy)
        writer.writeList(delegates)
        writer.write(recoveryThreshold)
        writer.writeList(recoveryKeys)
        writer.write(breakGlassOptOut)
        writer.write(auditCount)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        id = try Bytes32(from: &reader)
        signingKey = try Bytes32(from: &reader)
        encryptionKey = try Bytes32(from: &reader)
        keyVersion = try reader.readU32("key_version")
        attestedBy = try Bytes32(from: &reader)
        delegates = try reader.readList(max: SetDelegates.maxDelegates, "delegates")
        recoveryThreshold = try reader.readU8("recovery_threshold")
        recoveryKeys = try reader.readList(max: SetRecovery.maxKeys, "recovery_keys")
        breakGlassOptOut = try reader.readBool("break_glass_opt_out")
        auditCount = try reader.readU64("audit_count")
    }
}

/// A consent as the state holds it.
public struct Consent: Hashable, Sendable, WireCodable {
    /// The id of the transaction that granted it.
    public var id: Bytes32
    public var grant: GrantConsent
    /// Who signed the grant: the patient's key or a delegate.
    public var grantedBy: Bytes32
    public var grantedAtHeight: UInt64
    /// The height of the block that committed the revocation; in force never again from it on.
    public var revokedAtHeight: UInt64?

    public init(id: Bytes32, grant: GrantConsent, grantedBy: Bytes32, grantedAtHeight: UInt64, revokedAtHeight: UInt64?) {
        self.id = id
        self.grant = grant
        self.grantedBy = grantedBy
        self.grantedAtHeight = grantedAtHeight
        self.revokedAtHeight = revokedAtHeight
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(id)
        writer.write(grant)
        writer.write(grantedBy)
        writer.write(grantedAtHeight)
        writer.writeOptional(revokedAtHeight) { $0.write($1) }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        id = try Bytes32(from: &reader)
        grant = try GrantConsent(from: &reader)
        grantedBy = try Bytes32(from: &reader)
        grantedAtHeight = try reader.readU64("granted_at_height")
        revokedAtHeight = try reader.readOptional("revoked_at_height") { r throws(WireError) in try r.readU64("revoked_at_height") }
    }

    /// Why the consent is not in force at BFT time `time`, or nil when it is.
    public func notInForce(at time: UInt64) -> LedgerError? {
        if revokedAtHeight != nil { return LedgerError(.consentRevoked, "consent \(id.hex) was revoked") }
        if time < grant.start { return LedgerError(.consentNotYetValid, "consent \(id.hex) starts at \(grant.start), block time is \(time)") }
        if let expiry = grant.expiry, time >= expiry {
            return LedgerError(.consentExpired, "consent \(id.hex) expired at \(expiry), block time is \(time)")
        }
        return nil
    }
}

/// A record's anchor: everything about a record but its contents.
public struct RecordAnchor: Hashable, Sendable, WireCodable {
    public var entry: AddRecord
    public var author: Bytes32
    public var addedAtHeight: UInt64
    public var addedAtTime: UInt64
    /// Set when erased: the anchor stays as a tombstone.
    public var erasedAtHeight: UInt64?

    public init(entry: AddRecord, author: Bytes32, addedAtHeight: UInt64, addedAtTime: UInt64, erasedAtHeight: UInt64?) {
        self.entry = entry
        self.author = author
        self.addedAtHeight = addedAtHeight
        self.addedAtTime = addedAtTime
        self.erasedAtHeight = erasedAtHeight
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(entry)
        writer.write(author)
        writer.write(addedAtHeight)
        writer.write(addedAtTime)
        writer.writeOptional(erasedAtHeight) { $0.write($1) }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        entry = try AddRecord(from: &reader)
        author = try Bytes32(from: &reader)
        addedAtHeight = try reader.readU64("added_at_height")
        addedAtTime = try reader.readU64("added_at_time")
        erasedAtHeight = try reader.readOptional("erased_at_height") { r throws(WireError) in try r.readU64("erased_at_height") }
    }
}

/// A committed access entry.
public struct AccessRecord: Hashable, Sendable, WireCodable {
    public var entry: AccessEntry
    public var height: UInt64
    public var time: UInt64

    public init(entry: AccessEntry, height: UInt64, time: UInt64) {
        self.entry = entry
        self.height = height
        self.time = time
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(entry)
        writer.write(height)
        writer.write(time)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        entry = try AccessEntry(from: &reader)
        height = try reader.readU64("height")
        time = try reader.readU64("time")
    }
}

/// A committed break-glass entry.
public struct BreakGlassRecord: Hashable, Sendable, WireCodable {
    public var id: Bytes32
    public var practitioner: Bytes32
    public var entry: BreakGlass
    public var height: UInt64
    public var time: UInt64

    public init(id: Bytes32, practitioner: Bytes32, entry: BreakGlass, height: UInt64, time: UInt64) {
        self.id = id
        self.practitioner = practitioner
        self.entry = entry
        self.height = height
        self.time = time
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(id)
        writer.write(practitioner)
        writer.write(entry)
        writer.write(height)
        writer.write(time)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        id = try Bytes32(from: &reader)
        practitioner = try Bytes32(from: &reader)
        entry = try BreakGlass(from: &reader)
        height = try reader.readU64("height")
        time = try reader.readU64("time")
    }
}

/// What happened, in a patient's audit trail.
public enum AuditKind: UInt8, Sendable, CaseIterable {
    case registered = 1
    case delegatesChanged = 2
    case recoveryChanged = 3
    case keyReplaced = 4
    case consentGranted = 5
    case consentRevoked = 6
    case recordAdded = 7
    case accessGranted = 8
    case accessRefused = 9
    case breakGlass = 10
    case preferencesChanged = 11
    case recordErased = 12

    public var name: String {
        switch self {
        case .registered: "registered"
        case .delegatesChanged: "delegates_changed"
        case .recoveryChanged: "recovery_changed"
        case .keyReplaced: "key_replaced"
        case .consentGranted: "consent_granted"
        case .consentRevoked: "consent_revoked"
        case .recordAdded: "record_added"
        case .accessGranted: "access_granted"
        case .accessRefused: "access_refused"
        case .breakGlass: "break_glass"
        case .preferencesChanged: "preferences_changed"
        case .recordErased: "record_erased"
        }
    }
}

/// One event of a patient's audit trail: who did what, when, under which transaction.
public struct AuditEvent: Hashable, Sendable, WireCodable {
    public var sequence: UInt64
    public var kind: AuditKind
    public var height: UInt64
    public var time: UInt64
    public var transaction: Bytes32
    /// Who acted (the signer, or the requester of an access).
    public var actor: Bytes32
    /// What it concerned: a consent, record, access or break-glass id, or the patient.
    public var subject: Bytes32
    /// For a refused access, the refusal code; else 0.
    public var detail: UInt16

    public init(
        sequence: UInt64, kind: AuditKind, height: UInt64, time: UInt64, transaction: Bytes32, actor: Bytes32,
        subject: Bytes32, detail: UInt16
    ) {
        self.sequence = sequence
        self.kind = kind
        self.height = height
        self.time = time
        self.transaction = transaction
        self.actor = actor
        self.subject = subject
        self.detail = detail
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(sequence)
        writer.write(kind.rawValue)
        writer.write(height)
        writer.write(time)
        writer.write(transaction)
        writer.write(actor)
        writer.write(subject)
        writer.write(detail)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        sequence = try reader.readU64("sequence")
        kind = try reader.readEnum("kind")
        height = try reader.readU64("height")
        time = try reader.readU64("time")
        transaction = try Bytes32(from: &reader)
        actor = try Bytes32(from: &reader)
        subject = try Bytes32(from: &reader)
        detail = try reader.readU16("detail")
    }
}
