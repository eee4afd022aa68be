import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire
import Synchronization
@testable import MedLedgerClient

/// Ciphertexts a fake node holds.
final class BlobShelf: Sendable {
    let blobs = Mutex<[Bytes32: [UInt8]]>([:])
    subscript(record: Bytes32) -> [UInt8]? {
        get { blobs.withLock { $0[record] } }
        set { blobs.withLock { $0[record] = newValue } }
    }
}

/// Answers the client kinds from a ``MiniChain`` the way CLIENT.md says a node does (without
/// its authorisation checks), as the node of facility `member`: a transaction submitted is
/// committed at once in its own block (first answer `in_mempool`, then `committed`).
func ledgerHandler(
    _ chain: MiniChain, member: Int, shelf: BlobShelf = BlobShelf(), chunkSize: Int = 1_000
) -> @Sendable (SignedRequest) -> FakeNode.Reply {
    let facility = chain.facility(member)
    return { request in
        func answer(_ value: some WireCodable) -> FakeNode.Reply { .answer(value.canonicalBytes) }
        func refuse(_ error: Error) -> FakeNode.Reply {
            if let error = error as? LedgerError { return .refuse(error.code, error.reason) }
            return .refuse(.malformed, "\(error)")
        }
        guard let kind = ClientRequestKind(rawValue: request.kind) else { return .refuse(.malformed, "unknown kind") }
        let state = chain.state
        do {
            switch kind {
            case .submitTransaction:
                let transaction = try Transaction(canonicalBytes: request.body)
                if let height = chain.height(of: transaction.id) { return answer(SubmitAnswer.committed(height: height)) }
                do {
                    try chain.commit([transaction])
                    return answer(SubmitAnswer.inMempool)
                } catch let error as LedgerError {
                    return answer(SubmitAnswer.rejected(code: error.code.rawValue, reason: error.reason))
                }
            case .status:
                return .answer(FakeNode.status(facility: facility, height: state.height))
            case .stateProof:
                return answer(chain.proofAnswer(try StateProofQuery(canonicalBytes: request.body).key))
            case .consentsInForce:
                let page = try PatientPage(canonicalBytes: request.body)
                let items = try state.consentsInForce(patient: page.patient, requester: request.signer, cursor: page.cursor, limit: Int(page.limit))
                return answer(PageAnswer(height: state.height, items: items.items, next: items.next))
            case .timeline:
                let page = try PatientPage(canonicalBytes: request.body)
                let items = try state.timeline(patient: page.patient, requester: request.signer, cursor: page.cursor, limit: Int(page.limit))
                return answer(PageAnswer(height: state.height, items: items.items, next: items.next))
            case .auditTrail:
                let page = try PatientPage(canonicalBytes: request.body)
                let items = try state.auditTrail(patient: page.patient, requester: request.signer, cursor: page.cursor, limit: Int(page.limit))
                return answer(PageAnswer(height: state.height, items: items.items, next: items.next))
            case .mayRead:
                let query = try MayReadQuery(canonicalBytes: request.body)
                let result = try state.mayRead(requester: query.requester, record: query.record, purpose: query.purpose, asker: request.signer)
                return answer(
                    MayReadAnswer(height: state.height, allowed: result.allowed, consent: result.consent, code: result.reason?.code.rawValue ?? 0))
            case .storeRecord:
                let chunk = try RecordChunkUpload(canonicalBytes: request.body)
                var held = chunk.offset == 0 ? [] : (shelf[chunk.record] ?? [])
                guard UInt64(held.count) == chunk.offset else { return .refuse(.invalidValue, "chunks out of order") }
                held += chunk.chunk
                shelf[chunk.record] = held
                let done = UInt64(held.count) == chunk.total
                return answer(StoreAnswer(received: UInt64(held.count), ciphertextHash: done ? Bytes32(SHA256.hash(held).bytes)! : nil))
            case .getRecord:
                let get = try GetRecordRequest(canonicalBytes: request.body)
                guard let held = shelf[get.record] else { return .refuse(.notHeld, "this node holds no copy") }
                let start = Int(min(get.offset, UInt64(held.count)))
                let end = min(held.count, start + chunkSize)
                return answer(
                    RecordChunk(ciphertextHash: Bytes32(SHA256.hash(held).bytes)!, total: UInt64(held.count), offset: UInt64(start), chunk: Array(held[start..<end])))
            case .fetchRecord:
                let fetch = try FetchRequest(canonicalBytes: request.body)
                guard fetch.custodian == facility else { return .refuse(.wrongSigner, "this node serves another facility") }
                let id = LedgerState.accessID(fetch)
                if let done = state.access(id) {
                    return answer(FetchAnswer(height: done.height, access: id, outcome: done.entry.outcome))
                }
                guard let anchor = state.record(fetch.record) else { return .refuse(.unknownRecord, "no such record") }
                let outcome: AccessOutcome
                if let failure = state.readFailure(request: fetch, anchor: anchor, context: BlockContext(height: state.height + 1, time: state.lastBlockTime)) {
                    outcome = .refused(code: failure.code.rawValue, note: failure.reason)
                } else {
                    let key = try RecordCrypto.unwrap(anchor.entry.keyForCustodian, with: chain.members[member].record, record: fetch.record)
                    outcome = .granted(try RecordCrypto.wrap(key, for: fetch.encryptionKey, record: fetch.record))
                }
                let organisation = chain.members[member].organisation
                let entry = Transaction.signed(
                    .accessEntry(AccessEntry(request: fetch, outcome: outcome)), by: organisation,
                    nonce: (state.lastNonce(of: facility) ?? 0) + 1, chainID: MiniChain.chainID)
                let height = try chain.commit([entry])
                return answer(FetchAnswer(height: height, access: id, outcome: outcome))
            case .subscribe:
                let subscribe = try SubscribeRequest(canonicalBytes: request.body)
                return answer(SubscribeAnswer(height: state.height, nextSequence: state.patient(subscribe.patient)?.auditCount ?? 0))
            case .unsubscribe:
                return .answer([])
            }
        } catch {
            return refuse(error)
        }
    }
}
