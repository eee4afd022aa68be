#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import Logging
import MedLedgerCrypto
import MedLedgerNet
import MedLedgerWire
import Synchronization

/// What the transport suite moves.
struct TransportOptions: Sendable {
    /// Frames per sample of the small size.
    var smallFrames = 200_000
    /// Frames per sample of 64 KiB.
    var largeFrames = 4_096
    /// Only the transport's own samples, nothing beside them (for `perf record`).
    var transportOnly = false
}

/// Suite 5: MedLedgerNet between two peers on loopback, one way, against the same traffic as
/// plain and sealed frames written by hand on a blocking socket, and a raw blocking-socket pump
/// (the limit).
///
/// Every case moves the same frames: `TRANSACTION` messages sent as `block_sync` (the class a
/// node uses for bulk transfer; transaction gossip is dropped over its 4 MiB budget), their
/// payload 110 bytes (the smallest transaction: an empty body) or 65,536 bytes, compression off
/// (the body is incompressible anyway; the default policy would only add a deflate attempt per
/// frame). MB/s counts payload bytes (10^6 bytes): a sealed frame adds 32 bytes on the wire
/// (16-byte header, 16-byte tag), a plain one 16.
struct TransportSuite {
    let options: MeasureOptions
    let transport: TransportOptions

    struct Size {
        let name: String
        let payload: Int
        let frames: Int
        /// Frames the transport sender queues before it waits for the receiver to catch up on
        /// the previous batch (at most two batches in flight: within the queue's default limits).
        let batch: Int
    }

    func run() throws {
        let sizes = [
            Size(name: "small", payload: 110, frames: transport.smallFrames, batch: 2048),
            Size(name: "64 KiB", payload: 65_536, frames: transport.largeFrames, batch: 64),
        ]
        print(
            """

            5. Transport: two MedLedgerNet transports on 127.0.0.1 (port 0, peer port, sealed), one way; the same \
            frames plain and sealed by hand on a blocking socket (no Dispatch); a raw blocking-socket pump of the \
            same payload volume in writes of one frame each (the limit), and in 256 KiB writes.
            """)
        var summary: [(String, Double, Double)] = []
        for size in sizes {
            let message = Self.message(payload: size.payload)
            precondition(message.encodePayload().count == size.payload, "the message must be \(size.payload) bytes")
            let pair = try TransportPair(batch: size.batch)
            defer { pair.shutdown() }
            let frames = (size.frames + size.batch - 1) / size.batch * size.batch
            if transport.transportOnly {
                let seconds = try (0..<options.repetitions).map { _ in try pair.pump(message, frames: frames) }
                print("  \(size.name): transport alone, best \(Format.grouped(Int(Double(frames) / seconds.min()!))) frames/s")
                continue
            }
            let cases: [(String, () throws -> Double)] = [
                ("MedLedgerNet Transport, sealed", { try pair.pump(message, frames: frames) }),
                ("frames by hand, sealed (codec + AES-GCM + socket)", { Self.framePath(message, frames: frames, sealed: true) }),
                ("frames by hand, plain (codec + socket)", { Self.framePath(message, frames: frames, sealed: false) }),
                ("raw pump, one write per frame", { Self.rawPump(bytes: size.payload, writes: frames) }),
                ("raw pump, 256 KiB writes (256 MiB; the loopback's ceiling)", {
                    Self.rawPump(bytes: 256 * 1024, writes: Self.ceilingWrites)
                }),
            ]
            let samples = try roundRobin(cases.map(\.1))
            // Rates per sample: frames/s for every case (the 256 KiB pump in its own payload volume).
            let volume = Double(frames * size.payload)
            let pumpVolume = Double(Self.ceilingWrites * 256 * 1024)
            var table = Table([
                ("\(size.name) frames (\(size.payload) B payload), \(Format.grouped(frames)) per sample", .left),
                ("frames/s best", .right), ("median", .right), ("MB/s best", .right), ("median", .right),
                ("/ raw pump (paired median)", .right),
            ])
            let raw = samples[3]
            for (index, (name, _)) in cases.enumerated() {
                let seconds = samples[index]
                let bytes = index == 4 ? pumpVolume : volume
                let perFrame = Double(frames)
                let best = seconds.min()!
                let median = Self.median(seconds)
                let ratios = zip(seconds, raw).map { $1 / $0 }
                table.add([
                    name, index == 4 ? "-" : Format.grouped(Int(perFrame / best)),
                    index == 4 ? "-" : Format.grouped(Int(perFrame / median)),
                    Format.rate(bytes / best / 1e6), Format.rate(bytes / median / 1e6),
                    index == 3 ? "1.00x" : index == 4 ? "" : Format.ratio(Self.median(ratios)),
                ])
                if index == 0 { summary.append((size.name, perFrame / best, Self.median(ratios))) }
            }
            print("")
            print(table.render())
            fflush(nil)
        }
        print("")
        print("  (paired: the ratio within each round of samples, then the median over the rounds)")
        for (name, rate, ratio) in summary {
            if name == "small" {
                print(
                    "  target: >= 300,000 sealed small frames/s one way: best \(Format.grouped(Int(rate))) (\(rate >= 300_000 ? "met" : "not met"))")
            } else {
                print(
                    "  target: 64 KiB sealed >= 0.50x the raw pump: paired median \(Format.ratio(ratio)) (\(ratio >= 0.5 ? "met" : "not met"))")
            }
        }
    }

    /// Writes of 256 KiB per sample of the ceiling pump: 256 MiB.
    static let ceilingWrites = 1024

    /// A `TRANSACTION` whose encoded payload is `payload` bytes (at least 110), with an
    /// incompressible body.
    static func message(payload: Int) -> Message {
        precondition(payload >= 110, "the smallest transaction is 110 bytes")
        var generator = SystemRandomNumberGenerator()
        let body = (0..<(payload - 110)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return .transaction(
            Transaction(
                txType: 1, signer: Bytes32(Array(repeating: 1, count: 32))!, nonce: 1, body: body,
                signature: Bytes64(Array(repeating: 9, count: 64))!))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Runs each case (one timed sample in seconds per call) `warmups` times, then `repetitions`
    /// rounds of one sample of each case.
    func roundRobin(_ cases: [() throws -> Double]) throws -> [[Double]] {
        for _ in 0..<max(1, options.warmups) {
            for run in cases { _ = try run() }
        }
        var samples = [[Double]](repeating: [], count: cases.count)
        for _ in 0..<options.repetitions {
            for (index, run) in cases.enumerated() { samples[index].append(try run()) }
        }
        return samples
    }

    // MARK: Frames by hand

    /// Seconds to move `frames` frames of `message` from one thread to another over a fresh
    /// loopback pair: the sender frames (and seals) each message into a buffer written every
    /// 256 KiB, as the transport coalesces; the receiver cuts the stream with `FrameDecoder`,
    /// (opens,) and decodes every message, as the transport does before delivering it.
    static func framePath(_ message: Message, frames: Int, sealed: Bool) -> Double {
        let key = (0..<32).map { UInt8($0) }
        let pair = LoopbackSocketPair()
        defer { pair.close() }
        let done = DispatchSemaphore(value: 0)
        let receiverFD = pair.reader
        DispatchQueue.global().async {
            var decoder = FrameDecoder(mode: .strict)
            var opener: FrameOpener? = sealed ? try! FrameOpener(key: key) : nil
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
            defer { buffer.deallocate() }
            var received = 0
            while received < frames {
                let count = LoopbackSocketPair.readSome(receiverFD, into: buffer)
                precondition(count > 0, "the frame path's stream ended early")
                decoder.append(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                while let frame = try! decoder.next() {
                    if sealed {
                        blackHole(try! frame.decode(opener: &opener).message)
                    } else {
                        blackHole(try! Message.decode(type: frame.header.type, payload: frame.payload))
                    }
                    received += 1
                }
            }
            done.signal()
        }
        var sealer = try! FrameSealer(key: key)
        var batch: [UInt8] = []
        batch.reserveCapacity(512 * 1024)
        let start = now()
        for _ in 0..<frames {
            let frame = sealed ? try! Frame.sealed(message, sealer: &sealer) : Frame.plain(message)
            batch.append(contentsOf: frame.header.bytes)
            batch.append(contentsOf: frame.payload)
            if batch.count >= 256 * 1024 {
                batch.withUnsafeBytes { LoopbackSocketPair.writeAll(pair.writer, $0) }
                batch.removeAll(keepingCapacity: true)
            }
        }
        batch.withUnsafeBytes { LoopbackSocketPair.writeAll(pair.writer, $0) }
        done.wait()
        return seconds(from: start, to: now())
    }

    // MARK: Raw pump

    /// Seconds to move `writes` writes of `bytes` bytes from one thread to another over a fresh
    /// loopback pair, the receiver reading 64 KiB at a time: plain `write`/`read`, nothing else.
    static func rawPump(bytes: Int, writes: Int) -> Double {
        let pair = LoopbackSocketPair()
        defer { pair.close() }
        let total = bytes * writes
        let done = DispatchSemaphore(value: 0)
        let receiverFD = pair.reader
        DispatchQueue.global().async {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
            defer { buffer.deallocate() }
            var received = 0
            while received < total {
                let count = LoopbackSocketPair.readSome(receiverFD, into: buffer)
                precondition(count > 0, "the raw pump's stream ended early")
                received += count
            }
            done.signal()
        }
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 16)
        defer { source.deallocate() }
        source.initializeMemory(as: UInt8.self, repeating: 0x5A)
        let start = now()
        for _ in 0..<writes { LoopbackSocketPair.writeAll(pair.writer, UnsafeRawBufferPointer(source)) }
        done.wait()
        return seconds(from: start, to: now())
    }
}

/// Two transports connected on 127.0.0.1: the sender dials the receiver's peer port (bound on
/// port 0) and sends it frames; the receiver counts the messages delivered.
final class TransportPair: Sendable {
    let sender: Transport
    let receiver: Transport
    let receiverKey: Ed25519.PublicKey
    let batch: Int
    private let received = Atomic<Int>(0)
    private let target = Atomic<Int>(Int.max)
    /// Signalled every `batch` messages delivered.
    private let batchDelivered = DispatchSemaphore(value: 0)
    /// Signalled when `target` messages were delivered.
    private let allDelivered = DispatchSemaphore(value: 0)
    private let connected = DispatchSemaphore(value: 0)
    private let closing = Atomic<Bool>(false)

    init(batch: Int) throws {
        self.batch = batch
        let senderKey = Ed25519.PrivateKey()
        let receiverKey = Ed25519.PrivateKey()
        self.receiverKey = receiverKey.publicKey
        var logger = Logger(label: "medledger-benchmarks.transport")
        logger.logLevel = .error
        func configuration(_ key: Ed25519.PrivateKey, admitting other: Ed25519.PrivateKey) -> TransportConfiguration {
            var configuration = TransportConfiguration(
                chainID: "medledger-benchmarks", nodeKey: key, admittedPeerKeys: [other.publicKey])
            configuration.compression = .never
            return configuration
        }
        // The handlers reach `self` through a box filled once init is done.
        let box = Mutex<TransportPair?>(nil)
        receiver = try Transport(configuration: configuration(receiverKey, admitting: senderKey), logger: logger) {
            event in
            switch event {
            case .message: box.withLock { $0 }?.delivered()
            case .connected: box.withLock { $0 }?.connected.signal()
            case .disconnected(_, let reason):
                if box.withLock({ $0 })?.closing.load(ordering: .relaxed) == false {
                    fatalError("the benchmark connection closed: \(reason)")
                }
            }
        }
        sender = try Transport(configuration: configuration(senderKey, admitting: receiverKey), logger: logger) { _ in }
        box.withLock { $0 = self }
        let address = try receiver.listen(host: "127.0.0.1", port: 0, channel: .peer)
        sender.dial(PeerEndpoint(host: "127.0.0.1", port: address.port, key: receiverKey.publicKey, channel: .peer))
        guard connected.wait(timeout: .now() + 10) == .success else { fatalError("the transports did not connect") }
        // The sender's side is announced on its own queue: wait until send finds it.
        while sender.connectedPeers().isEmpty { usleep(1000) }
    }

    private func delivered() {
        let count = received.add(1, ordering: .relaxed).newValue
        if count % batch == 0 { batchDelivered.signal() }
        if count == target.load(ordering: .relaxed) { allDelivered.signal() }
    }

    /// Seconds to deliver `frames` (a multiple of `batch`) copies of `message`, from the first
    /// `send` to the receiver's last delivery.
    func pump(_ message: Message, frames: Int) throws -> Double {
        precondition(frames % batch == 0)
        received.store(0, ordering: .relaxed)
        target.store(frames, ordering: .relaxed)
        let start = now()
        var batches = 0
        while batches * batch < frames {
            for _ in 0..<batch { try sender.send(message, to: receiverKey, as: .blockSync) }
            batches += 1
            if batches >= 2 { batchDelivered.wait() }
        }
        allDelivered.wait()
        let elapsed = seconds(from: start, to: now())
        while batchDelivered.wait(timeout: .now()) == .success {}
        return elapsed
    }

    func shutdown() {
        closing.store(true, ordering: .relaxed)
        sender.shutdown()
        receiver.shutdown()
    }
}
