import MedLedgerWire

/// The request kinds of a node's client port (Protocol/CLIENT.md section 2): `SignedRequest.kind`,
/// echoed as `CLIENT_RESPONSE.kind`.
public enum ClientRequestKind: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case submitTransaction = 1
    case status = 2
    case consentsInForce = 3
    case mayRead = 4
    case timeline = 5
    case auditTrail = 6
    case stateProof = 7
    case subscribe = 8
    case unsubscribe = 9
    case storeRecord = 10
    case fetchRecord = 11
    case getRecord = 12

    public var description: String {
        switch self {
        case .submitTransaction: "submit_transaction"
        case .status: "status"
        case .consentsInForce: "consents_in_force"
        case .mayRead: "may_read"
        case .timeline: "timeline"
        case .auditTrail: "audit_trail"
        case .stateProof: "state_proof"
        case .subscribe: "subscribe"
        case .unsubscribe: "unsubscribe"
        case .storeRecord: "store_record"
        case .fetchRecord: "fetch_record"
        case .getRecord: "get_record"
        }
    }
}

/// The event kinds of `CLIENT_EVENT` (Protocol/CLIENT.md section 4).
public enum ClientEventKind: UInt16, Sendable {
    case auditEvent = 1
}

/// Limits of the client port (Protocol/CLIENT.md section 7).
public enum ClientLimits {
    public static let pageSize = maxPageSize
    public static let stateProofKey = 256
    public static let stateProofValue = 1 << 20
    public static let subscriptionsPerConnection = 16
    public static let recordCiphertext = WireLimits.recordCiphertextMax
    public static let chunk = WireLimits.recordChunkMax
    public static let pendingBytes = 256 << 20
    public static let pendingSeconds = 600
    public static let timestampSkewMilliseconds: UInt64 = 300_000
    public static let fetchWaitSeconds = 30
    /// Reasons and messages on the client port.
    public static let reason = 1_024
}

// MARK: Requests

/// The body of `consents_in_force`, `timeline` and `audit_trail`: one page of a patient's list.
public struct PatientPage: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    /// 0 for the first page; then the previous answer's `next`.
    public var cursor: UInt64
    /// 1 to 100 (more is taken as 100).
    public var limit: UInt16

    public init(patient: Bytes32, cursor: UInt64 = 0, limit: UInt16 = UInt16(ClientLimits.pageSize)) {
        self.patient = patient
        self.cursor = cursor
        self.limit = limit
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.write(cursor)
        writer.write(limit)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        cursor = try reader.readU64("cursor")
        let start = reader.position
        limit = try reader.readU16("limit")
        guard limit > 0 else { throw reader.error(.valueOutOfRange, at: start, "a page limit is 1 to 100, not 0") }
    }
}

/// The body of `may_read`.
public struct MayReadQuery: Hashable, Sendable, WireCodable {
    public var requester: Bytes32
    public var record: Bytes32
    public var purpose: Purpose

    public init(requester: Bytes32, record: Bytes32, purpose: Purpose) {
        self.requester = requester
        self.record = record
        self.purpose = purpose
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(requester)
        writer.write(record)
        writer.write(purpose.rawValue)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        requester = try Bytes32(from: &reader)
        record = try Bytes32(from: &reader)
        let start = reader.position
        let raw = try reader.readU8("purpose")
        guard let purpose = Purpose(rawValue: raw) else { throw reader.error(.unknownEnum, at: start, "purpose \(raw) is not defined") }
        self.purpose = purpose
    }
}

/// The body of `state_proof`: a state key (LEDGER.md section 5).
public struct StateProofQuery: Hashable, Sendable, WireCodable {
    public var key: [UInt8]

    public init(key: [UInt8]) { self.key = key }

    public func encode(to writer: inout ByteWriter) { writer.writeLengthPrefixed(key) }

    public init(from reader: inout ByteReader) throws(WireError) {
        key = try reader.readLengthPrefixed(max: ClientLimits.stateProofKey, "key")
    }
}

/// The body of `subscribe`.
public struct SubscribeRequest: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    /// The first audit sequence wanted: 0 for the whole trail, or one past the last event seen.
    public var fromSequence: UInt64

    public init(patient: Bytes32, fromSequence: UInt64) {
        self.patient = patient
        self.fromSequence = fromSequence
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.write(fromSequence)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        fromSequence = try reader.readU64("from_sequence")
    }
}

/// The body of `unsubscribe`.
public struct UnsubscribeRequest: Hashable, Sendable, WireCodable {
    /// The `request_id` of the `subscribe` request.
    public var subscriptionID: UInt64

    public init(subscriptionID: UInt64) { self.subscriptionID = subscriptionID }

    public func encode(to writer: inout ByteWriter) { writer.write(subscriptionID) }

    public init(from reader: inout ByteReader) throws(WireError) { subscriptionID = try reader.readU64("subscription_id") }
}

/// A piece of ciphertext: the body of `store_record` (StoreChunk), and of the `RECORD_BLOB`
/// peer message, whose struct it is (MedLedgerWire's ``RecordBlob``). `offset + chunk.count <=
/// total <= 64 MiB`.
public typealias RecordChunkUpload = RecordBlob

/// The body of `get_record`.
public struct GetRecordRequest: Hashable, Sendable, WireCodable {
    public var record: Bytes32
    /// A committed granted access entry of the signer's; absent for the patient's controllers.
    public var access: Bytes32?
    public var offset: UInt64

    public init(record: Bytes32, access: Bytes32?, offset: UInt64 = 0) {
        self.record = record
        self.access = access
        self.offset = offset
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(record)
        writer.writeOptional(access) { $0.write($1) }
        writer.write(offset)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        record = try Bytes32(from: &reader)
        access = try reader.readOptional("access") { r throws(WireError) in try Bytes32(from: &r) }
        offset = try reader.readU64("offset")
    }
}

// MARK: Answers

/// The answer to `submit_transaction`.
public enum SubmitAnswer: Hashable, Sendable, WireCodable {
    case inMempool
    case committed(height: UInt64)
    case rejected(code: UInt16, reason: String)

    public func encode(to writer: inout ByteWriter) {
        switch self {
        case .inMempool:
            writer.write(UInt8(1))
        case .committed(let height):
            writer.write(UInt8(2))
            writer.write(height)
        case .rejected(let code, let reason):
            writer.write(UInt8(3))
            writer.write(code)
            writer.write(String(reason.utf8.count > ClientLimits.reason ? reason.prefix(ClientLimits.reason / 4) : Substring(reason)))
        }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        let start = reader.position
        switch try reader.readU8("status") {
        case 1: self = .inMempool
        case 2: self = .committed(height: try reader.readU64("height"))
        case 3: self = .rejected(code: try reader.readU16("code"), reason: try reader.readString(max: ClientLimits.reason, "reason"))
        case let other: throw reader.error(.unknownEnum, at: start, "submit status \(other) is not defined")
        }
    }
}

/// The answer to `status`.
public struct StatusAnswer: Hashable, Sendable, WireCodable {
    public var height: UInt64
    public var blockHash: Bytes32
    /// BFT time of the last block, ms.
    public var time: UInt64
    public var chainID: String
    /// The organisation key of the facility running the node.
    public var facility: Bytes32
    public var bestPeerHeight: UInt64
    public var peers: UInt32

    public init(
        height: UInt64, blockHash: Bytes32, time: UInt64, chainID: String, facility: Bytes32, bestPeerHeight: UInt64,
        peers: UInt32
    ) {
        self.height = height
        self.blockHash = blockHash
        self.time = time
        self.chainID = chainID
        self.facility = facility
        self.bestPeerHeight = bestPeerHeight
        self.peers = peers
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(height)
        writer.write(blockHash)
        writer.write(time)
        writer.write(chainID)
        writer.write(facility)
        writer.write(bestPeerHeight)
        writer.write(peers)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        height = try reader.readU64("height")
        blockHash = try Bytes32(from: &reader)
        time = try reader.readU64("time")
        chainID = try reader.readChainID()
        facility = try Bytes32(from: &reader)
        bestPeerHeight = try reader.readU64("best_peer_height")
        peers = try reader.readU32("peers")
    }
}

/// One page of a list answer (`consents_in_force`, `timeline`, `audit_trail`), with the height it
/// was answered at.
public struct PageAnswer<Item: WireCodable & Hashable & Sendable>: Hashable, Sendable, WireCodable {
    public var height: UInt64
    public var items: [Item]
    /// The cursor of the next page; nil on the last.
    public var next: UInt64?

    public init(height: UInt64, items: [Item], next: UInt64?) {
        self.height = height
        self.items = items
        self.next = next
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(height)
        writer.writeList(items)
        writer.writeOptional(next) { $0.write($1) }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        height = try reader.readU64("height")
        items = try reader.readList(max: ClientLimits.pageSize, "items")
        next = try reader.readOptional("next") { r throws(WireError) in try r.readU64("next") }
    }
}

/// The answer to `may_read`.
public struct MayReadAnswer: Hashable, Sendable, WireCodable {
    public var height: UInt64
    public var allowed: Bool
    /// The consent that allows it (absent for a controller, or when not allowed).
    public var consent: Bytes32?
    /// Why not (a LEDGER.md section 8 code); 0 when allowed.
    public var code: UInt16

    public init(height: UInt64, allowed: Bool, consent: Bytes32?, code: UInt16) {
        self.height = height
        self.allowed = allowed
        self.consent = consent
        self.code = code
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(height)
        writer.write(allowed)
        writer.writeOptional(consent) { $0.write($1) }
        writer.write(code)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        height = try reader.readU64("height")
        allowed = try reader.readBool("allowed")
        consent = try reader.readOptional("consent") { r throws(WireError) in try Bytes32(from: &r) }
        code = try reader.readU16("code")
    }
}

/// The answer to `state_proof`: a value (or its absence) proven against a certified header.
public struct StateProofAnswer: Hashable, Sendable, WireCodable {
    public var value: [UInt8]?
    public var proof: StateProof
    public var header: BlockHeader
    public var certificate: CommitCertificate

    public init(value: [UInt8]?, proof: StateProof, header: BlockHeader, certificate: CommitCertificate) {
        self.value = value
        self.proof = proof
        self.header = header
        self.certificate = certificate
    }

    public func encode(to writer: inout ByteWriter) {
        writer.writeOptional(value) { $0.writeLengthPrefixed($1) }
        proof.encode(to: &writer)
        writer.write(header)
        writer.write(certificate)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        value = try reader.readOptional("value") { r throws(WireError) in
            try r.readLengthPrefixed(max: ClientLimits.stateProofValue, "value")
        }
        proof = try StateProof(from: &reader)
        header = try BlockHeader(from: &reader)
        certificate = try CommitCertificate(from: &reader)
    }

    /// Checks the whole chain of evidence for `key`: the certificate decides the header for the
    /// validator set, and the proof ties the value (or its absence) to the header's state root.
    public func verify(key: [UInt8], validators: ValidatorSet, chainID: String) throws(LedgerError) {
        guard header.chainID == chainID else {
            throw LedgerError(.invalidCommit, "the header is of chain \(header.chainID), not \(chainID)")
        }
        try validators.verify(certificate, height: header.height, blockHash: header.hash, chainID: chainID)
        guard proof.verify(root: header.stateRoot, key: key, value: value) else {
            throw LedgerError(.invalidValue, "the state proof does not match the certified state root at height \(header.height)")
        }
    }
}

/// The answer to `subscribe`.
public struct SubscribeAnswer: Hashable, Sendable, WireCodable {
    public var height: UInt64
    /// The sequence the patient's next audit event will have.
    public var nextSequence: UInt64

    public init(height: UInt64, nextSequence: UInt64) {
        self.height = height
        self.nextSequence = nextSequence
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(height)
        writer.write(nextSequence)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        height = try reader.readU64("height")
        nextSequence = try reader.readU64("next_sequence")
    }
}

/// The body of a `CLIENT_EVENT` of kind `audit_event`.
public struct AuditEventNotice: Hashable, Sendable, WireCodable {
    public var patient: Bytes32
    public var event: AuditEvent

    public init(patient: Bytes32, event: AuditEvent) {
        self.patient = patient
        self.event = event
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(patient)
        writer.write(event)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        patient = try Bytes32(from: &reader)
        event = try AuditEvent(from: &reader)
    }
}

/// The answer to `store_record`.
public struct StoreAnswer: Hashable, Sendable, WireCodable {
    /// Bytes received so far.
    public var received: UInt64
    /// SHA-256 of the whole ciphertext, once it is all there.
    public var ciphertextHash: Bytes32?

    public init(received: UInt64, ciphertextHash: Bytes32?) {
        self.received = received
        self.ciphertextHash = ciphertextHash
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(received)
        writer.writeOptional(ciphertextHash) { $0.write($1) }
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        received = try reader.readU64("received")
        ciphertextHash = try reader.readOptional("ciphertext_hash") { r throws(WireError) in try Bytes32(from: &r) }
    }
}

/// The answer to `fetch_record`: the committed access entry's outcome.
public struct FetchAnswer: Hashable, Sendable, WireCodable {
    /// The height that committed the access entry.
    public var height: UInt64
    /// The access id (LEDGER.md section 3.2).
    public var access: Bytes32
    public var outcome: AccessOutcome

    public init(height: UInt64, access: Bytes32, outcome: AccessOutcome) {
        self.height = height
        self.access = access
        self.outcome = outcome
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(height)
        writer.write(access)
        writer.write(outcome)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        height = try reader.readU64("height")
        access = try Bytes32(from: &reader)
        outcome = try AccessOutcome(from: &reader)
    }
}

/// The answer to `get_record`: a piece of the ciphertext.
public struct RecordChunk: Hashable, Sendable, WireCodable {
    public var ciphertextHash: Bytes32
    public var total: UInt64
    public var offset: UInt64
    public var chunk: [UInt8]

    public init(ciphertextHash: Bytes32, total: UInt64, offset: UInt64, chunk: [UInt8]) {
        self.ciphertextHash = ciphertextHash
        self.total = total
        self.offset = offset
        self.chunk = chunk
    }

    public func encode(to writer: inout ByteWriter) {
        writer.write(ciphertextHash)
        writer.write(total)
        writer.write(offset)
        writer.writeLengthPrefixed(chunk)
    }

    public init(from reader: inout ByteReader) throws(WireError) {
        ciphertextHash = try Bytes32(from: &reader)
        total = try reader.readU64("total")
        offset = try reader.readU64("offset")
        let start = reader.position
        chunk = try reader.readLengthPrefixed(max: ClientLimits.chunk, "chunk")
        guard offset <= total, UInt64(chunk.count) <= total - offset else {
            throw reader.error(.valueOutOfRange, at: start, "the chunk ends past the ciphertext's total of \(total) bytes")
        }
    }
}
