import Dispatch
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire
import Synchronization

/// A live subscription to a patient's audit events (Protocol/CLIENT.md section 4).
///
/// Events arrive in sequence order with no gaps: first every committed event from the sequence
/// asked for, then each new one as its block commits. When the connection ends, a subscription
/// made with `resume: true` subscribes again by itself, on the next endpoint that answers, from
/// the sequence after the last event delivered (so nothing is lost or repeated); otherwise, or
/// when no endpoint takes it back, the stream ends with the error
/// (``LedgerClientError/connectionLost(endpoint:reason:)``, ``LedgerClientError/unreachable(_:)``).
/// An event that breaks the order ends it with ``LedgerClientError/badAnswer(_:)``.
/// ``cancel()`` (or dropping the stream) ends it.
public final class AuditSubscription: Sendable {
    /// The patient's audit events.
    public let events: AsyncThrowingStream<AuditEventNotice, any Error>
    /// The height the subscription was first answered at.
    public let height: UInt64
    /// The sequence the patient's next audit event had when the subscription was first answered.
    public let nextSequence: UInt64
    let client: LedgerClient
    let signer: Ed25519.PrivateKey
    let feed: SubscriptionFeed
    /// Where the subscription lives now: the endpoint and the subscribing request's id.
    let place: Mutex<(endpoint: Int, id: UInt64)>

    init(
        events: AsyncThrowingStream<AuditEventNotice, any Error>, feed: SubscriptionFeed, answer: SubscribeAnswer,
        client: LedgerClient, endpoint: Int, id: UInt64, signer: Ed25519.PrivateKey
    ) {
        self.events = events
        self.feed = feed
        height = answer.height
        nextSequence = answer.nextSequence
        self.client = client
        place = Mutex((endpoint, id))
        self.signer = signer
    }

    /// The sequence of the last event delivered, nil before the first.
    public var lastSequence: UInt64? {
        let expected = feed.progress.withLock { $0.expected }
        return expected == 0 ? nil : expected - 1
    }

    /// How many times the subscription was taken back after its connection ended.
    public var resumptions: Int { feed.progress.withLock { $0.resumptions } }

    /// The id of the subscribing request on its connection now (the `subscription_id` of its events).
    var id: UInt64 { place.withLock { $0.id } }

    /// Ends the subscription: `unsubscribe` on its connection, and the stream finishes.
    public func cancel() {
        let first = feed.progress.withLock { state -> Bool in
            defer { state.ended = true }
            return !state.ended
        }
        let (endpoint, id) = place.withLock { $0 }
        client.links[endpoint].removeSubscription(id)
        feed.continuation.finish()
        guard first else { return }
        _ = try? client.call(
            .unsubscribe, body: UnsubscribeRequest(subscriptionID: id).canonicalBytes, signer: signer, route: .endpoint(endpoint))
    }

    /// Subscribes again from the next sequence due, trying every endpoint, a few times with a
    /// growing pause; finishes the stream if none takes it.
    func resume(after error: LedgerClientError) {
        DispatchQueue.global().async { [self] in
            var last = error
            var pause = Duration.milliseconds(200)
            for _ in 0..<5 {
                if feed.progress.withLock({ $0.ended }) { return }
                let from = feed.progress.withLock { $0.expected }
                do throws(LedgerClientError) {
                    let exchange = try client.openSubscription(feed: feed, from: from, signer: signer)
                    _ = try client.decode(SubscribeAnswer.self, exchange.response, .subscribe)
                    place.withLock { $0 = (exchange.endpoint, exchange.requestID) }
                    feed.progress.withLock { $0.resumptions += 1 }
                    return
                } catch {
                    last = error
                }
                usleepDuration(pause)
                pause *= 2
            }
            feed.finish(last)
        }
    }
}

/// The shared state of a subscription: its stream and what it expects next.
final class SubscriptionFeed: Sendable {
    struct Progress {
        /// The sequence the next event must have.
        var expected: UInt64
        var ended = false
        var resumptions = 0
    }

    let progress: Mutex<Progress>
    let continuation: AsyncThrowingStream<AuditEventNotice, any Error>.Continuation
    let patient: Bytes32
    /// Called when the connection ends, instead of finishing the stream (set for resumable subscriptions).
    let onLost = Mutex<(@Sendable (LedgerClientError) -> Void)?>(nil)

    init(patient: Bytes32, from sequence: UInt64, continuation: AsyncThrowingStream<AuditEventNotice, any Error>.Continuation) {
        self.patient = patient
        self.continuation = continuation
        progress = Mutex(Progress(expected: sequence))
    }

    /// The sink for one subscribing request's connection (which keeps the feed while it lasts).
    var sink: SubscriptionSink {
        SubscriptionSink(event: { self.deliver($0) }, end: { self.end($0) })
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
            let (ok, ended, expected) = progress.withLock { state -> (Bool, Bool, UInt64) in
                guard !state.ended, notice.event.sequence == state.expected else { return (false, state.ended, state.expected) }
                state.expected += 1
                return (true, false, state.expected)
            }
            guard ok else {
                if ended { return }
                throw .badAnswer("event \(notice.event.sequence) arrived where \(expected) was due (a gap or repeat)")
            }
        } catch {
            finish(error)
            return
        }
        continuation.yield(notice)
    }

    /// The connection ended (or the node refused the subscription on it).
    func end(_ error: LedgerClientError) {
        if case .connectionLost = error, let resume = onLost.withLock({ $0 }), !progress.withLock({ $0.ended }) {
            resume(error)
            return
        }
        finish(error)
    }

    /// Finishes the stream with `error`, once.
    func finish(_ error: LedgerClientError) {
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
    ///   - resume: when the connection ends, subscribe again on the next endpoint that answers,
    ///     from the next sequence due, instead of ending the stream.
    /// - Returns: the subscription; read ``AuditSubscription/events``.
    public func subscribe(patient: Bytes32, from sequence: UInt64 = 0, as signer: Ed25519.PrivateKey, resume: Bool = false)
        throws(LedgerClientError) -> AuditSubscription
    {
        let (events, continuation) = AsyncThrowingStream.makeStream(of: AuditEventNotice.self, throwing: (any Error).self)
        let feed = SubscriptionFeed(patient: patient, from: sequence, continuation: continuation)
        let exchange = try openSubscription(feed: feed, from: sequence, signer: signer)
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
        if resume {
            feed.onLost.withLock { $0 = { [weak subscription] error in subscription?.resume(after: error) } }
        }
        // The stream keeps its subscription alive until it ends (the handler is released then):
        // an app may hold the events alone.
        continuation.onTermination = { termination in
            if case .cancelled = termination { subscription.cancel() }
        }
        return subscription
    }

    /// Sends `subscribe` with the feed's sink registered on the connection first.
    func openSubscription(feed: SubscriptionFeed, from sequence: UInt64, signer: Ed25519.PrivateKey) throws(LedgerClientError)
        -> Exchange
    {
        try exchange(
            .subscribe, body: SubscribeRequest(patient: feed.patient, fromSequence: sequence).canonicalBytes, signer: signer,
            subscription: { _ in feed.sink })
    }

    /// Subscribes and calls `handler` with each event in order (from a task of its own), then with
    /// the error that ends the subscription, if one does (nothing more after ``AuditSubscription/cancel()``).
    public func subscribe(
        patient: Bytes32, from sequence: UInt64 = 0, as signer: Ed25519.PrivateKey, resume: Bool = false,
        handler: @escaping @Sendable (Result<AuditEventNotice, LedgerClientError>) -> Void
    ) throws(LedgerClientError) -> AuditSubscription {
        let subscription = try subscribe(patient: patient, from: sequence, as: signer, resume: resume)
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
