import MedLedgerCrypto
import MedLedgerWire

/// The ledger's signing tags, added to the registry of Protocol/WIRE.md section 6.
extension SigningDomain {
    /// A facility's attestation of a patient registration.
    public static let patientAttestation = SigningDomain(tag: "medledger/patient-attestation/v1")
    /// A recovery key's approval of a patient key replacement.
    public static let keyRecovery = SigningDomain(tag: "medledger/key-recovery/v1")
    /// A requester's fetch request (the access protocol).
    public static let fetchRequest = SigningDomain(tag: "medledger/fetch-request/v1")
}

/// The decoded body of a transaction, by type.
public enum TransactionBody: Hashable, Sendable {
    case registerPatient(RegisterPatient)
    case registerPractitioner(RegisterPractitioner)
    case registerOrganisation(RegisterOrganisation)
    case deregister(Deregister)
    case setDelegates(SetDelegates)
    case setRecovery(SetRecovery)
    case replacePatientKey(ReplacePatientKey)
    case grantConsent(GrantConsent)
    case revokeConsent(RevokeConsent)
    case addRecord(AddRecord)
    case accessEntry(AccessEntry)
    case breakGlass(BreakGlass)
    case setPreferences(SetPreferences)
    case eraseRecord(EraseRecord)

    public var type: TransactionType {
        switch self {
        case .registerPatient: .registerPatient
        case .registerPractitioner: .registerPractitioner
        case .registerOrganisation: .registerOrganisation
        case .deregister: .deregister
        case .setDelegates: .setDelegates
        case .setRecovery: .setRecovery
        case .replacePatientKey: .replacePatientKey
        case .grantConsent: .grantConsent
        case .revokeConsent: .revokeConsent
        case .addRecord: .addRecord
        case .accessEntry: .accessEntry
        case .breakGlass: .breakGlass
        case .setPreferences: .setPreferences
        case .eraseRecord: .eraseRecord
        }
    }

    var value: any WireCodable & Sendable {
        switch self {
        case .registerPatient(let b): b
        case .registerPractitioner(let b): b
        case .registerOrganisation(let b): b
        case .deregister(let b): b
        case .setDelegates(let b): b
        case .setRecovery(let b): b
        case .replacePatientKey(let b): b
        case .grantConsent(let b): b
        case .revokeConsent(let b): b
        case .addRecord(let b): b
        case .accessEntry(let b): b
        case .breakGlass(let b): b
        case .setPreferences(let b): b
        case .eraseRecord(let b): b
        }
    }

    /// The canonical body bytes.
    public var canonicalBytes: [UInt8] {
        var writer = ByteWriter()
        encode(to: &writer)
        return writer.bytes
    }

    /// Appends the canonical body.
    public func encode(to writer: inout ByteWriter) {
        // A switch, not `value`: an existential would box the body on the heap and dispatch dynamically.
        switch self {
        case .registerPatient(let b): b.encode(to: &writer)
        case .registerPractitioner(let b): b.encode(to: &writer)
        case .registerOrganisation(let b): b.encode(to: &writer)
        case .deregister(let b): b.encode(to: &writer)
        case .setDelegates(let b): b.encode(to: &writer)
        case .setRecovery(let b): b.encode(to: &writer)
        case .replacePatientKey(let b): b.encode(to: &writer)
        case .grantConsent(let b): b.encode(to: &writer)
        case .revokeConsent(let b): b.encode(to: &writer)
        case .addRecord(let b): b.encode(to: &writer)
        case .accessEntry(let b): b.encode(to: &writer)
        case .breakGlass(let b): b.encode(to: &writer)
        case .setPreferences(let b): b.encode(to: &writer)
        case .eraseRecord(let b): b.encode(to: &writer)
        }
    }

    /// Decodes the body of an envelope strictly.
    public static func decode(type code: UInt16, body: [UInt8]) throws(LedgerError) -> TransactionBody {
        guard let type = TransactionType(rawValue: code) else {
            throw LedgerError(.unknownTransactionType, "transaction type \(code) is not defined")
        }
        do {
            switch type {
            case .registerPatient: return .registerPatient(try RegisterPatient(canonicalBytes: body))
            case .registerPractitioner: return .registerPractitioner(try RegisterPractitioner(canonicalBytes: body))
            case .registerOrganisation: return .registerOrganisation(try RegisterOrganisation(canonicalBytes: body))
            case .deregister: return .deregister(try Deregister(canonicalBytes: body))
            case .setDelegates: return .setDelegates(try SetDelegates(canonicalBytes: body))
            case .setRecovery: return .setRecovery(try SetRecovery(canonicalBytes: body))
            case .replacePatientKey: return .replacePatientKey(try ReplacePatientKey(canonicalBytes: body))
            case .grantConsent: return .grantConsent(try GrantConsent(canonicalBytes: body))
            case .revokeConsent: return .revokeConsent(try RevokeConsent(canonicalBytes: body))
            case .addRecord: return .addRecord(try AddRecord(canonicalBytes: body))
            case .accessEntry: return .accessEntry(try AccessEntry(canonicalBytes: body))
            case .breakGlass: return .breakGlass(try BreakGlass(canonicalBytes: body))
            case .setPreferences: return .setPreferences(try SetPreferences(canonicalBytes: body))
            case .eraseRecord: return .eraseRecord(try EraseRecord(canonicalBytes: body))
            }
        } catch {
            throw LedgerError(.malformed, "\(type.name) body: \(error)", wireError: error)
        }
    }
}

/// A transaction whose body decoded and whose signature verified: what the state machine applies.
public struct VerifiedTransaction: Hashable, Sendable {
    public let envelope: Transaction
    public let body: TransactionBody
    /// SHA-256 of the canonical envelope.
    public let id: Bytes32

    /// Decodes the body and verifies the envelope's signature for `chainID`.
    public init(_ envelope: Transaction, chainID: String) throws(LedgerError) {
        try self.init(envelope, id: envelope.id, chainID: chainID)
    }

    /// The same, with the envelope's id (``Transaction/id``) already computed by the caller.
    package init(_ envelope: Transaction, id: Bytes32, chainID: String) throws(LedgerError) {
        let body = try TransactionBody.decode(type: envelope.txType, body: envelope.body)
        guard let key = try? Ed25519.PublicKey(bytes: envelope.signer.bytes),
            let signature = try? Ed25519.Signature(bytes: envelope.signature.bytes),
            key.isValidSignature(signature, for: .transaction, chainID: chainID, message: envelope.signedBytes)
        else {
            throw LedgerError(.badSignature, "the transaction signature does not verify for signer \(envelope.signer.hex)")
        }
        self.envelope = envelope
        self.body = body
        self.id = id
    }

    /// For a body whose signature was already verified elsewhere (the mempool verifies each once).
    package init(uncheckedEnvelope envelope: Transaction, body: TransactionBody) {
        self.envelope = envelope
        self.body = body
        self.id = envelope.id
    }

    public var signer: Bytes32 { envelope.signer }
    public var nonce: UInt64 { envelope.nonce }
}

extension Transaction {
    /// Builds and signs a transaction carrying `body`.
    public static func signed(
        _ body: TransactionBody, by key: Ed25519.PrivateKey, nonce: UInt64, chainID: String
    ) -> Transaction {
        var transaction = Transaction(
            txType: body.type.rawValue, signer: Bytes32(key.publicKey.bytes)!, nonce: nonce, body: body.canonicalBytes,
            signature: Bytes64(repeating: 0))
        let signature = key.signature(for: .transaction, chainID: chainID, message: transaction.signedBytes)
        transaction.signature = Bytes64(signature.bytes)!
        return transaction
    }
}

extension Ed25519.PublicKey {
    /// Verifies a wire-level signature over `message` for `domain`.
    public func verifies(_ signature: Bytes64, for domain: SigningDomain, chainID: String, message: [UInt8]) -> Bool {
        guard let signature = try? Ed25519.Signature(bytes: signature.bytes) else { return false }
        return isValidSignature(signature, for: domain, chainID: chainID, message: message)
    }

    /// The key as wire bytes.
    public var wire: Bytes32 { Bytes32(bytes)! }
}

extension Bytes32 {
    /// This key as an Ed25519 public key.
    public var ed25519: Ed25519.PublicKey { try! Ed25519.PublicKey(bytes: bytes) }
}
