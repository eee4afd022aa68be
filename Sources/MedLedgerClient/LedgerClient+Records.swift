import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// A record to add: its contents (never sent in the clear) and what its anchor says.
public struct NewRecord: Sendable {
    public var contents: [UInt8]
    /// The patient's id.
    public var patient: Bytes32
    /// The patient's X25519 key (the patient gives it, with its id, when registering or at the visit).
    public var patientEncryptionKey: Bytes32
    /// The facility that holds the ciphertext: the author's facility (its organisation key).
    public var custodian: Bytes32
    /// For example `dental`, `laboratory`, `imaging` (at most 64 bytes).
    public var category: String
    /// A FHIR resource type, for example `DiagnosticReport` (at most 64 bytes).
    public var resourceType: String
    /// When the care event happened, ms since the epoch.
    public var created: UInt64
    /// The consent (granting write) or break-glass entry the author relies on.
    public var authority: Authority

    /// A record to add; see the properties.
    public init(
        contents: [UInt8], patient: Bytes32, patientEncryptionKey: Bytes32, custodian: Bytes32, category: String,
        resourceType: String, created: UInt64, authority: Authority
    ) {
        self.contents = contents
        self.patient = patient
        self.patientEncryptionKey = patientEncryptionKey
        self.custodian = custodian
        self.category = category
        self.resourceType = resourceType
        self.created = created
        self.authority = authority
    }
}

/// A record added and anchored.
public struct AddedRecord: Sendable, Hashable {
    /// The record id (random, chosen by the client).
    public var record: Bytes32
    /// The committed `add_record` transaction.
    public var transaction: Transaction
    /// The height that committed it.
    public var height: UInt64
    /// SHA-256 of the ciphertext, as anchored.
    public var ciphertextHash: Bytes32
    /// The size bucket the contents were padded to.
    public var paddedSize: UInt64
}

/// A record read and decrypted.
public struct FetchedRecord: Sendable {
    /// The plaintext contents: handle with care, never log them.
    public var contents: [UInt8]
    /// The record's proven anchor; nil for a break-glass read, whose reader may not see anchors
    /// (the ciphertext is then authenticated by its decryption under the granted key alone).
    public var anchor: RecordAnchor?
    /// The access entry the read is recorded under (nil for the patient's own read).
    public var access: Bytes32?
    /// The height that committed the access entry (or the proof's height for the patient's read).
    public var height: UInt64
}

extension LedgerClient {
    /// The largest record contents a client can add: the ciphertext (padded contents and a
    /// 16-byte tag) must fit the 64 MiB of Protocol/CLIENT.md section 7.
    public static let maxRecordContents: Int = {
        var size = ClientLimits.recordCiphertext - 16 - 4
        while RecordSizes.bucket(for: UInt64(size + 4)) + 16 > UInt64(ClientLimits.recordCiphertext) { size -= 1 << 20 }
        return Int(RecordSizes.bucket(for: UInt64(size + 4))) - 4
    }()

    // MARK: Adding

    /// Encrypts a record, stores its ciphertext at the custodian's node, anchors it with
    /// `add_record` signed by `author`, and waits for the commit (LEDGER.md section 7, CLIENT.md
    /// section 5.2).
    ///
    /// The contents are padded to a size bucket and sealed under a fresh data key, which is
    /// wrapped for the patient and the custodian; the plaintext and the data key never leave the
    /// process. The custodian's node must be among the endpoints (found by its status' facility).
    ///
    /// - Throws: ``ClientError/invalidArgument(_:)`` for a record too large, an unknown custodian
    ///   or no endpoint serving it; ``ClientError/rejected(code:name:reason:)`` when the ledger
    ///   refuses the anchor (no consent granting write, …).
    public func addRecord(_ new: NewRecord, author: Ed25519.PrivateKey) throws(LedgerClientError) -> AddedRecord {
        guard new.contents.count <= Self.maxRecordContents else {
            throw .invalidArgument(
                "the record is \(new.contents.count) bytes; at most \(Self.maxRecordContents) bytes fit the 64 MiB ciphertext limit. "
                    + "Split it into several records")
        }
        for (name, value) in [("category", new.category), ("resource type", new.resourceType)] where value.utf8.count > 64 {
            throw .invalidArgument("the \(name) is \(value.utf8.count) bytes; at most 64")
        }
        guard let custodian = configuration.genesis.facilities.first(where: { $0.organisationKey == new.custodian }) else {
            throw .invalidArgument(
                "\(new.custodian.hex) is not a facility of this chain; the custodian is a facility's organisation key "
                    + "(organisation_key in its facility.json)")
        }
        let endpoint = try self.endpoint(servingFacility: new.custodian)
        let record = Bytes32(secureRandomBytes(32))!
        let sealed: RecordCrypto.Sealed
        let keyForPatient: WrappedKey
        let keyForCustodian: WrappedKey
        do {
            sealed = try RecordCrypto.encrypt(new.contents, record: record)
            keyForPatient = try RecordCrypto.wrap(sealed.dataKey, for: new.patientEncryptionKey, record: record)
            keyForCustodian = try RecordCrypto.wrap(sealed.dataKey, for: custodian.recordKey, record: record)
        } catch {
            throw .invalidArgument("the record cannot be encrypted: \(error) (is the patient's record key a valid X25519 key?)")
        }
        try store(sealed.ciphertext, record: record, expectedHash: sealed.ciphertextHash, at: endpoint, author: author)
        let body = AddRecord(
            record: record, patient: new.patient, custodian: new.custodian, category: new.category,
            resourceType: new.resourceType, ciphertextHash: sealed.ciphertextHash, paddedSize: sealed.paddedSize,
            created: new.created, keyForPatient: keyForPatient, keyForCustodian: keyForCustodian, authority: new.authority)
        let (transaction, height) = try submitAndWait(.addRecord(body), signedBy: author)
        return AddedRecord(
            record: record, transaction: transaction, height: height, ciphertextHash: sealed.ciphertextHash,
            paddedSize: sealed.paddedSize)
    }

    /// Sends a ciphertext to one node in order, 1 MiB at a time (`store_record`), and checks that
    /// the node got exactly these bytes.
    func store(_ ciphertext: [UInt8], record: Bytes32, expectedHash: Bytes32, at endpoint: Int, author: Ed25519.PrivateKey)
        throws(LedgerClientError)
    {
        let total = UInt64(ciphertext.count)
        var offset = 0
        repeat {
            let end = min(ciphertext.count, offset + ClientLimits.chunk)
            let chunk = RecordChunkUpload(record: record, offset: UInt64(offset), total: total, chunk: Array(ciphertext[offset..<end]))
            let (response, _) = try call(.storeRecord, body: chunk.canonicalBytes, signer: author, route: .endpoint(endpoint))
            let answer = try decode(StoreAnswer.self, response, .storeRecord)
            guard answer.received == UInt64(end) else {
                throw .badAnswer("the node says it received \(answer.received) bytes of the record, not \(end)")
            }
            offset = end
            if offset == ciphertext.count {
                guard answer.ciphertextHash == expectedHash else {
                    throw .recordCorrupt("the custodian's node stored a ciphertext with another hash than the one sent")
                }
            }
        } while offset < ciphertext.count
    }

    // MARK: Reading

    /// Reads another party's record under a consent or break-glass entry (CLIENT.md section 5.3):
    /// signs a FetchRequest, has the custodian's node commit the access entry, opens the data key
    /// wrapped for `requester`, fetches the ciphertext from any holder, checks it against the
    /// anchor and decrypts it.
    ///
    /// - Parameters:
    ///   - authority: the consent or break-glass entry relied on; nil asks `may_read` which
    ///     consent allows it.
    ///   - requester: its signing key asks, its X25519 key receives the data key.
    ///   - custodianHint: the facility holding the record, for a requester that may not see the
    ///     record's anchor yet (no consent covers it, or its consent was revoked): the request still
    ///     goes to that custodian, which commits its refusal (or its grant) on the chain.
    /// - Throws: ``ClientError/accessRefused(code:name:note:access:)`` when the custodian refused
    ///   (the refusal is on the chain); ``ClientError/recordCorrupt(_:)`` when no holder serves
    ///   bytes matching the anchor.
    public func fetchRecord(
        _ record: Bytes32, purpose: Purpose, authority: Authority? = nil, requester: PartyKeys, custodianHint: Bytes32? = nil
    ) throws(LedgerClientError) -> FetchedRecord {
        guard let encryption = requester.encryption, let encryptionKey = requester.encryptionKey else {
            throw .invalidArgument("reading a record needs the requester's record key (x25519), which receives the data key")
        }
        var anchor: RecordAnchor?
        let header: BlockHeader
        let custodianKey: Bytes32
        anchorLookup: do throws(LedgerClientError) {
            let proven = try self.anchor(of: record, as: requester.signing)
            (anchor, header, custodianKey) = (proven.anchor, proven.header, proven.anchor.entry.custodian)
        } catch .refused(let code, let name, let reason) {
            guard code == LedgerError.Code.notAuthorised.rawValue else { throw .refused(code: code, name: name, reason: reason) }
            if let custodianHint {
                // The custodian named by the caller: proven to be a facility, against a certified
                // header whose hash the request names as recent.
                let (facility, facilityHeader) = try verifiedEntity(Facility.self, key: StateKey.key(.facility, custodianHint), as: requester.signing)
                guard facility != nil else { throw .invalidArgument("custodian \(custodianHint.hex) is not a facility of this chain") }
                (header, custodianKey) = (facilityHeader, custodianHint)
                break anchorLookup
            }
            // A break-glass reader may not see the record's anchor before its read: the custodian is
            // the one its entry names.
            guard case .breakGlass(let id)? = authority else {
                throw .refused(code: code, name: name, reason: reason + " (a reader without a consent covering the record names its custodian: custodianHint)")
            }
            let (entry, entryHeader) = try verifiedEntity(BreakGlassRecord.self, key: StateKey.key(.breakGlass, id), as: requester.signing)
            guard let entry, entry.practitioner == requester.id else {
                throw .invalidArgument("break-glass entry \(id.hex) is not one the requester opened; name your own entry")
            }
            (header, custodianKey) = (entryHeader, entry.entry.custodian)
        }
        let relied: Authority
        if let authority {
            relied = authority
        } else {
            relied = try resolveAuthority(record: record, purpose: purpose, requester: requester)
        }
        let custodian = try endpoint(servingFacility: custodianKey)
        var request = FetchRequest(
            record: record, custodian: custodianKey, requester: requester.id, purpose: purpose,
            authority: relied, nonce: Bytes32(secureRandomBytes(32))!, recentBlockHash: header.hash,
            encryptionKey: encryptionKey, signature: Bytes64(repeating: 0))
        request.signature = Bytes64(requester.signing.signature(for: .fetchRequest, chainID: chainID, message: request.signedBytes).bytes)!

        var answer: FetchAnswer?
        for attempt in 0..<3 {
            do throws(LedgerClientError) {
                let (response, _) = try call(
                    .fetchRecord, body: request.canonicalBytes, signer: requester.signing, route: .endpoint(custodian),
                    timeout: configuration.fetchTimeout)
                answer = try decode(FetchAnswer.self, response, .fetchRecord)
                break
            } catch .refused(let code, let name, let reason) where code == LedgerError.Code.timeout.rawValue && attempt < 2 {
                logger.debug("fetch_record timed out at the node; sending it again", metadata: ["reason": "\(name): \(reason)"])
            }
        }
        guard let answer else { throw .timeout(what: "the access entry did not commit", after: configuration.fetchTimeout) }
        guard answer.access == LedgerState.accessID(request) else {
            throw .badAnswer("the custodian answered with access \(answer.access.hex), not this request's \(LedgerState.accessID(request).hex)")
        }
        let wrapped: WrappedKey
        switch answer.outcome {
        case .refused(let code, let note):
            throw .accessRefused(code: code, name: LedgerClientError.codeName(code), note: note, access: answer.access.hex)
        case .granted(let key):
            wrapped = key
        }
        // The grant must be on the chain, exactly as answered: no entry, no read.
        let (committed, _) = try verifiedEntity(AccessRecord.self, key: StateKey.key(.access, answer.access), as: requester.signing)
        guard let committed, committed.entry.request == request, committed.entry.outcome == .granted(wrapped) else {
            throw .proofInvalid("the custodian's access entry \(answer.access.hex) is not committed as it answered")
        }
        let dataKey: SecureBytes
        do {
            dataKey = try RecordCrypto.unwrap(wrapped, with: encryption, record: record)
        } catch {
            throw .recordCorrupt("the data key the custodian wrapped does not open with the requester's record key")
        }
        if anchor == nil {
            anchor = try? self.anchor(of: record, as: requester.signing).anchor
        }
        let ciphertext = try fetchCiphertext(
            record: record, access: answer.access, expectedHash: anchor?.entry.ciphertextHash, first: custodian,
            signer: requester.signing)
        let contents = try decrypt(ciphertext, dataKey: dataKey, record: record)
        return FetchedRecord(contents: contents, anchor: anchor, access: answer.access, height: committed.height)
    }

    /// Reads one of the patient's own records: the data key wrapped for the patient is in the
    /// anchor, so no access entry is needed (`get_record` without access). A delegate cannot use
    /// this (it does not hold the patient's record key); it reads with ``fetchRecord(_:purpose:authority:requester:)``.
    public func readOwnRecord(_ record: Bytes32, patient: PartyKeys) throws(LedgerClientError) -> FetchedRecord {
        guard let encryption = patient.encryption else {
            throw .invalidArgument("reading your own record needs your record key (x25519)")
        }
        let (anchor, header) = try self.anchor(of: record, as: patient.signing)
        if anchor.erasedAtHeight != nil {
            throw .refused(
                code: LedgerError.Code.recordErased.rawValue, name: LedgerError.Code.recordErased.name,
                reason: "record \(record.hex) was erased")
        }
        let dataKey: SecureBytes
        do {
            dataKey = try RecordCrypto.unwrap(anchor.entry.keyForPatient, with: encryption, record: record)
        } catch {
            throw .invalidArgument(
                "the record's key does not open with this record key: use the patient's own record key (the one it registered with)")
        }
        let first = (try? endpoint(servingFacility: anchor.entry.custodian)) ?? state.withLock { $0.preferred }
        let ciphertext = try fetchCiphertext(
            record: record, access: nil, expectedHash: anchor.entry.ciphertextHash, first: first, signer: patient.signing)
        let contents = try decrypt(ciphertext, dataKey: dataKey, record: record)
        return FetchedRecord(contents: contents, anchor: anchor, access: nil, height: header.height)
    }

    func resolveAuthority(record: Bytes32, purpose: Purpose, requester: PartyKeys) throws(LedgerClientError) -> Authority {
        let answer = try mayRead(requester: requester.id, record: record, purpose: purpose, as: requester.signing)
        guard answer.allowed else {
            throw .refused(
                code: answer.code, name: LedgerClientError.codeName(answer.code),
                reason: "no consent in force lets \(requester.id.hex) read record \(record.hex) for \(purpose.name)")
        }
        guard let consent = answer.consent else {
            throw .invalidArgument("the requester is the patient or a delegate: read with readOwnRecord, or name the authority")
        }
        return .consent(consent)
    }

    func decrypt(_ ciphertext: [UInt8], dataKey: SecureBytes, record: Bytes32) throws(LedgerClientError) -> [UInt8] {
        do {
            return try RecordCrypto.decrypt(ciphertext, dataKey: dataKey, record: record)
        } catch {
            throw .recordCorrupt("the ciphertext does not decrypt with the record's key (\(error))")
        }
    }

    /// Reads a ciphertext from the first holder that has it (`get_record`), starting at endpoint
    /// `first` and going on to the others on `not_held`, an unreachable node, or bytes that do not
    /// match `expectedHash`.
    func fetchCiphertext(record: Bytes32, access: Bytes32?, expectedHash: Bytes32?, first: Int, signer: Ed25519.PrivateKey)
        throws(LedgerClientError) -> [UInt8]
    {
        var problems: [LedgerClientError.EndpointFailure] = []
        var corrupt = false
        for index in (0..<links.count).map({ (first + $0) % links.count }) {
            let name = links[index].endpoint.shortDescription
            do throws(LedgerClientError) {
                let (ciphertext, claimed) = try readCiphertext(record: record, access: access, at: index, signer: signer)
                guard Bytes32(SHA256.hash(ciphertext).bytes)! == (expectedHash ?? claimed) else {
                    corrupt = true
                    problems.append(.init(endpoint: name, reason: "served bytes whose SHA-256 is not the anchor's ciphertext_hash"))
                    continue
                }
                return ciphertext
            } catch .refused(let code, _, _) where code == LedgerError.Code.notHeld.rawValue {
                problems.append(.init(endpoint: name, reason: "does not hold the record (not_held)"))
            } catch .unreachable(let failures) {
                problems += failures
            } catch .connectionLost(let endpoint, let reason) {
                problems.append(.init(endpoint: endpoint, reason: reason))
            } catch .badAnswer(let detail) {
                problems.append(.init(endpoint: name, reason: detail))
            }
        }
        if corrupt {
            throw .recordCorrupt(
                "no holder served the ciphertext the anchor commits to: "
                    + problems.map(\.description).joined(separator: "; "))
        }
        if problems.allSatisfy({ $0.reason.hasSuffix("(not_held)") }) {
            throw .invalidArgument(
                "none of the \(links.count) endpoints holds record \(record.hex); add the custodian's node or one of "
                    + "its replicas (--connect, --node)")
        }
        throw .unreachable(problems)
    }

    /// Reads a whole ciphertext from one endpoint, chunk by chunk, bounding its size first.
    func readCiphertext(record: Bytes32, access: Bytes32?, at endpoint: Int, signer: Ed25519.PrivateKey) throws(LedgerClientError)
        -> (ciphertext: [UInt8], claimedHash: Bytes32)
    {
        var ciphertext: [UInt8] = []
        var total: UInt64?
        var claimed = Bytes32.zero
        repeat {
            let body = GetRecordRequest(record: record, access: access, offset: UInt64(ciphertext.count)).canonicalBytes
            let (response, _) = try call(.getRecord, body: body, signer: signer, route: .endpoint(endpoint))
            let chunk = try decode(RecordChunk.self, response, .getRecord)
            guard chunk.offset == UInt64(ciphertext.count) else {
                throw .badAnswer("asked for offset \(ciphertext.count), the node sent offset \(chunk.offset)")
            }
            if let total, total != chunk.total || claimed != chunk.ciphertextHash {
                throw .badAnswer("the ciphertext's total or hash changed between chunks")
            }
            if total == nil {
                guard chunk.total >= 1, chunk.total <= UInt64(ClientLimits.recordCiphertext) else {
                    throw .badAnswer("a ciphertext of \(chunk.total) bytes is outside 1 byte to 64 MiB")
                }
                total = chunk.total
                claimed = chunk.ciphertextHash
                ciphertext.reserveCapacity(Int(chunk.total))
            }
            guard !chunk.chunk.isEmpty || chunk.offset == chunk.total else {
                throw .badAnswer("an empty chunk before the end of the ciphertext")
            }
            ciphertext += chunk.chunk
        } while UInt64(ciphertext.count) < total!
        return (ciphertext, claimed)
    }
}
