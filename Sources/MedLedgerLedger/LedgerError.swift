import MedLedgerWire

/// Why the ledger refused a transaction, a block or a query: a stable code and a sentence a
/// person can act on (Protocol/LEDGER.md, "Rejections").
public struct LedgerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable codes: clients switch on them, `CLIENT_ERROR.code` carries them (from 1000 up, so
    /// they never collide with WIRE.md's codes).
    public enum Code: UInt16, Sendable, CaseIterable {
        case malformed = 1000
        case unknownTransactionType = 1001
        case badSignature = 1002
        case nonceReused = 1003
        case wrongSigner = 1004
        case unknownFacility = 1005
        case unknownPatient = 1006
        case unknownParty = 1007
        case alreadyRegistered = 1008
        case inactiveParty = 1009
        case roleNotAllowed = 1010
        case noConsent = 1011
        case consentExpired = 1012
        case consentRevoked = 1013
        case consentNotYetValid = 1014
        case wrongPurpose = 1015
        case outOfScope = 1016
        case actionNotGranted = 1017
        case unknownConsent = 1018
        case unknownRecord = 1019
        case recordErased = 1020
        case duplicate = 1021
        case staleRequest = 1022
        case breakGlassOptedOut = 1023
        case breakGlassRateLimited = 1024
        case breakGlassExpired = 1025
        case notEnoughApprovals = 1026
        case invalidValue = 1027
        case invalidBlock = 1028
        case invalidCommit = 1029
        case invalidEvidence = 1030
        case notAuthorised = 1031
        case invalidGenesis = 1032
        /// Client port only (Protocol/CLIENT.md section 6): this node holds no copy of the record.
        case notHeld = 1033
        /// Client port only: the access entry did not commit in time; the same request may be sent again.
        case timeout = 1034
        /// Client port only: a limit is full for now; retry after a moment.
        case busy = 1035

        /// The stable snake-case name.
        public var name: String {
            switch self {
            case .malformed: "malformed"
            case .unknownTransactionType: "unknown_transaction_type"
            case .badSignature: "bad_signature"
            case .nonceReused: "nonce_reused"
            case .wrongSigner: "wrong_signer"
            case .unknownFacility: "unknown_facility"
            case .unknownPatient: "unknown_patient"
            case .unknownParty: "unknown_party"
            case .alreadyRegistered: "already_registered"
            case .inactiveParty: "inactive_party"
            case .roleNotAllowed: "role_not_allowed"
            case .noConsent: "no_consent"
            case .consentExpired: "consent_expired"
            case .consentRevoked: "consent_revoked"
            case .consentNotYetValid: "consent_not_yet_valid"
            case .wrongPurpose: "wrong_purpose"
            case .outOfScope: "out_of_scope"
            case .actionNotGranted: "action_not_granted"
            case .unknownConsent: "unknown_consent"
            case .unknownRecord: "unknown_record"
            case .recordErased: "record_erased"
            case .duplicate: "duplicate"
            case .staleRequest: "stale_request"
            case .breakGlassOptedOut: "break_glass_opted_out"
            case .breakGlassRateLimited: "break_glass_rate_limited"
            case .breakGlassExpired: "break_glass_expired"
            case .notEnoughApprovals: "not_enough_approvals"
            case .invalidValue: "invalid_value"
            case .invalidBlock: "invalid_block"
            case .invalidCommit: "invalid_commit"
            case .invalidEvidence: "invalid_evidence"
            case .notAuthorised: "not_authorised"
            case .invalidGenesis: "invalid_genesis"
            case .notHeld: "not_held"
            case .timeout: "timeout"
            case .busy: "busy"
            }
        }
    }

    public var code: Code
    public var reason: String
    /// For `malformed`: the decoding rule the body broke, with its offset in the body.
    public var wireError: WireError?

    public init(_ code: Code, _ reason: String, wireError: WireError? = nil) {
        self.code = code
        self.reason = reason
        self.wireError = wireError
    }

    public var description: String { "\(code.name): \(reason)" }
}
