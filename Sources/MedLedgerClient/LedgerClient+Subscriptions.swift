import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire
import Synchronization

/// A live subscription to a patient's audit events (Protocol/CLIENT.md section 4).
///
/// Events arrive in sequence order with no gaps: first every committed event from the sequence
/// asked for, then each new one as its block commits. The stream ends with an error when the
/// connection ends (``ClientError/connectionLost(endpoint:reason:)``) or the node sends something
/// that breaks the order (``ClientError/badAnswer(_:)``); subscribe again from
/// ``lastSequence`` + 1 to carry on without a gap. ``cancel()`` (or dropping the stream) ends it.
public final class AuditSubscription: Sendable {
    /// The patient's audit events.
    public let events: AsyncThrowingStream<AuditEventNotice, any Error>
    /// The height the subscription was answered at.
    public let height: UInt64
    /// The sequence the patient's next audit event will have, when the subscription was answered.
    public let nextSequence: UInt64
    let client: LedgerClient
    let endpoint: Int
    let id: UInt64
    let signer: Ed25519.PrivateKey
    let feed: SubscriptionFeed

    struct Progress {
        /// The sequence the next event must have.
        var expected: UInt64
        var ended = false
    }

    init(
        events: AsyncThrowingStream<AuditEventNotice, any Error>, feed: SubscriptionFeed, answer: SubscribeAnswer,
        client: LedgerClient, endpoint: Int, id: UInt64, signer: Ed25519.PrivateKey
    ) {
        self.events = events
        self.feed = feed
        height = answer.height
        nextSequence = answer.nextSequence
        self.client = client
        self.endpoint = endpoint
        self.id = id
        self.signer = signer
    }

    /// The sequence of the last event delivered, nil before the first.
    public var lastSequence: UInt64? {
        let expected = feed.progress.withLock { $0.expected }
        return expected == 0 ? nil : expected - 1
    }

    /// Ends the subscription: `unsubscribe` on its connection, and the stream finishes.
    public func cancel() {
        let first = feed.progress.withLock { state -> Bool in
            defer { state.ended = true }
            return !state.ended
        }
        client.links[endpoint].removeSubscription(id)
        feed.continuation.finish()
        guard first else { return }
        _ = try? client.call(
            .unsubscribe, body: UnsubscribeRequest(subscriptionID: id).canonicalBytes, signer: signer, route: .endpoint(endpoint))
    }
}

/// The shared state of a subscription being set up: its stream and what it expects next.
final class SubscriptionFeed: Sendable {
    let progress: Mutex<AuditSubscription.Progress>
    let continuation: AsyncThrowingStream<AuditEventNotice, any Error>.Continuation
    let patient: Bytes32

    init(patient: Bytes32, from sequence: UInt64, continuation: AsyncThrowingStream<AuditEventNotice, any Error>.Continuation) {
        self.patient = patient
        self.continuation = continuation
        progress = Mutex(.init(expected: sequence))
    }

    /// Checks an event (strict decoding, the patient, the next sequence) and delivers it.
    func deliver(_ event: ClientEvent) {
        let notice: AuditEventNotice
        do throws(LedgerClientError) {
            guard event.kind == ClientEventKind.auditEvent.rawValue else {
                throw .badAnswer("an event of unknown kind \(event.kind)")
            }
            do {
                notice = try AuditEventNotice(canonicalBytes: event.body)
            } catch {
                throw .badAnswer("an audit event does not decode: \(error)")
            }
            guard notice.patient == patient else { throw .badAnswer("an event of another patient, \(notice.patient.hex)") }
            let ok = progress.withLock { state -> Bool in
                guard !state.ended, notice.event.sequence == state.expected else { return false }
                state.expected += 1
                return true
            }
            guard ok else {
                if progress.withLock({ $0.ended }) { return }
                throw .badAnswer(
                    "event \(notice.event.sequence) arrived where \(progress.withLock { $0.expected }) was due (a gap or repeat)")
            }
        } catch {
            end(error)
            return
        }
        continuation.yield(notice)
    }

    func end(_ error: LedgerClientError) {
        let first = progress.withLock { state -> Bool in
            defer { state.ended = true }
            return !state.ended
        }
        if first { continuation.finish(throwing: error) }
    }
}

extension LedgerClient {
    /// Subscribes to `patient`'s audit events from `sequence` on (`subscribe`; the patient and its
    /// delegates may). Break-glass events are how a patient hears of an emergency read as it happens.
    ///
    /// - Parameters:
    ///   - sequence: 0 for the whole trail, or one past the last event already seen.
    ///   - signer: the patient's key or a delegate's.
    /// - Returns: the subscription; read ``AuditSubscription/events``.
    public func subscribe(patient: Bytes32, from sequence: UInt64 = 0, as signer: Ed25519.PrivateKey) throws(LedgerClientError)
        -> AuditSubscription
    {
        let (events, continuation) = AsyncThrowingStream.makeStream(of: AuditEventNotice.self, throwing: (any Error).self)
        let feed = SubscriptionFeed(patient: patient, from: sequence, continuation: continuation)
        let exchange = try self.exchange(
            .subscribe, body: SubscribeRequest(patient: patient, fromSequence: sequence).canonicalBytes, signer: signer,
            subscription: { _ in SubscriptionSink(event: { feed.deliver($0) }, end: { feed.end($0) }) })
        let answer: SubscribeAnswer
        do throws(LedgerClientError) {
            answer = try decode(SubscribeAnswer.self, exchange.response, .subscribe)
        } catch {
            links[exchange.endpoint].removeSubscription(exchange.requestID)
            throw error
        }
        let subscription = AuditSubscription(
            events: events, feed: feed, answer: answer, client: self, endpoint: exchange.endpoint,
            id: exchange.requestID, signer: signer)
        continuation.onTermination = { [weak subscription] termination in
            if case .cancelled = termination { subscription?.cancel() }
        }
        return subscription
    }

    /// Subscribes and calls `handler` with each event in order (from a task of its own), then with
    /// the error that ends the subscription, if one does (nothing more after ``AuditSubscription/cancel()``).
    public func subscribe(
        patient: Bytes32, from sequence: UInt64 = 0, as signer: Ed25519.PrivateKey,
        handler: @escaping @Sendable (Result<AuditEventNotice, LedgerClientError>) -> Void
    ) throws(LedgerClientError) -> AuditSubscription {
        let subscription = try subscribe(patient: patient, from: sequence, as: signer)
        Task.detached {
            do {
                for try await notice in subscription.events { handler(.success(notice)) }
            } catch let error as LedgerClientError {
                handler(.failure(error))
            } catch {
                handler(.failure(.badAnswer("\(error)")))
            }
        }
        return subscription
    }
}
