import Dispatch
import MedLedgerLedger
import MedLedgerNet
import MedLedgerWire

// Subscriptions to a patient's audit events (Protocol/CLIENT.md section 4): per client
// connection, at most 16; the events already committed from `from_sequence` on, then each new one
// when its block commits, in order and without gaps. Runs on the node's queue.

/// One connection's subscription.
struct Subscription: Sendable {
    var patient: Bytes32
    /// Who subscribed: still a controller at each commit, or the subscription ends.
    var signer: Bytes32
    /// The sequence of the next event to send.
    var next: UInt64
}

extension Node {
    /// Events sent to one subscription in one go; the rest follow on the queue's next turn, so a
    /// long replay does not hold up the node.
    static let eventsPerPump = 512

    func subscribe(_ request: SubscribeRequest, requestID: UInt64, signer: Bytes32, on peer: PeerInfo) throws(LedgerError)
        -> [UInt8]
    {
        guard let patient = state.patient(request.patient) else {
            throw LedgerError(.unknownPatient, "no patient \(request.patient.hex)")
        }
        guard patient.isController(signer) else {
            throw LedgerError(.notAuthorised, "only the patient or a delegate may subscribe to patient \(request.patient.hex)'s events")
        }
        let existing = records.subscriptions[peer.connectionID] ?? [:]
        guard existing[requestID] == nil else {
            throw LedgerError(.invalidValue, "this connection already has subscription \(requestID): use another request id")
        }
        guard existing.count < ClientLimits.subscriptionsPerConnection else {
            throw LedgerError(
                .invalidValue,
                "this connection holds \(ClientLimits.subscriptionsPerConnection) subscriptions already: unsubscribe one first")
        }
        records.subscriptions[peer.connectionID, default: [:]][requestID] = Subscription(
            patient: request.patient, signer: signer, next: request.fromSequence)
        records.clientConnections[peer.connectionID] = peer
        // After the answer: the answer is sent before this runs, so the events follow it.
        queue.async { [weak self] in self?.pump(peer.connectionID, requestID) }
        return SubscribeAnswer(height: state.height, nextSequence: patient.auditCount).canonicalBytes
    }

    func unsubscribe(_ request: UnsubscribeRequest, on peer: PeerInfo) throws(LedgerError) {
        guard records.subscriptions[peer.connectionID]?.removeValue(forKey: request.subscriptionID) != nil else {
            throw LedgerError(.invalidValue, "this connection has no subscription \(request.subscriptionID)")
        }
    }

    /// Sends a subscription the committed events it has not had yet.
    func pump(_ connection: ConnectionID, _ id: UInt64) {
        guard !stopped, var subscription = records.subscriptions[connection]?[id],
            let peer = records.clientConnections[connection]
        else { return }
        guard state.patient(subscription.patient)?.isController(subscription.signer) == true else {
            // The subscriber is no longer a delegate (or the key was replaced): it hears no more.
            records.subscriptions[connection]?[id] = nil
            send(.clientError(ClientError(
                requestID: id, code: LedgerError.Code.notAuthorised.rawValue,
                message: "the subscription ended: the subscriber is no longer the patient's key or a delegate")), on: peer)
            return
        }
        let events = state.auditEvents(of: subscription.patient, from: subscription.next, limit: Self.eventsPerPump)
        for event in events {
            let notice = AuditEventNotice(patient: subscription.patient, event: event)
            let message = Message.clientEvent(
                ClientEvent(subscriptionID: id, kind: ClientEventKind.auditEvent.rawValue, body: notice.canonicalBytes))
            do {
                try transport.send(message, on: connection)
            } catch {
                // Rather close than skip an event: the client subscribes again from what it saw.
                logger.notice("a subscriber does not keep up: closing its connection", metadata: ["client": "\(peer)", "error": "\(error)"])
                clientGone(connection)
                transport.close(connection)
                return
            }
            subscription.next = event.sequence + 1
        }
        records.subscriptions[connection]?[id] = subscription
        if events.count == Self.eventsPerPump {
            queue.async { [weak self] in self?.pump(connection, id) }
        }
    }

    /// Sends every subscription its newly committed events.
    func pumpSubscriptions() {
        for (connection, subscriptions) in records.subscriptions {
            for id in subscriptions.keys.sorted() { pump(connection, id) }
        }
    }

    /// A client connection closed: its subscriptions end, its fetch waiters are forgotten.
    func clientGone(_ connection: ConnectionID) {
        records.subscriptions[connection] = nil
        records.clientConnections[connection] = nil
        for id in Array(records.fetches.keys) {
            records.fetches[id]?.waiters.removeAll { $0.peer.connectionID == connection }
        }
    }
}
