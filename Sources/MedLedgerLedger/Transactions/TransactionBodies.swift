import MedLedgerCrypto
import MedLedgerWire

/// Transaction type codes (Protocol/LEDGER.md section 3): the `tx_type` of the wire envelope.
public enum TransactionType: UInt16, Sendable, CaseIterable {
    case registerPatient = 1
    case registerPractitioner = 2
    case registerOrganisation = 3
    case deregister = 4
    case setDelegates = 5
    case setRecovery = 6
    case replacePatientKey = 7
    case grantConsent = 8
    case revokeConsent = 9
    case addRecord = 10
    case accessEntry = 11
    case breakGlass = 12
    case setPreferences = 13
    case eraseRecord = 14

    public var name: String {
        switch self {
        case .registerPatient: "register_patient"
        case .registerPractitioner: "register_practitioner"
        case .registerOrganisation: "register_organisation"
        case .deregister: "deregister"
        case .setDelegates: "set_delegates"
        case .setRecovery: "set_recovery"
        case .replacePatientKey: "replace_patient_key"
        case .grantConsent: "grant_consent"
        case .revokeConsent: "revoke_consent"
        case .addRecord: "add_record"
        case .accessEntry: "access_entry"
        case .breakGlass: "break_glass"
        case .setPreferences: "set_preferences"
        case .eraseRecord: "erase_record"
        }
    }
}

/// `register_patient`, signed by the new patient's key and attested by a facility.
public struct RegisterPatient: Hashable, Sendable, WireCodable {
    /// The patient's X25519 key, which receives record keys.
    public var encryptionKey: Bytes32
    /// The attesting facility's organisation key.
    public var facility: Bytes32
    /// The facility's signature, tag `medledger/patient-attestation/v1`, over ``attestedBytes(patient:)``.
    public var attestation: Bytes64

    public init(encryptionKey: Bytes32, facility: Bytes32, attestation: Bytes64) {
        self.encryptionKey = encryptionKey
        self.facility = facility
        self.attestation = attestation
    }

    /// What the facility signs: the patient's signing key, then the encryption key.
    public static func attestedBytes(patient: Bytes32, encryptionKey: Bytes32) -> [UInt8] {
        patient.bytes + encryptionKey.bytes
    }

    /// The registration of `patient` with `encryptionKey`, attested by the facility whose
    /// organisation key is `facility` (the facility signs ``attestedBytes(patient:encryptionKey:)``).
    public static func attested(
        patient: Bytes32, encryptionKey: Bytes32, by facility: Ed25519.PrivateKey, chainID: String
    ) -> RegisterPatient {
        let signature = facility.signature(
            for: .patientAttestation, chainID: chainID, message: attestedBytes(patient: patient, encryptionKey: encryptionKey))
        return RegisterPatient(encryptionKey: encryptionKey, facility: facility.publicKey.wire, attestation: Bytes64(signature.bytes)!)
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(encryptionKey)
        writer.write(facility)
        writer.write(attestation)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        encryptionKey = try Bytes32(from: &reader)
        facility = try Bytes32(from: &reader)
        attestation = try Bytes64(from: &reader)
    }
}

/// `register_practitioner`, signed by the facility's organisation key.
public struct RegisterPractitioner: Hashable, Sendable, WireCodable {
    public var practitioner: Bytes32
    public var encryptionKey: Bytes32
    public var roles: Roles
    public var displayName: String

    public static let maxNameLength = 128

    public init(practitioner: Bytes32, encryptionKey: Bytes32, roles: Roles, displayName: String) {
        self.practitioner = practitioner
        self.encryptionKey = encryptionKey
        self.roles = roles
        self.displayName = displayName
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(practitioner)
        writer.write(encryptionKey)
        writer.write(roles.rawValue)
        writer.write(displayName)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        practitioner = try Bytes32(from: &reader)
        encryptionKey = try Bytes32(from: &reader)
        let rolesStart = reader.position
        roles = Roles(rawValue: try reader.readU32("roles"))
        guard Roles.known.isSuperset(of: roles), !roles.isEmpty else {
            throw reader.error(.valueOutOfRange, at: rolesStart, "roles must be a non-empty set of defined role bits")
        }
        displayName = try reader.readString(max: Self.maxNameLength, "display_name")
    }
}

/// `register_organisation`, signed by the facility's organisation key.
public struct RegisterOrganisation: Hashable, Sendable, WireCodable {
    public var organisation: Bytes32
    public var encryptionKey: Bytes32
    public var kind: OrganisationKind
    public var name: String

    public init(organisation: Bytes32, encryptionKey: Bytes32, kind: OrganisationKind, name: String) {
        self.organisation = organisation
        self.encryptionKey = encryptionKey
        self.kind = kind
        self.name = name
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(organisation)
        writer.write(encryptionKey)
        writer.write(kind.rawValue)
        writer.write(name)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        organisation = try Bytes32(from: &reader)
        encryptionKey = try Bytes32(from: &reader)
        kind = try reader.readEnum("kind")
        name = try reader.readString(max: RegisterPractitioner.maxNameLength, "name")
    }
}

/// `deregister`: a facility retires a practitioner or organisation it registered.
public struct Deregister: Hashable, Sendable, WireCodable {
    public var subject: Bytes32

    public init(subject: Bytes32) { self.subject = subject }

    public func encode(to writer: inout ByteWriter) { writer.write(subject) }

    public init(from reader: inout ByteReader) throws(WireError) { subject = try Bytes32(from: &reader) }
}

/// One delegate: a key that may manage consents for the patient.
public struct Delegate: Hashable, Sendable, WireCodable {
    public var key: Bytes32
    public var relation: DelegateRelation

    public init(key: Bytes32, relation: DelegateRelation) {
        self.key = key
        self.relation = relation
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(key)
        writer.write(relation.rawValue)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        key = try Bytes32(from: &reader)
        relation = try reader.readEnum("relation")
    }
}

/// `set_delegates`: the patient replaces the set of delegates.
public struct SetDelegates: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    /// Sorted by key, distinct; at most 8.
    public var delegates: [Delegate]

    public static let maxDelegates = 8

    public init(patient: Bytes32, delegates: [Delegate]) {
        self.patient = patient
        self.delegates = delegates.sorted { $0.key < $1.key }
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.writeList(delegates)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        delegates = try reader.readList(max: Self.maxDelegates, "delegates") { $0.key < $1.key }
    }
}

/// `set_recovery`: the patient names recovery keys, a threshold of which can replace its key.
public struct SetRecovery: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    /// 0 with no keys (no recovery), else 1 to the number of keys.
    public var threshold: UInt8
    /// Sorted, distinct; at most 10.
    public var keys: [Bytes32]

    public static let maxKeys = 10

    public init(patient: Bytes32, threshold: UInt8, keys: [Bytes32]) {
        self.patient = patient
        self.threshold = threshold
        self.keys = keys.sorted()
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.write(threshold)
        writer.writeList(keys)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        let thresholdStart = reader.position
        threshold = try reader.readU8("threshold")
        keys = try reader.readList(max: Self.maxKeys, "recovery keys") { $0 < $1 }
        guard keys.isEmpty ? threshold == 0 : (1...keys.count).contains(Int(threshold)) else {
            throw reader.error(.valueOutOfRange, at: thresholdStart, "threshold must be 1 to the number of keys (0 with none)")
        }
    }
}

/// A recovery key's approval of a key replacement.
public struct RecoveryApproval: Hashable, Sendable, WireCodable {
    public var key: Bytes32
    /// Tag `medledger/key-recovery/v1` over ``ReplacePatientKey/approvedBytes``.
    public var signature: Bytes64

    public init(key: Bytes32, signature: Bytes64) {
        self.key = key
        self.signature = signature
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(key)
        writer.write(signature)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        key = try Bytes32(from: &reader)
        signature = try Bytes64(from: &reader)
    }
}

/// `replace_patient_key`: rotation by the patient, or recovery by a threshold of recovery keys.
public struct ReplacePatientKey: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    /// The key version being replaced (starts at 0), so an approval cannot be replayed later.
    public var keyVersion: UInt32
    public var newSigningKey: Bytes32
    public var newEncryptionKey: Bytes32
    /// Empty for a rotation signed by the current key; sorted by key otherwise.
    public var approvals: [RecoveryApproval]

    public init(
        patient: Bytes32, keyVersion: UInt32, newSigningKey: Bytes32, newEncryptionKey: Bytes32,
        approvals: [RecoveryApproval]
    ) {
        self.patient = patient
        self.keyVersion = keyVersion
        self.newSigningKey = newSigningKey
        self.newEncryptionKey = newEncryptionKey
        self.approvals = approvals.sorted { $0.key < $1.key }
    }

    /// What each recovery key signs: the four fields before the approvals.
    public var approvedBytes: [UInt8] {
        var writer = ByteWriter()
        writer.write(patient)
        writer.write(keyVersion)
        writer.write(newSigningKey)
        writer.write(newEncryptionKey)
        return writer.bytes
    }

    public func encode(to writer: inout ByteWriter) {
        writer.writeRaw(approvedBytes)
        writer.writeList(approvals)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        keyVersion = try reader.readU32("key_version")
        newSigningKey = try Bytes32(from: &reader)
        newEncryptionKey = try Bytes32(from: &reader)
        approvals = try reader.readList(max: SetRecovery.maxKeys, "approvals") { $0.key < $1.key }
    }
}

/// `grant_consent`: the patient (or a delegate) lets a grantee read or write, for purposes, until a time.
public struct GrantConsent: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    /// A practitioner, a facility's organisation key, or an organisation.
    public var grantee: Bytes32
    public var actions: Actions
    public var purposes: Purposes
    public var scope: ConsentScope
    /// BFT time (ms) from which it is in force.
    public var start: UInt64
    /// BFT time (ms) at which it lapses; nil: until revoked.
    public var expiry: UInt64?

    public init(
        patient: Bytes32, grantee: Bytes32, actions: Actions, purposes: Purposes, scope: ConsentScope, start: UInt64,
        expiry: UInt64?
    ) {
        self.patient = patient
        self.grantee = grantee
        self.actions = actions
        self.purposes = purposes
        self.scope = scope
        self.start = start
        self.expiry = expiry
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.write(grantee)
        writer.write(actions.rawValue)
        writer.write(purposes.rawValue)
        writer.write(scope)
        writer.write(start)
        writer.writeOptional(expiry) { $0.write($1) }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        grantee = try Bytes32(from: &reader)
        let actionsStart = reader.position
        actions = Actions(rawValue: try reader.readU8("actions"))
        guard !actions.isEmpty, Actions.known.isSuperset(of: actions) else {
            throw reader.error(.valueOutOfRange, at: actionsStart, "actions must be read, write or both")
        }
        let purposesStart = reader.position
        purposes = Purposes(rawValue: try reader.readU8("purposes"))
        guard !purposes.isEmpty, Purposes.known.isSuperset(of: purposes) else {
            throw reader.error(.valueOutOfRange, at: purposesStart, "purposes must be a non-empty set of defined purposes")
        }
        scope = try ConsentScope(from: &reader)
        start = try reader.readU64("start")
        let expiryStart = reader.position
        expiry = try reader.readOptional("expiry") { r throws(WireError) in try r.readU64("expiry") }
        if let expiry, expiry <= start {
            throw reader.error(.valueOutOfRange, at: expiryStart, "expiry must be after start")
        }
    }
}

/// `revoke_consent`: effective from the block that commits it.
public struct RevokeConsent: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    public var consent: Bytes32

    public init(patient: Bytes32, consent: Bytes32) {
        self.patient = patient
        self.consent = consent
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.write(consent)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        consent = try Bytes32(from: &reader)
    }
}

/// `add_record`: a practitioner anchors a new encrypted record held by its facility.
public struct AddRecord: Hashable, Sendable, WireCodable {
    public var record: Bytes32
    public var patient: Bytes32
    /// The custodian facility's organisation key.
    public var custodian: Bytes32
    public var category: String
    /// The FHIR resource type, e.g. `DiagnosticReport`.
    public var resourceType: String
    /// SHA-256 of the ciphertext.
    public var ciphertextHash: Bytes32
    /// The padded plaintext size (a size bucket), so the true size is not revealed.
    public var paddedSize: UInt64
    /// When the care event happened (ms).
    public var created: UInt64
    public var keyForPatient: WrappedKey
    public var keyForCustodian: WrappedKey
    public var authority: Authority

    public init(
        record: Bytes32, patient: Bytes32, custodian: Bytes32, category: String, resourceType: String,
        ciphertextHash: Bytes32, paddedSize: UInt64, created: UInt64, keyForPatient: WrappedKey,
        keyForCustodian: WrappedKey, authority: Authority
    ) {
        self.record = record
        self.patient = patient
        self.custodian = custodian
        self.category = category
        self.resourceType = resourceType
        self.ciphertextHash = ciphertextHash
        self.paddedSize = paddedSize
        self.created = created
        self.keyForPatient = keyForPatient
        self.keyForCustodian = keyForCustodian
        self.authority = authority
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(record)
        writer.write(patient)
        writer.write(custodian)
        writer.write(category)
        writer.write(resourceType)
        writer.write(ciphertextHash)
        writer.write(paddedSize)
        writer.write(created)
        writer.write(keyForPatient)
        writer.write(keyForCustodian)
        writer.write(authority)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        record = try Bytes32(from: &reader)
        patient = try Bytes32(from: &reader)
        custodian = try Bytes32(from: &reader)
        category = try reader.readString(max: ConsentScope.maxCategoryLength, "category")
        resourceType = try reader.readString(max: ConsentScope.maxCategoryLength, "resource_type")
        ciphertextHash = try Bytes32(from: &reader)
        paddedSize = try reader.readU64("padded_size")
        created = try reader.readU64("created")
        keyForPatient = try WrappedKey(from: &reader)
        keyForCustodian = try WrappedKey(from: &reader)
        authority = try Authority(from: &reader)
    }
}

/// A requester's signed request to read a record (the access protocol of DESIGN.md).
public struct FetchRequest: Hashable, Sendable, WireCodable {
    public var record: Bytes32
    public var custodian: Bytes32
    /// The requester's Ed25519 key (practitioner, organisation, patient or delegate).
    public var requester: Bytes32
    public var purpose: Purpose
    public var authority: Authority
    /// Fresh random bytes: the same request can be committed only once.
    public var nonce: Bytes32
    /// The hash of a recent block: the request expires once it falls out of the recent window.
    public var recentBlockHash: Bytes32
    /// The X25519 key the data key is to be wrapped for.
    public var encryptionKey: Bytes32
    /// Tag `medledger/fetch-request/v1` over every field above.
    public var signature: Bytes64

    public init(
        record: Bytes32, custodian: Bytes32, requester: Bytes32, purpose: Purpose, authority: Authority, nonce: Bytes32,
        recentBlockHash: Bytes32, encryptionKey: Bytes32, signature: Bytes64
    ) {
        self.record = record
        self.custodian = custodian
        self.requester = requester
        self.purpose = purpose
        self.authority = authority
        self.nonce = nonce
        self.recentBlockHash = recentBlockHash
        self.encryptionKey = encryptionKey
        self.signature = signature
    }

    /// The canonical bytes the requester signs.
    public var signedBytes: [UInt8] {
        var writer = ByteWriter()
        writer.write(record)
        writer.write(custodian)
        writer.write(requester)
        writer.write(purpose.rawValue)
        writer.write(authority)
        writer.write(nonce)
        writer.write(recentBlockHash)
        writer.write(encryptionKey)
        return writer.bytes
    }

    public func encode(to writer: inout ByteWriter) {
        writer.writeRaw(signedBytes)
        writer.write(signature)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        record = try Bytes32(from: &reader)
        custodian = try Bytes32(from: &reader)
        requester = try Bytes32(from: &reader)
        purpose = try reader.readEnum("purpose")
        authority = try Authority(from: &reader)
        nonce = try Bytes32(from: &reader)
        recentBlockHash = try Bytes32(from: &reader)
        encryptionKey = try Bytes32(from: &reader)
        signature = try Bytes64(from: &reader)
    }
}

/// The custodian's decision on a fetch request.
public enum AccessOutcome: Hashable, Sendable, WireCodable {
    /// Granted: the data key wrapped for the requester's encryption key.
    case granted(WrappedKey)
    /// Refused, with a ``LedgerError/Code`` and a note for the audit trail.
    case refused(code: UInt16, note: String)

    public static let maxNoteLength = 256

    public func encode(to writer: inout ByteWriter) {
        switch self {
        case .granted(let key):
            writer.write(UInt8(1))
            writer.write(key)
        case .refused(let code, let note):
            writer.write(UInt8(2))
            writer.write(code)
            writer.write(note)
        }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        let start = reader.position
        switch try reader.readU8("outcome") {
        case 1: self = .granted(try WrappedKey(from: &reader))
        case 2: self = .refused(code: try reader.readU16("code"), note: try reader.readString(max: Self.maxNoteLength, "note"))
        case let other: throw reader.error(.unknownEnum, at: start, "outcome \(other) is not defined")
        }
    }
}

/// `access_entry`: submitted by the custodian, embedding the requester's signed request.
public struct AccessEntry: Hashable, Sendable, WireCodable {
    public var request: FetchRequest
    public var outcome: AccessOutcome

    public init(request: FetchRequest, outcome: AccessOutcome) {
        self.request = request
        self.outcome = outcome
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(request)
        writer.write(outcome)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        request = try FetchRequest(from: &reader)
        outcome = try AccessOutcome(from: &reader)
    }
}

/// `break_glass`: emergency access by a practitioner whose role allows it.
public struct BreakGlass: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    public var custodian: Bytes32
    public var reason: String

    public static let maxReasonLength = 512

    public init(patient: Bytes32, custodian: Bytes32, reason: String) {
        self.patient = patient
        self.custodian = custodian
        self.reason = reason
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.write(custodian)
        writer.write(reason)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        custodian = try Bytes32(from: &reader)
        let reasonStart = reader.position
        reason = try reader.readString(max: Self.maxReasonLength, "reason")
        guard !reason.isEmpty else { throw reader.error(.valueOutOfRange, at: reasonStart, "a break-glass entry needs a reason") }
    }
}

/// `set_preferences`: the patient's own settings.
public struct SetPreferences: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    /// True: no break-glass access to this patient's records.
    public var breakGlassOptOut: Bool

    public init(patient: Bytes32, breakGlassOptOut: Bool) {
        self.patient = patient
        self.breakGlassOptOut = breakGlassOptOut
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.write(breakGlassOptOut)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        breakGlassOptOut = try reader.readBool("break_glass_opt_out")
    }
}

/// `erase_record`: the patient (or a delegate) has every ciphertext copy deleted; the anchor stays as a tombstone.
public struct EraseRecord: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    public var record: Bytes32

    public init(patient: Bytes32, record: Bytes32) {
        self.patient = patient
        self.record = record
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.write(record)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        record = try Bytes32(from: &reader)
    }
}
