import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// A state value (or its absence) proven against a block the genesis validators certified.
public struct VerifiedValue: Sendable, Hashable {
    /// The value under the key; nil when the proof shows the key absent.
    public var value: [UInt8]?
    /// The certified block the proof is against.
    public var header: BlockHeader

    /// The height the value was proven at.
    public var height: UInt64 { header.height }
}

extension LedgerClient {
    /// The most pages a "whole list" helper reads (100 items each) before it stops with an error.
    public static let maxPages = 10_000

    // MARK: State proofs

    /// The committed value under a state key (Protocol/LEDGER.md section 5), proven: the commit
    /// certificate is checked against the genesis validator set, then the header's hash, then the
    /// proof against the header's state root (``StateProofAnswer/verify(key:validators:chainID:)``).
    ///
    /// - Parameter key: at most 256 bytes. Who may ask for which keys: Protocol/CLIENT.md section 3.
    /// - Parameter signer: who asks; anyone for facility, practitioner, organisation, nonce and
    ///   evidence keys.
    /// - Throws: ``ClientError/proofInvalid(_:)`` when anything does not verify: do not trust that node.
    public func verifiedValue(key: [UInt8], as signer: Ed25519.PrivateKey? = nil) throws(LedgerClientError) -> VerifiedValue {
        guard !key.isEmpty, key.count <= ClientLimits.stateProofKey else {
            throw .invalidArgument("a state key is 1 to \(ClientLimits.stateProofKey) bytes, not \(key.count)")
        }
        let (response, index) = try call(.stateProof, body: StateProofQuery(key: key).canonicalBytes, signer: signer)
        let answer = try decode(StateProofAnswer.self, response, .stateProof)
        do {
            try answer.verify(key: key, validators: validators, chainID: chainID)
        } catch {
            throw .proofInvalid("\(links[index].endpoint.shortDescription): \(error.code.name): \(error.reason)")
        }
        return VerifiedValue(value: answer.value, header: answer.header)
    }

    /// A proven state value decoded as `T`; nil when the key is absent.
    public func verifiedEntity<T: WireCodable>(_ type: T.Type, key: [UInt8], as signer: Ed25519.PrivateKey? = nil)
        throws(LedgerClientError) -> (entity: T?, header: BlockHeader)
    {
        let proven = try verifiedValue(key: key, as: signer)
        guard let value = proven.value else { return (nil, proven.header) }
        do {
            return (try T(canonicalBytes: value), proven.header)
        } catch {
            throw .badAnswer("the proven value under key \(Bytes32(key.dropFirst())?.hex ?? "?") does not decode: \(error)")
        }
    }

    /// A record's anchor, proven (the patient's controllers, and a requester that may read it, may ask).
    public func anchor(of record: Bytes32, as signer: Ed25519.PrivateKey) throws(LedgerClientError) -> (anchor: RecordAnchor, header: BlockHeader) {
        let (entity, header) = try verifiedEntity(RecordAnchor.self, key: StateKey.key(.record, record), as: signer)
        guard let entity else {
            throw .invalidArgument("record \(record.hex) is not on the chain; check the id (see `medledger timeline`)")
        }
        guard entity.entry.record == record else { throw .badAnswer("the proven anchor is of record \(entity.entry.record.hex)") }
        return (entity, header)
    }

    // MARK: Queries

    /// One page of the consents in force for `patient` (`consents_in_force`; its controllers may ask).
    public func consentsInForce(patient: Bytes32, as signer: Ed25519.PrivateKey, cursor: UInt64 = 0, limit: UInt16 = 100)
        throws(LedgerClientError) -> PageAnswer<Consent>
    {
        try page(.consentsInForce, PatientPage(patient: patient, cursor: cursor, limit: limit), signer: signer)
    }

    /// Whether `requester` may read `record` for `purpose` now, and by which consent (`may_read`).
    public func mayRead(requester: Bytes32, record: Bytes32, purpose: Purpose, as signer: Ed25519.PrivateKey)
        throws(LedgerClientError) -> MayReadAnswer
    {
        let body = MayReadQuery(requester: requester, record: record, purpose: purpose).canonicalBytes
        let (response, _) = try call(.mayRead, body: body, signer: signer)
        return try decode(MayReadAnswer.self, response, .mayRead)
    }

    /// One page of `patient`'s records (`timeline`): all of them for a controller, the ones its
    /// consents let it read for anyone else.
    public func timeline(patient: Bytes32, as signer: Ed25519.PrivateKey, cursor: UInt64 = 0, limit: UInt16 = 100)
        throws(LedgerClientError) -> PageAnswer<RecordAnchor>
    {
        try page(.timeline, PatientPage(patient: patient, cursor: cursor, limit: limit), signer: signer)
    }

    /// One page of `patient`'s audit trail, in sequence order (`audit_trail`; its controllers may ask).
    public func auditTrail(patient: Bytes32, as signer: Ed25519.PrivateKey, cursor: UInt64 = 0, limit: UInt16 = 100)
        throws(LedgerClientError) -> PageAnswer<AuditEvent>
    {
        try page(.auditTrail, PatientPage(patient: patient, cursor: cursor, limit: limit), signer: signer)
    }

    /// Every consent in force for `patient`, all pages.
    public func allConsentsInForce(patient: Bytes32, as signer: Ed25519.PrivateKey) throws(LedgerClientError) -> [Consent] {
        try allPages { cursor throws(LedgerClientError) in try consentsInForce(patient: patient, as: signer, cursor: cursor) }
    }

    /// `patient`'s whole timeline, all pages, across every facility.
    public func fullTimeline(patient: Bytes32, as signer: Ed25519.PrivateKey) throws(LedgerClientError) -> [RecordAnchor] {
        try allPages { cursor throws(LedgerClientError) in try timeline(patient: patient, as: signer, cursor: cursor) }
    }

    /// `patient`'s whole audit trail, all pages; checks that the sequences have no gaps.
    public func fullAuditTrail(patient: Bytes32, as signer: Ed25519.PrivateKey) throws(LedgerClientError) -> [AuditEvent] {
        let events = try allPages { cursor throws(LedgerClientError) in try auditTrail(patient: patient, as: signer, cursor: cursor) }
        for (index, event) in events.enumerated() where event.sequence != UInt64(index) {
            throw .badAnswer("the audit trail has a gap or is out of order at sequence \(event.sequence) (expected \(index))")
        }
        return events
    }

    func page<Item: WireCodable & Hashable & Sendable>(_ kind: ClientRequestKind, _ page: PatientPage, signer: Ed25519.PrivateKey) throws(LedgerClientError)
        -> PageAnswer<Item>
    {
        guard page.limit > 0 else { throw .invalidArgument("a page limit is 1 to 100, not 0") }
        let (response, _) = try call(kind, body: page.canonicalBytes, signer: signer)
        let answer = try decode(PageAnswer<Item>.self, response, kind)
        if let next = answer.next, next <= page.cursor {
            throw .badAnswer("the \(kind) answer's next cursor \(next) does not move past \(page.cursor)")
        }
        return answer
    }

    /// Reads pages from cursor 0 until the last, at most ``maxPages``.
    func allPages<Item: WireCodable & Hashable & Sendable>(_ read: (UInt64) throws(LedgerClientError) -> PageAnswer<Item>) throws(LedgerClientError) -> [Item] {
        var items: [Item] = []
        var cursor: UInt64 = 0
        for _ in 0..<Self.maxPages {
            let answer = try read(cursor)
            items += answer.items
            guard let next = answer.next else { return items }
            cursor = next
        }
        throw .badAnswer("more than \(Self.maxPages) pages; read them page by page instead")
    }
}
