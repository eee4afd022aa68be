import Dispatch
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerStore
import MedLedgerWire

// Records on the client port and between peers (Protocol/CLIENT.md section 5): `store_record`,
// `fetch_record`, `get_record`, and the replication of ciphertext to the record's holders
// (RECORD_BLOB, RECORD_BLOB_REQUEST). Everything runs on the node's queue. Nothing here logs a
// key or record contents (only ciphertext ever reaches this node, and data keys only wrapped,
// except for the moment a custodian re-wraps one).

/// The node's client-port and record state beyond the ledger's (owned by its queue).
struct RecordsState {
    /// Subscriptions by connection, then by the subscribing request's id.
    var subscriptions: [ConnectionID: [UInt64: Subscription]] = [:]
    /// Client connections with subscriptions, to send their events on.
    var clientConnections: [ConnectionID: PeerInfo] = [:]
    /// Ciphertext not yet anchored (or not yet checked against its anchor), by record id.
    var pending: [Bytes32: PendingBlob] = [:]
    /// Bytes the pending store has promised (the totals of its entries).
    var pendingBytes = 0
    /// Access entries this node submitted for `fetch_record` and has not seen commit, by access id.
    var fetches: [Bytes32: PendingFetch] = [:]
    /// Ciphertext being sent to peers, a few chunks at a time.
    var pushes: [BlobPush] = []
    var pushScheduled = false
    /// When the next repair round is due (ms), and the record id the last one stopped after.
    var nextRepair: UInt64 = Node.now() + 2_000
    var repairCursor: Bytes32?
    /// The last blob read for `get_record` (a client reads a record in chunks).
    var readCache: (hash: Bytes32, bytes: [UInt8])?
}

/// Ciphertext in the pending store.
struct PendingBlob {
    var total: Int
    var bytes: [UInt8]
    /// Where the last chunk started (a retry of it is accepted again).
    var lastOffset: Int
    /// The practitioner uploading it; nil for a copy from a peer.
    var uploader: Bytes32?
    /// Expiry (ms).
    var expires: UInt64
    var isComplete: Bool { bytes.count == total }
}

/// A fetch request whose access entry is in the mempool.
struct PendingFetch {
    var request: FetchRequest
    var transaction: Bytes32
    var waiters: [(requestID: UInt64, peer: PeerInfo)]
}

/// Ciphertext on its way to one peer.
struct BlobPush {
    var peer: Ed25519.PublicKey
    var record: Bytes32
    var bytes: [UInt8]
    var offset = 0
}

extension Node {
    /// Chunks sent per push per turn of the pacer (4 MiB), so a large record does not fill a
    /// connection's queue.
    static let chunksPerPushTurn = 4
    /// Records asked for per repair round.
    static let repairBatch = 64

    // MARK: Holders

    /// The facilities holding `anchor`'s ciphertext: the custodian and the next `recordReplicas`
    /// facilities in genesis order, wrapping around.
    func holders(of anchor: RecordAnchor) -> [Facility] {
        let facilities = options.genesis.facilities
        guard let start = facilities.firstIndex(where: { $0.organisationKey == anchor.entry.custodian }) else { return [] }
        let count = Swift.min(facilities.count, 1 + options.recordReplicas)
        return (0..<count).map { facilities[(start + $0) % facilities.count] }
    }

    func isHolder(_ anchor: RecordAnchor) -> Bool {
        guard let facility else { return false }
        return holders(of: anchor).contains { $0.organisationKey == facility.organisationKey }
    }

    // MARK: store_record

    func store(_ chunk: RecordChunkUpload, signer: Bytes32) throws(LedgerError) -> StoreAnswer {
        guard let facility else {
            throw LedgerError(.wrongSigner, "this node runs for no facility (its node key is not in the genesis): store records at the custodian's node")
        }
        guard let practitioner = state.practitioner(signer), practitioner.active, practitioner.facility == facility.organisationKey else {
            throw LedgerError(
                .wrongSigner,
                "only an active practitioner registered by this node's facility \(facility.organisationKey.hex) may store records here")
        }
        guard state.record(chunk.record) == nil else {
            throw LedgerError(.duplicate, "record \(chunk.record.hex) is anchored already: choose a new random record id")
        }
        let now = Self.now()
        expirePending(now: now)
        let offset = Int(chunk.offset)
        let total = Int(chunk.total)
        if var entry = records.pending[chunk.record] {
            guard entry.uploader == signer else {
                throw LedgerError(.invalidValue, "another upload of record \(chunk.record.hex) is in progress: choose a new random record id")
            }
            guard entry.total == total else {
                throw LedgerError(.invalidValue, "this upload's total is \(entry.total) bytes, not \(total): send the same total, or a new record id")
            }
            if offset == entry.bytes.count, !entry.isComplete {
                entry.lastOffset = offset
                entry.bytes += chunk.chunk
            } else if offset == entry.lastOffset, offset + chunk.chunk.count == entry.bytes.count {
                // A retry of the last chunk: the same bytes again.
                guard entry.bytes[offset...].elementsEqual(chunk.chunk) else {
                    throw LedgerError(.invalidValue, "the chunk at offset \(offset) differs from the one received before")
                }
            } else {
                throw LedgerError(
                    .invalidValue, "chunks go in order: the next is at offset \(entry.bytes.count), not \(offset)")
            }
            records.pending[chunk.record] = entry
            return answer(for: entry)
        }
        guard offset == 0 else {
            throw LedgerError(.invalidValue, "chunks go in order from offset 0; nothing of record \(chunk.record.hex) is pending here")
        }
        guard records.pendingBytes + total <= ClientLimits.pendingBytes else {
            throw LedgerError(.invalidValue, "the pending store is full (\(records.pendingBytes) of \(ClientLimits.pendingBytes) bytes promised): retry in a few minutes")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        bytes += chunk.chunk
        let entry = PendingBlob(
            total: total, bytes: bytes, lastOffset: 0, uploader: signer, expires: now + UInt64(ClientLimits.pendingSeconds) * 1_000)
        records.pending[chunk.record] = entry
        records.pendingBytes += total
        return answer(for: entry)
    }

    private func answer(for entry: PendingBlob) -> StoreAnswer {
        StoreAnswer(received: UInt64(entry.bytes.count), ciphertextHash: entry.isComplete ? BlobStore.hash(of: entry.bytes) : nil)
    }

    func dropPending(_ record: Bytes32) {
        guard let entry = records.pending.removeValue(forKey: record) else { return }
        records.pendingBytes -= entry.total
    }

    func expirePending(now: UInt64) {
        for (record, entry) in records.pending where entry.expires <= now { dropPending(record) }
    }

    // MARK: fetch_record

    func fetch(_ request: FetchRequest, signer: Bytes32, requestID: UInt64, from peer: PeerInfo) throws(LedgerError) {
        guard request.requester == signer else {
            throw LedgerError(.wrongSigner, "a fetch request is sent by its requester \(request.requester.hex), not by \(signer.hex)")
        }
        guard let facility else {
            throw LedgerError(.wrongSigner, "this node runs for no facility: send the request to the custodian \(request.custodian.hex)'s node")
        }
        guard request.custodian == facility.organisationKey else {
            throw LedgerError(
                .wrongSigner, "this node serves facility \(facility.organisationKey.hex); send the request to the custodian \(request.custodian.hex)'s node")
        }
        guard options.organisationKey != nil, options.recordKey != nil else {
            throw LedgerError(
                .invalidValue, "this node has no organisation key and record key, so it cannot answer fetch requests: ask the facility's operator")
        }
        let id = LedgerState.accessID(request)
        if let access = state.access(id) {
            let answer = FetchAnswer(height: access.height, access: id, outcome: access.entry.outcome)
            return send(.clientResponse(ClientResponse(requestID: requestID, kind: ClientRequestKind.fetchRecord.rawValue, body: answer.canonicalBytes)), on: peer)
        }
        if records.fetches[id] == nil || !mempool.contains(records.fetches[id]!.transaction) {
            let transaction = try submitAccessEntry(for: request)
            records.fetches[id] = PendingFetch(request: request, transaction: transaction, waiters: records.fetches[id]?.waiters ?? [])
        }
        records.fetches[id]!.waiters.append((requestID, peer))
        let connection = peer.connectionID
        queue.asyncAfter(deadline: .now() + .seconds(ClientLimits.fetchWaitSeconds)) { [weak self] in
            guard let self, var fetch = self.records.fetches[id],
                let index = fetch.waiters.firstIndex(where: { $0.requestID == requestID && $0.peer.connectionID == connection })
            else { return }
            fetch.waiters.remove(at: index)
            self.records.fetches[id] = fetch
            self.send(.clientError(ClientError(
                requestID: requestID, code: LedgerError.Code.timeout.rawValue,
                message: "the access entry did not commit within \(ClientLimits.fetchWaitSeconds) s: send the same request again")), on: peer)
        }
    }

    /// Builds the access entry for `request` (granted if the ledger's rules allow it now, else
    /// refused with the rule's code), signs it with the organisation key and admits it to the
    /// mempool. Returns its transaction id.
    func submitAccessEntry(for request: FetchRequest) throws(LedgerError) -> Bytes32 {
        guard let organisation = options.organisationKey, let recordKey = options.recordKey else {
            throw LedgerError(.invalidValue, "this node has no organisation key and record key")
        }
        var refusal: LedgerError?
        if let anchor = state.record(request.record), anchor.entry.custodian == request.custodian {
            let wrapped: WrappedKey?
            do {
                let dataKey = try RecordCrypto.unwrap(anchor.entry.keyForCustodian, with: recordKey, record: request.record)
                wrapped = try RecordCrypto.wrap(dataKey, for: request.encryptionKey, record: request.record)
            } catch {
                // A key this custodian cannot open, or an encryption key that is not an X25519 key.
                wrapped = nil
                refusal = LedgerError(.invalidValue, "the data key could not be wrapped for the request's encryption key")
                logger.warning("fetch_record: wrapping the data key failed", metadata: ["record": "\(request.record.hex)", "error": "\(error)"])
            }
            if let wrapped {
                switch admitAccessEntry(AccessEntry(request: request, outcome: .granted(wrapped)), signedBy: organisation) {
                case .success(let id): return id
                case .failure(let error) where error.code == .busy: throw error
                case .failure(let error): refusal = error
                }
            }
        }
        let code = refusal?.code ?? .unknownRecord
        let note = String((refusal?.reason ?? "no record \(request.record.hex)").utf8.prefix(AccessOutcome.maxNoteLength)) ?? code.name
        switch admitAccessEntry(AccessEntry(request: request, outcome: .refused(code: code.rawValue, note: note)), signedBy: organisation) {
        case .success(let id): return id
        case .failure(let error): throw error
        }
    }

    /// Signs and admits an access entry with a free nonce of the organisation key: above every
    /// committed and pending transaction of that key, and at least the clock in microseconds, so
    /// that an operator's tool using the key at "last committed nonce + 1" (gaps are allowed)
    /// does not collide with an entry still pending.
    private func admitAccessEntry(_ entry: AccessEntry, signedBy key: Ed25519.PrivateKey) -> Result<Bytes32, LedgerError> {
        let nonce = Swift.max((mempool.pending.lastNonce(of: key.publicKey.wire) ?? 0) + 1, Self.now() * 1_000)
        let transaction = Transaction.signed(.accessEntry(entry), by: key, nonce: nonce, chainID: state.chainID)
        switch admit(transaction, from: nil) {
        case .added(let id), .duplicate(let id): return .success(id)
        case .rejected(_, let error): return .failure(error)
        case .full(_, let reason): return .failure(LedgerError(.busy, "\(reason); send the request again in a moment"))
        }
    }

    /// After a commit: answers the fetches whose entries committed, and resubmits those whose
    /// entries left the mempool without committing (the state moved under them).
    func settleFetches() {
        for (id, fetch) in records.fetches {
            if let access = state.access(id) {
                records.fetches[id] = nil
                let body = FetchAnswer(height: access.height, access: id, outcome: access.entry.outcome).canonicalBytes
                for waiter in fetch.waiters {
                    send(.clientResponse(ClientResponse(requestID: waiter.requestID, kind: ClientRequestKind.fetchRecord.rawValue, body: body)), on: waiter.peer)
                }
            } else if !mempool.contains(fetch.transaction) {
                guard !fetch.waiters.isEmpty else {
                    records.fetches[id] = nil
                    continue
                }
                do {
                    records.fetches[id]?.transaction = try submitAccessEntry(for: fetch.request)
                } catch {
                    records.fetches[id] = nil
                    for waiter in fetch.waiters {
                        send(.clientError(ClientError(requestID: waiter.requestID, code: error.code.rawValue, message: String(error.reason.prefix(1_000)))), on: waiter.peer)
                    }
                }
            }
        }
    }

    // MARK: get_record

    func read(_ request: GetRecordRequest, signer: Bytes32) throws(LedgerError) -> RecordChunk {
        guard let anchor = state.record(request.record) else { throw LedgerError(.unknownRecord, "no record \(request.record.hex)") }
        guard anchor.erasedAtHeight == nil else { throw LedgerError(.recordErased, "record \(request.record.hex) was erased") }
        let controller = state.patient(anchor.entry.patient)?.isController(signer) ?? false
        if !controller {
            guard let accessID = request.access else {
                throw LedgerError(.notAuthorised, "only the patient, a delegate, or a requester with a granted access entry (give its id) may read this record")
            }
            guard let access = state.access(accessID), case .granted = access.entry.outcome,
                access.entry.request.record == request.record, access.entry.request.requester == signer
            else {
                throw LedgerError(.notAuthorised, "access \(accessID.hex) is not a committed grant of this record to \(signer.hex): fetch the record first")
            }
        }
        let hash = anchor.entry.ciphertextHash
        let bytes: [UInt8]
        if let cached = records.readCache, cached.hash == hash {
            bytes = cached.bytes
        } else {
            guard blobs.contains(hash) else {
                throw LedgerError(.notHeld, "this node holds no copy of record \(request.record.hex): ask another holder")
            }
            do {
                bytes = try blobs.get(hash)
            } catch {
                logger.error("a held blob cannot be read", metadata: ["record": "\(request.record.hex)", "error": "\(error)"])
                throw LedgerError(.notHeld, "this node's copy of record \(request.record.hex) cannot be read: ask another holder")
            }
            records.readCache = (hash, bytes)
        }
        guard request.offset <= UInt64(bytes.count) else {
            throw LedgerError(.invalidValue, "offset \(request.offset) is past the ciphertext's \(bytes.count) bytes")
        }
        let start = Int(request.offset)
        let end = Swift.min(bytes.count, start + ClientLimits.chunk)
        return RecordChunk(ciphertextHash: hash, total: UInt64(bytes.count), offset: request.offset, chunk: Array(bytes[start..<end]))
    }

    // MARK: Replication

    /// The commit hook: held copies for new anchors (pushed on by the custodian), erasures,
    /// fetches whose entries committed, subscriptions' new events.
    func recordsCommitted(_ block: Block) {
        for transaction in block.transactions {
            guard transaction.txType == TransactionType.addRecord.rawValue || transaction.txType == TransactionType.eraseRecord.rawValue,
                let body = try? TransactionBody.decode(type: transaction.txType, body: transaction.body)
            else { continue }
            switch body {
            case .addRecord(let add):
                guard let anchor = state.record(add.record) else { continue }
                anchored(anchor)
            case .eraseRecord(let erase):
                erased(erase.record)
            default:
                break
            }
        }
        settleFetches()
        pumpSubscriptions()
    }

    /// An anchor committed: its pending ciphertext becomes a held blob if this node is a holder
    /// and the hash matches; the custodian then pushes it to the other holders.
    func anchored(_ anchor: RecordAnchor) {
        let record = anchor.entry.record
        guard let entry = records.pending[record], entry.isComplete else {
            if anchor.entry.custodian == facility?.organisationKey, !blobs.contains(anchor.entry.ciphertextHash) {
                logger.warning("a record of this facility was anchored without its ciphertext stored here", metadata: ["record": "\(record.hex)"])
            }
            return
        }
        dropPending(record)
        guard isHolder(anchor), BlobStore.hash(of: entry.bytes) == anchor.entry.ciphertextHash else {
            logger.notice("pending ciphertext dropped: not a holder, or not the anchored hash", metadata: ["record": "\(record.hex)"])
            return
        }
        keep(entry.bytes, of: anchor)
    }

    /// Writes a verified copy to the blob store; the custodian pushes it to the other holders.
    func keep(_ bytes: [UInt8], of anchor: RecordAnchor) {
        do {
            try blobs.put(bytes)
        } catch {
            logger.error("a record's ciphertext could not be stored", metadata: ["record": "\(anchor.entry.record.hex)", "error": "\(error)"])
            return
        }
        logger.info("record held", metadata: ["record": "\(anchor.entry.record.hex)", "bytes": "\(bytes.count)"])
        guard anchor.entry.custodian == facility?.organisationKey else { return }
        for holder in holders(of: anchor) where holder.organisationKey != facility?.organisationKey {
            guard let key = try? Ed25519.PublicKey(bytes: holder.nodeKey.bytes), peerConnections[key] != nil else { continue }
            push(bytes, of: anchor.entry.record, to: key)
        }
    }

    func erased(_ record: Bytes32) {
        dropPending(record)
        records.pushes.removeAll { $0.record == record }
        guard let anchor = state.record(record) else { return }
        if records.readCache?.hash == anchor.entry.ciphertextHash { records.readCache = nil }
        do {
            try blobs.delete(anchor.entry.ciphertextHash)
        } catch {
            logger.error("an erased record's ciphertext could not be deleted", metadata: ["record": "\(record.hex)", "error": "\(error)"])
        }
    }

    /// Queues ciphertext for a peer; the pacer sends it a few chunks at a time.
    func push(_ bytes: [UInt8], of record: Bytes32, to peer: Ed25519.PublicKey) {
        guard !records.pushes.contains(where: { $0.peer == peer && $0.record == record }) else { return }
        records.pushes.append(BlobPush(peer: peer, record: record, bytes: bytes))
        pacePushes()
    }

    func pacePushes() {
        guard !stopped, !records.pushes.isEmpty else { return }
        if !records.pushScheduled {
            records.pushScheduled = true
            queue.async { [weak self] in self?.sendPushes() }
        }
    }

    func sendPushes() {
        records.pushScheduled = false
        guard !stopped else { return }
        var remaining: [BlobPush] = []
        for var push in records.pushes {
            var sent = 0
            while sent < Self.chunksPerPushTurn, push.offset < push.bytes.count {
                let end = Swift.min(push.bytes.count, push.offset + ClientLimits.chunk)
                let chunk = RecordBlob(
                    record: push.record, offset: UInt64(push.offset), total: UInt64(push.bytes.count), chunk: Array(push.bytes[push.offset..<end]))
                do {
                    try transport.send(.recordBlob(chunk), to: push.peer)
                } catch {
                    logger.debug("a record push stopped", metadata: ["peer": "\(PeerInfo.shortKey(push.peer))", "error": "\(error)"])
                    push.offset = push.bytes.count
                    break
                }
                push.offset = end
                sent += 1
            }
            if push.offset < push.bytes.count { remaining.append(push) }
        }
        records.pushes = remaining
        if !remaining.isEmpty {
            records.pushScheduled = true
            queue.asyncAfter(deadline: .now() + .milliseconds(20)) { [weak self] in self?.sendPushes() }
        }
    }

    /// A chunk from a peer: kept if this node is a holder and the whole matches the anchor (or
    /// pending until the anchor commits).
    func received(_ chunk: RecordBlob, from peer: PeerInfo) {
        guard facility != nil else { return }
        let record = chunk.record
        if let anchor = state.record(record) {
            guard anchor.erasedAtHeight == nil, isHolder(anchor), !blobs.contains(anchor.entry.ciphertextHash) else { return }
        } else {
            // Not anchored here yet: only a facility's node (not an observer) may fill the pending store.
            guard options.genesis.facilities.contains(where: { $0.nodeKey == peer.key.wire }) else { return }
        }
        let now = Self.now()
        expirePending(now: now)
        let total = Int(chunk.total)
        if var entry = records.pending[record] {
            // Two peers may answer one request: take each offset once, from whoever is first.
            guard entry.uploader == nil, entry.total == total, Int(chunk.offset) == entry.bytes.count, !entry.isComplete else { return }
            entry.lastOffset = entry.bytes.count
            entry.bytes += chunk.chunk
            records.pending[record] = entry
        } else {
            guard chunk.offset == 0, records.pendingBytes + total <= ClientLimits.pendingBytes else { return }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(total)
            bytes += chunk.chunk
            records.pending[record] = PendingBlob(
                total: total, bytes: bytes, lastOffset: 0, uploader: nil, expires: now + UInt64(ClientLimits.pendingSeconds) * 1_000)
            records.pendingBytes += total
        }
        // Committed already: check it now; otherwise `anchored` does when the anchor commits.
        if let entry = records.pending[record], entry.isComplete, let anchor = state.record(record) {
            dropPending(record)
            guard BlobStore.hash(of: entry.bytes) == anchor.entry.ciphertextHash else {
                logger.warning("a peer sent ciphertext that does not match the anchor", metadata: ["peer": "\(peer)", "record": "\(record.hex)"])
                return
            }
            keep(entry.bytes, of: anchor)
        }
    }

    /// A peer lacks a record: sent if this node holds it and the peer is one of its holders.
    func serve(_ request: RecordBlobRequest, to peer: PeerInfo) {
        guard let anchor = state.record(request.record), anchor.erasedAtHeight == nil,
            blobs.contains(anchor.entry.ciphertextHash),
            holders(of: anchor).contains(where: { $0.nodeKey == peer.key.wire })
        else { return }
        guard let bytes = try? blobs.get(anchor.entry.ciphertextHash) else { return }
        push(bytes, of: request.record, to: peer.key)
    }

    /// The status tick: expires pending ciphertext, and every `repairInterval` asks the peers for
    /// up to 64 records this node should hold but lacks.
    func recordsTick() {
        let now = Self.now()
        expirePending(now: now)
        guard facility != nil, now >= records.nextRepair, !peerConnections.isEmpty else { return }
        records.nextRepair = now + UInt64(options.repairInterval.components.seconds) * 1_000
            + UInt64(options.repairInterval.components.attoseconds / 1_000_000_000_000_000)
        let missing = state.recordAnchors.filter { anchor in
            anchor.erasedAtHeight == nil && isHolder(anchor) && !blobs.contains(anchor.entry.ciphertextHash)
                && records.pending[anchor.entry.record] == nil
        }.map(\.entry.record).sorted()
        guard !missing.isEmpty else { return }
        let after = records.repairCursor.map { cursor in missing.filter { $0 > cursor } } ?? missing
        let batch = Array((after.isEmpty ? missing : after).prefix(Self.repairBatch))
        records.repairCursor = batch.count < Self.repairBatch ? nil : batch.last
        logger.info("asking peers for records this node should hold", metadata: ["count": "\(batch.count)"])
        for record in batch { _ = try? transport.broadcast(.recordBlobRequest(RecordBlobRequest(record: record))) }
    }
}
