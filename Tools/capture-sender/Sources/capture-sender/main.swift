// capture-sender: sends messages carrying a marker string between two endpoints on one loopback
// port, for Tools/capture-check to capture with tcpdump.
//
//   capture-sender --port P --marker M           two Transports (peer port, sealed)
//   capture-sender --port P --marker M --plain   the same messages as plain frames, bare socket
//
// Exits 0 once every message arrived intact at the other side, non-zero otherwise.

#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import Logging
import MedLedgerCrypto
import MedLedgerNet
import MedLedgerWire
import Synchronization

let usage = "usage: capture-sender --port P --marker M [--plain] [--rounds N]"

func fail(_ message: String) -> Never {
    let line = Array("capture-sender: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

var port: UInt16?
var marker: String?
var plain = false
var rounds = 20
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--port": port = arguments.popFirst().flatMap { UInt16($0) }
    case "--marker": marker = arguments.popFirst()
    case "--plain": plain = true
    case "--rounds": rounds = arguments.popFirst().flatMap { Int($0) } ?? 0
    case "-h", "--help":
        print(usage)
        exit(0)
    default: fail("unknown argument \(argument)\n\(usage)")
    }
}
guard let port, port > 0, let marker, !marker.isEmpty, rounds > 0 else { fail(usage) }

struct Options: Sendable {
    let port: UInt16
    let marker: String
    let rounds: Int
}

// MARK: The messages

/// Each round: a small transaction whose body is the marker, one of 2 KiB and one of 64 KiB whose
/// bodies repeat it (compression is off, so only sealing can hide it), and a vote-sized one in
/// the other direction.
func messages(_ options: Options, round: Int, from side: String) -> [Message] {
    let text = Array("\(options.marker) \(side) round \(round)".utf8)
    func body(_ size: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < size { bytes += text + [0x20] }
        return Array(bytes.prefix(size))
    }
    func transaction(_ body: [UInt8], nonce: Int) -> Message {
        .transaction(
            Transaction(
                txType: 1, signer: Bytes32(Array(repeating: 1, count: 32))!, nonce: UInt64(nonce), body: body,
                signature: Bytes64(Array(repeating: 9, count: 64))!))
    }
    return [
        transaction(text, nonce: round * 3), transaction(body(2048), nonce: round * 3 + 1),
        transaction(body(64 * 1024), nonce: round * 3 + 2),
    ]
}

extension Options {
    /// Whether `message` arrived with the marker in its payload.
    func carriesMarker(_ message: Message) -> Bool {
        guard case .transaction(let transaction) = message else { return false }
        return String(decoding: transaction.body, as: UTF8.self).contains(marker)
    }
}

// MARK: Sealed: two transports

func runSealed(_ options: Options) {
    let port = options.port
    let keyA = Ed25519.PrivateKey()
    let keyB = Ed25519.PrivateKey()
    let chain = "medledger-capture-check"
    var logger = Logger(label: "capture-sender")
    logger.logLevel = .error
    func configuration(_ key: Ed25519.PrivateKey, admitting other: Ed25519.PrivateKey) -> TransportConfiguration {
        var configuration = TransportConfiguration(chainID: chain, nodeKey: key, admittedPeerKeys: [other.publicKey])
        // Compression would hide the marker by itself; the check is about sealing.
        configuration.compression = .never
        return configuration
    }
    let received = Mutex<[String: Int]>([:])
    let connected = Mutex(0)
    let handler: @Sendable (String) -> @Sendable (TransportEvent) -> Void = { side in
        { event in
            switch event {
            case .connected: connected.withLock { $0 += 1 }
            case .message(let message, _):
                received.withLock { $0[side, default: 0] += options.carriesMarker(message) ? 1 : 0 }
            case .disconnected: break
            }
        }
    }
    let a: Transport
    let b: Transport
    do {
        a = try Transport(configuration: configuration(keyA, admitting: keyB), logger: logger, eventHandler: handler("a"))
        b = try Transport(configuration: configuration(keyB, admitting: keyA), logger: logger, eventHandler: handler("b"))
        try a.listen(host: "127.0.0.1", port: port, channel: .peer)
    } catch {
        fail("cannot start the transports on 127.0.0.1:\(port): \(error)")
    }
    b.dial(PeerEndpoint(host: "127.0.0.1", port: port, key: keyA.publicKey, channel: .peer))
    guard waitUntil({ connected.withLock { $0 } >= 2 }) else { fail("the transports did not connect") }

    var sent = (a: 0, b: 0)
    var bytes = 0
    for round in 0..<options.rounds {
        do {
            for message in messages(options, round: round, from: "b-to-a") {
                try b.send(message, to: keyA.publicKey, as: .blockSync)
                sent.b += 1
                bytes += message.encodePayload().count
            }
            for message in messages(options, round: round, from: "a-to-b").prefix(1) {
                try a.send(message, to: keyB.publicKey, as: .blockSync)
                sent.a += 1
                bytes += message.encodePayload().count
            }
        } catch {
            fail("send failed: \(error)")
        }
    }
    let done = waitUntil {
        received.withLock { $0["a", default: 0] == sent.b && $0["b", default: 0] == sent.a }
    }
    let counts = received.withLock { $0 }
    a.shutdown()
    b.shutdown()
    guard done else {
        fail("sent \(sent.b) + \(sent.a) marked messages, received \(counts["a", default: 0]) + \(counts["b", default: 0])")
    }
    // Wait for both connections to close, so the counters include the DISCONNECTs.
    _ = waitUntil(seconds: 5) { a.counters().openConnections == 0 && b.counters().openConnections == 0 }
    let wire = a.counters().total.bytesOut + b.counters().total.bytesOut
    print("sealed: \(sent.a + sent.b) messages carrying the marker delivered (\(bytes) payload bytes) on 127.0.0.1:\(port)")
    // Tools/capture-check reconciles this with the TCP payload it captured.
    print("wire-bytes: \(wire)")
}

func waitUntil(seconds: Double = 15, _ condition: () -> Bool) -> Bool {
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
    while DispatchTime.now().uptimeNanoseconds < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

// MARK: Plain: the same messages as plain frames over a bare socket (the positive control)

func check(_ result: Int32, _ what: String) -> Int32 {
    if result < 0 { fail("\(what) failed: errno \(errno)") }
    return result
}

func runPlain(_ options: Options) {
    let port = options.port
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let listener = check(socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), "socket")
    var one: Int32 = 1
    _ = setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { check(bind(listener, $0, length), "bind") }
    }
    _ = check(listen(listener, 1), "listen")
    let client = check(socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), "socket")
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { check(connect(client, $0, length), "connect") }
    }
    let server = check(accept(listener, nil, nil), "accept")

    var stream: [UInt8] = []
    var frames = 0
    for round in 0..<options.rounds {
        for message in messages(options, round: round, from: "b-to-a") {
            stream += Frame.plain(message).bytes
            frames += 1
        }
    }
    let count = frames
    let total = stream.count
    let reader = DispatchQueue(label: "reader")
    let delivered = Mutex(0)
    let finished = DispatchSemaphore(value: 0)
    reader.async {
        var decoder = FrameDecoder(mode: .strict)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { read(server, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            decoder.append(buffer[0..<n])
            while let frame = try? decoder.next() {
                if let message = try? Message.decode(type: frame.header.type, payload: frame.payload),
                    options.carriesMarker(message)
                {
                    got += 1
                }
            }
        }
        delivered.withLock { $0 = got }
        finished.signal()
    }
    var offset = 0
    while offset < total {
        let n = stream.withUnsafeBytes { write(client, $0.baseAddress! + offset, total - offset) }
        if n <= 0 { fail("write failed: errno \(errno)") }
        offset += n
    }
    finished.wait()
    close(client)
    close(server)
    close(listener)
    let got = delivered.withLock { $0 }
    guard got == count else { fail("plain: sent \(count) marked frames, decoded \(got)") }
    print("plain: \(count) frames carrying the marker delivered in the clear (\(total) bytes) on 127.0.0.1:\(port)")
    print("wire-bytes: \(total)")
}

let options = Options(port: port, marker: marker, rounds: rounds)
if plain { runPlain(options) } else { runSealed(options) }
