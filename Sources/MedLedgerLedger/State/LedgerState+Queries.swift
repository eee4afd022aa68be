import MedLedgerWire

/// One page of a query's answer and where the next page starts.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// The cursor of the next page; nil when this was the last.
    public var next: UInt64?
}

/// The largest page a query returns (frames are bounded).
public let maxPageSize = 100

extension LedgerState {
    private func requireController(_ patientID: Bytes32, _ requester: Bytes32) throws(LedgerError) -> Patient {
        guard let patient = patients[patientID] else { throw LedgerError(.unknownPatient, "no patient \(patientID.hex)") }
        guard patient.isController(requester) else {
            throw LedgerError(.notAuthorised, "only the patient or a delegate may ask this about patient \(patientID.hex)")
        }
        return patient
    }

    private func page<C: RandomAccessCollection>(_ all: C, cursor: UInt64, limit: Int) -> Page<C.Element> where C.Index == Int {
        let size = Swift.max(1, Swift.min(limit, maxPageSize))
        let start = Int(Swift.min(cursor, UInt64(all.count)))
        let end = Swift.min(all.count, start + size)
        return Page(items: Array(all[start..<end]), next: end < all.count ? UInt64(end) : nil)
    }

    /// The patient's consents in force now (at the last block's time), in the order they were granted.
    public func consentsInForce(patient: Bytes32, requester: Bytes32, cursor: UInt64 = 0, limit: Int = maxPageSize) throws(LedgerError)
        -> Page<Consent>
    {
        _ = try requireController(patient, requester)
        let inForce = (consentsByPatient[patient] ?? []).compactMap { consents[$0] }.filter { $0.notInForce(at: lastBlockTime) == nil }
        return page(inForce, cursor: cursor, limit: limit)
    }

    /// Whether `requester` may read `record` for `purpose` now, and under which consent.
    ///
    /// Anyone may ask about itself; the patient and its delegates may ask about anyone.
    public func mayRead(requester: Bytes32, record: Bytes32, purpose: Purpose, asker: Bytes32) throws(LedgerError)
        -> (allowed: Bool, consent: Bytes32?, reason: LedgerError?)
    {
        guard let anchor = records[record] else { throw LedgerError(.unknownRecord, "no record \(record.hex)") }
        let patientID = anchor.entry.patient
        guard asker == requester || (patients[patientID]?.isController(asker) ?? false) else {
            throw LedgerError(.notAuthorised, "only the requester itself or the patient may ask this")
        }
        if anchor.erasedAtHeight != nil { return (false, nil, LedgerError(.recordErased, "record \(record.hex) was erased")) }
        if patients[patientID]?.isController(requester) == true { return (true, nil, nil) }
        let context = BlockContext(height: height, time: lastBlockTime)
        var lastFailure = LedgerError(.noConsent, "no consent of patient \(patientID.hex) covers \(requester.hex)")
        for id in consentsByPatient[patientID] ?? [] {
            guard let consent = consents[id], covers(consent.grant.grantee, requester) else { continue }
            if let failure = authorityFailure(
                requester: requester, patient: patientID, custodian: anchor.entry.custodian, record: record,
                category: anchor.entry.category,
                resourceType: anchor.entry.resourceType, action: .read, purpose: purpose, authority: .consent(id),
                context: context)
            {
                lastFailure = failure
                continue
            }
            return (true, id, nil)
        }
        return (false, nil, lastFailure)
    }

    /// The patient's records across every facility, by care time then id: all of them for the
    /// patient and its delegates, tombstones included; for anyone else, what its consents in force
    /// let it read.
    public func timeline(patient patientID: Bytes32, requester: Bytes32, cursor: UInt64 = 0, limit: Int = maxPageSize) throws(LedgerError)
        -> Page<RecordAnchor>
    {
        guard let patient = patients[patientID] else { throw LedgerError(.unknownPatient, "no patient \(patientID.hex)") }
        var anchors = (recordsByPatient[patientID] ?? []).compactMap { records[$0] }
        if !patient.isController(requester) {
            anchors = anchors.filter { anchor in
                anchor.erasedAtHeight == nil
                    && Purpose.allCases.contains { purpose in
                        (try? mayRead(requester: requester, record: anchor.entry.record, purpose: purpose, asker: requester).allowed) == true
                    }
            }
            guard !anchors.isEmpty || cursor > 0 else {
                throw LedgerError(.notAuthorised, "\(requester.hex) may read none of patient \(patientID.hex)'s records")
            }
        }
        anchors.sort {
            $0.entry.created != $1.entry.created ? $0.entry.created < $1.entry.created : $0.entry.record < $1.entry.record
        }
        return page(anchors, cursor: cursor, limit: limit)
    }

    /// Every event of the patient's audit trail, in order: grants, revocations, records, accesses
    /// and refusals, break-glass, erasures, key and delegate changes.
    public func auditTrail(patient patientID: Bytes32, requester: Bytes32, cursor: UInt64 = 0, limit: Int = maxPageSize) throws(LedgerError)
        -> Page<AuditEvent>
    {
        _ = try requireController(patientID, requester)
        return page(audit[patientID] ?? [], cursor: cursor, limit: limit)
    }
}


extension LedgerState {
    /// The patient's audit events from `sequence` on, at most `limit` of them, in order; empty for
    /// an unknown patient. Not authorised: the caller (a node's subscriptions) checks who asks.
    public func auditEvents(of patient: Bytes32, from sequence: UInt64, limit: Int) -> ArraySlice<AuditEvent> {
        let events = audit[patient] ?? []
        let start = Int(Swift.min(sequence, UInt64(events.count)))
        return ArraySlice(events[start..<Swift.min(events.count, start + Swift.max(0, limit))])
    }

    /// Every record anchor, tombstones included, in no particular order (a node's record
    /// replication looks for the ones it should hold).
    public var recordAnchors: some Collection<RecordAnchor> { records.values }
}
