import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerWire

// The client port's request kinds 3 to 12 (Protocol/CLIENT.md section 2): the dispatch, and the
// queries answered from the committed state (3 to 7). Subscriptions are in Node+Subscriptions,
// records in Node+Records. Everything here runs on the node's queue.

extension Node {
    /// The genesis facility whose node key is this node's, after checking that the organisation
    /// and record keys given are that facility's.
    static func checkedFacility(_ options: Options) throws(LedgerError) -> Facility? {
        let nodeKey = options.nodeKey.publicKey.wire
        let facility = options.genesis.facilities.first { $0.nodeKey == nodeKey }
        if let key = options.organisationKey {
            guard let facility, facility.organisationKey == key.publicKey.wire else {
                throw LedgerError(
                    .invalidValue,
                    "the organisation key \(key.publicKey.wire.hex) is not the one the genesis gives this node's facility"
                        + " (node key \(nodeKey.hex)): use the facility's keys/organisation.key")
            }
        }
        if let key = options.recordKey {
            guard let facility, facility.recordKey.bytes == key.publicKey.bytes else {
                throw LedgerError(
                    .invalidValue,
                    "the record key is not the one the genesis gives this node's facility (node key \(nodeKey.hex)):"
                        + " use the facility's keys/record.key")
            }
        }
        guard options.recordReplicas >= 0, options.recordReplicas <= 255 else {
            throw LedgerError(.invalidValue, "record_replicas is 0 to 255, not \(options.recordReplicas)")
        }
        return facility
    }

    /// Why a request's timestamp is not acceptable at `now` (both ms), or nil.
    static func timestampProblem(_ timestamp: UInt64, now: UInt64) -> String? {
        let skew = timestamp > now ? timestamp - now : now - timestamp
        guard skew > ClientLimits.timestampSkewMilliseconds else { return nil }
        return "the request's timestamp \(timestamp) is \(skew / 1_000) s from the node's clock \(now) (at most"
            + " \(ClientLimits.timestampSkewMilliseconds / 1_000) s): check the client's clock and sign the request again"
    }

    /// The answer to `status`.
    var statusAnswer: StatusAnswer {
        StatusAnswer(
            height: state.height, blockHash: lastBlock?.block.header.hash ?? .zero, time: state.lastBlockTime,
            chainID: state.chainID, facility: facility?.organisationKey ?? .zero,
            bestPeerHeight: peerHeights.values.max() ?? 0, peers: UInt32(clamping: peerConnections.count))
    }

    /// Serves kinds 3 to 12 for `signed.signer`, whose signature and timestamp were checked.
    /// Returns the answer body, or nil when the answer is sent later.
    func serve(_ kind: ClientRequestKind, _ signed: SignedRequest, requestID: UInt64, from peer: PeerInfo) throws(LedgerError)
        -> [UInt8]?
    {
        let signer = signed.signer
        switch kind {
        case .submitTransaction, .status:
            preconditionFailure("kinds 1 and 2 are answered by answer(_:from:)")
        case .consentsInForce:
            let page = try decode(PatientPage.self, signed.body, kind)
            let result = try state.consentsInForce(patient: page.patient, requester: signer, cursor: page.cursor, limit: Int(page.limit))
            return PageAnswer(height: state.height, items: result.items, next: result.next).canonicalBytes
        case .mayRead:
            let query = try decode(MayReadQuery.self, signed.body, kind)
            let result = try state.mayRead(requester: query.requester, record: query.record, purpose: query.purpose, asker: signer)
            return MayReadAnswer(
                height: state.height, allowed: result.allowed, consent: result.consent, code: result.reason?.code.rawValue ?? 0
            ).canonicalBytes
        case .timeline:
            let page = try decode(PatientPage.self, signed.body, kind)
            let result = try state.timeline(patient: page.patient, requester: signer, cursor: page.cursor, limit: Int(page.limit))
            return PageAnswer(height: state.height, items: result.items, next: result.next).canonicalBytes
        case .auditTrail:
            let page = try decode(PatientPage.self, signed.body, kind)
            let result = try state.auditTrail(patient: page.patient, requester: signer, cursor: page.cursor, limit: Int(page.limit))
            return PageAnswer(height: state.height, items: result.items, next: result.next).canonicalBytes
        case .stateProof:
            return try stateProof(try decode(StateProofQuery.self, signed.body, kind).key, for: signer).canonicalBytes
        case .subscribe:
            return try subscribe(try decode(SubscribeRequest.self, signed.body, kind), requestID: requestID, signer: signer, on: peer)
        case .unsubscribe:
            try unsubscribe(try decode(UnsubscribeRequest.self, signed.body, kind), on: peer)
            return []
        case .storeRecord:
            return try store(try decode(RecordChunkUpload.self, signed.body, kind), signer: signer).canonicalBytes
        case .fetchRecord:
            try fetch(try decode(FetchRequest.self, signed.body, kind), signer: signer, requestID: requestID, from: peer)
            return nil
        case .getRecord:
            return try read(try decode(GetRecordRequest.self, signed.body, kind), signer: signer).canonicalBytes
        }
    }

    /// Decodes a request body strictly and completely.
    func decode<T: WireDecodable>(_ type: T.Type, _ body: [UInt8], _ kind: ClientRequestKind) throws(LedgerError) -> T {
        do {
            return try T(canonicalBytes: body)
        } catch {
            throw LedgerError(.malformed, "the body of \(kind) does not decode: \(error)", wireError: error)
        }
    }

    // MARK: State proofs (CLIENT.md section 3)

    /// The value under `key` with its proof, the last committed header and its certificate, if
    /// `signer` may see it.
    func stateProof(_ key: [UInt8], for signer: Bytes32) throws(LedgerError) -> StateProofAnswer {
        guard let prefixByte = key.first, let prefix = StateKey.Prefix(rawValue: prefixByte) else {
            throw LedgerError(
                .invalidValue, "a state key starts with a prefix 0x01 to 0x0B (Protocol/LEDGER.md section 5), not \(key.first.map { "0x" + String($0, radix: 16) } ?? "nothing")")
        }
        guard let last = lastBlock else {
            throw LedgerError(.invalidValue, "no block is committed yet, so no certified header exists to prove against: ask again after height 1")
        }
        let (value, proof) = state.proof(for: key)
        guard let value, value.count <= ClientLimits.stateProofValue else {
            guard Self.publicPrefixes.contains(prefix) else {
                throw LedgerError(.notAuthorised, "\(signer.hex) may not ask for this key (Protocol/CLIENT.md section 3)")
            }
            return StateProofAnswer(value: nil, proof: proof, header: last.block.header, certificate: last.commit)
        }
        guard mayProve(prefix, key: key, for: signer) else {
            throw LedgerError(.notAuthorised, "\(signer.hex) may not ask for this key (Protocol/CLIENT.md section 3)")
        }
        return StateProofAnswer(value: value, proof: proof, header: last.block.header, certificate: last.commit)
    }

    static let publicPrefixes: Set<StateKey.Prefix> = [.facility, .practitioner, .organisation, .nonce, .evidence]

    /// Whether `signer` may see the value present under `key` (CLIENT.md section 3).
    func mayProve(_ prefix: StateKey.Prefix, key: [UInt8], for signer: Bytes32) -> Bool {
        if Self.publicPrefixes.contains(prefix) { return true }
        func id(_ at: Int = 1) -> Bytes32? { key.count >= at + 32 ? Bytes32(Array(key[at..<(at + 32)])) : nil }
        func controls(_ patient: Bytes32) -> Bool { state.patient(patient)?.isController(signer) ?? false }
        switch prefix {
        case .patient:
            return id().map(controls) ?? false
        case .consent:
            guard let consent = id().flatMap({ state.consent($0) }) else { return false }
            return controls(consent.grant.patient) || consent.grant.grantee == signer
        case .record:
            guard let anchor = id().flatMap({ state.record($0) }) else { return false }
            if controls(anchor.entry.patient) { return true }
            return Purpose.allCases.contains { purpose in
                (try? state.mayRead(requester: signer, record: anchor.entry.record, purpose: purpose, asker: signer).allowed) == true
            }
        case .access:
            guard let access = id().flatMap({ state.access($0) }), let anchor = state.record(access.entry.request.record) else {
                return false
            }
            return controls(anchor.entry.patient) || access.entry.request.requester == signer
        case .breakGlass:
            guard let entry = id().flatMap({ state.breakGlass($0) }) else { return false }
            return controls(entry.entry.patient) || entry.practitioner == signer
        case .audit:
            return key.count == 41 && id().map(controls) == true
        case .facility, .practitioner, .organisation, .nonce, .evidence:
            return true
        }
    }
}
