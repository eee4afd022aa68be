import MedLedgerLedger

/// Why a ``LedgerClient`` call failed: what was wrong and what to do about it.
///
/// Callers switch on the case; people read ``description``, which always ends with the next step
/// to take. A refusal by the node or the ledger keeps its stable code (Protocol/LEDGER.md section 8,
/// Protocol/CLIENT.md section 6), so an app can react to `no_consent` differently from `busy`.
public enum LedgerClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No endpoint could be reached: every one was tried, each with the reason it failed.
    case unreachable([EndpointFailure])
    /// The node answered with `CLIENT_ERROR`: a ledger code (1000 and up) and the node's sentence.
    case refused(code: UInt16, name: String, reason: String)
    /// The ledger rejected a submitted transaction (`SubmitAnswer.rejected`).
    case rejected(code: UInt16, name: String, reason: String)
    /// No answer within the per-request timeout, or no commit within the wait.
    case timeout(what: String, after: Duration)
    /// The connection ended while a request was outstanding and no other endpoint could take it.
    case connectionLost(endpoint: String, reason: String)
    /// A state proof, commit certificate or signature did not verify against the genesis.
    case proofInvalid(String)
    /// The node's answer did not decode strictly, or contradicts what was asked.
    case badAnswer(String)
    /// A record's ciphertext does not match its anchor, or does not decrypt with the key.
    case recordCorrupt(String)
    /// The access entry for a fetch was refused by the custodian; the refusal is on the chain.
    case accessRefused(code: UInt16, name: String, note: String, access: String)
    /// An argument the client can check before asking anyone (a size, a missing key, an unknown facility).
    case invalidArgument(String)
    /// A local file (key, record, output) could not be read or written.
    case file(path: String, problem: String)

    /// One endpoint that could not be reached, and why.
    public struct EndpointFailure: Sendable, Hashable, CustomStringConvertible {
        /// The endpoint, `host:port (node …)`.
        public var endpoint: String
        /// Why it failed (the transport's reason and what it means).
        public var reason: String

        /// A failure of one endpoint.
        public init(endpoint: String, reason: String) {
            self.endpoint = endpoint
            self.reason = reason
        }

        public var description: String { "\(endpoint): \(reason)" }
    }

    /// The ledger code of a refusal or rejection, if this is one.
    public var code: UInt16? {
        switch self {
        case .refused(let code, _, _), .rejected(let code, _, _), .accessRefused(let code, _, _, _): code
        default: nil
        }
    }

    /// The stable name of a ledger code (`no_consent`), or `code_N` for one this build does not know.
    public static func codeName(_ code: UInt16) -> String {
        LedgerError.Code(rawValue: code)?.name ?? "code_\(code)"
    }

    public var description: String {
        switch self {
        case .unreachable(let failures):
            let list = failures.map { "  \($0)" }.joined(separator: "\n")
            return "no node could be reached (\(failures.count) tried):\n\(list)\n"
                + "Check that the nodes are running, that host:port is each node's client port (ports.json), "
                + "and that the node key is the one in its facility.json."
        case .refused(let code, let name, let reason):
            return "the node refused the request: \(name) (\(code)): \(reason)\n\(Self.advice(code))"
        case .rejected(let code, let name, let reason):
            return "the ledger rejected the transaction: \(name) (\(code)): \(reason)\n\(Self.advice(code))"
        case .timeout(let what, let after):
            return "\(what): no answer within \(after). The node may be overloaded or partitioned; "
                + "try again (requests are safe to repeat), or connect to another node."
        case .connectionLost(let endpoint, let reason):
            return "the connection to \(endpoint) ended before the answer came: \(reason). "
                + "Try again; give more nodes (--connect or --node) so the client can fail over."
        case .proofInvalid(let detail):
            return "the node's proof does not verify: \(detail). Do not trust this node's answers; "
                + "check that the genesis file is the network's, and report the node to its operator."
        case .badAnswer(let detail):
            return "the node's answer is malformed: \(detail). The node may run an incompatible version; "
                + "try another node."
        case .recordCorrupt(let detail):
            return "the record cannot be trusted: \(detail). Fetch it again from another holder; "
                + "if it persists, tell the custodian facility."
        case .accessRefused(let code, let name, let note, let access):
            return "the custodian refused the read: \(name) (\(code))\(note.isEmpty ? "" : ": \(note)"); "
                + "the refusal is on the chain as access \(access).\n\(Self.advice(code))"
        case .invalidArgument(let detail):
            return detail
        case .file(let path, let problem):
            return "\(path): \(problem)"
        }
    }

    /// What to do about a ledger code.
    static func advice(_ code: UInt16) -> String {
        guard let known = LedgerError.Code(rawValue: code) else {
            return "This client does not know code \(code); upgrade it, or see Protocol/LEDGER.md section 8."
        }
        switch known {
        case .malformed, .unknownTransactionType:
            return "The client and node disagree on the format; check that both run the same MedLedger version."
        case .badSignature:
            return "Check that the key file is the party's and that the genesis (chain id) is the network's."
        case .nonceReused:
            return "Another transaction of this signer used the nonce; submit again (the client asks for the next nonce)."
        case .wrongSigner:
            return "Sign with the key that may do this (the patient's or a delegate's key, the practitioner's, "
                + "or the facility's organisation key), or send it to the right facility's node."
        case .unknownFacility:
            return "Name a facility of the genesis (its organisation key in facility.json)."
        case .unknownPatient:
            return "Register the patient first (`medledger patient register`), or check the patient key."
        case .unknownParty:
            return "The grantee must be a facility, or a practitioner or organisation a facility registered."
        case .alreadyRegistered:
            return "This key is registered already; use it as it is, or make a new key with `medledger keygen`."
        case .inactiveParty:
            return "The party was deregistered by its facility and can no longer act or be granted."
        case .roleNotAllowed:
            return "The practitioner's roles do not allow this; ask the facility to register the role."
        case .noConsent, .actionNotGranted, .wrongPurpose, .outOfScope:
            return "Ask the patient for a consent that covers this party, action, purpose and record "
                + "(`medledger consent grant`)."
        case .consentExpired, .consentRevoked, .consentNotYetValid:
            return "The consent is not in force; ask the patient for a new one."
        case .unknownConsent:
            return "Name a consent of this patient (see `medledger consent list`), or a break-glass entry."
        case .unknownRecord:
            return "Check the record id (see `medledger timeline`)."
        case .recordErased:
            return "The patient erased this record; it cannot be read any more."
        case .duplicate:
            return "This already exists on the chain; nothing more to do."
        case .staleRequest:
            return "The request is too old; send it again (the client makes a fresh one)."
        case .breakGlassOptedOut, .breakGlassRateLimited, .breakGlassExpired:
            return "Emergency access is not available now; ask the patient or the facility."
        case .notEnoughApprovals:
            return "Collect approvals from at least the threshold of the patient's recovery keys."
        case .invalidValue:
            return "Correct the value the message names."
        case .invalidBlock, .invalidCommit, .invalidEvidence, .invalidGenesis:
            return "The node's chain or genesis is wrong; tell its operator."
        case .notAuthorised:
            return "Only the patient or its delegates (or a grantee, for what a consent covers) may ask this; "
                + "use their key."
        case .notHeld:
            return "Ask another holder of the record (the client does this by itself when it knows more nodes)."
        case .timeout:
            return "The access entry did not commit in time; send the same request again."
        case .busy:
            return "The node is busy; try again in a moment."
        }
    }
}
