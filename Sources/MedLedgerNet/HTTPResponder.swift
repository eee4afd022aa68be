import Dispatch
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A deliberately small HTTP/1.1 responder on the transport's socket layer, for the node's
/// metrics listener: `GET` of a handful of paths, one request per connection, answered and
/// closed. Nothing else of HTTP is spoken: no keep-alive, no request bodies, no chunking.
///
/// Every resource is bounded: the request head (``Limits/maxRequestBytes``), the time a client
/// has to send it and to read the answer (``Limits/timeout``), and the connections open at once
/// (``Limits/maxConnections``; more are closed at accept). Its mutable parts are the listening
/// source (cancelled once) and the open count (a mutex).
public final class HTTPResponder: @unchecked Sendable {
    /// An answer.
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        public init(status: Int, contentType: String, body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        public init(status: Int, json: String) {
            self.init(status: status, contentType: "application/json", body: Array(json.utf8))
        }
    }

    public struct Limits: Sendable {
        /// The request line and headers together; larger is `431`.
        public var maxRequestBytes = 8 * 1_024
        /// From accept to the last byte of the answer written.
        public var timeout: Duration = .seconds(5)
        /// Connections open at once; more are closed at accept.
        public var maxConnections = 32

        public init() {}
    }

    /// Answers one request for `path` (without the query string) by calling `respond` once, on
    /// any thread.
    public typealias Handler = @Sendable (_ path: String, _ respond: @escaping @Sendable (Response) -> Void) -> Void

    /// The address bound (port 0 asks for any free port).
    public let address: SocketAddress
    let paths: Set<String>
    let limits: Limits
    let logger: Logger
    let handler: Handler
    let queue = DispatchQueue(label: "medledger.http")
    let fd: Int32
    let source: DispatchSourceRead
    let open = Mutex(0)

    /// Binds `host:port` and starts answering `GET` of `paths`; any other path is `404`, any
    /// other method `405`.
    public init(host: String, port: UInt16, paths: Set<String>, limits: Limits = Limits(), logger: Logger, handler: @escaping Handler) throws(NetError) {
        let requested = try SocketAddress.resolve(host, port: port)
        guard let first = requested.first else { throw NetError(.resolveFailed, "\(host) names no address") }
        let fd: Int32
        do {
            fd = try Syscall.socket(family: first.family)
        } catch {
            throw NetError(.listenFailed, "cannot create a socket for \(first): \(error)")
        }
        let bound: SocketAddress
        do {
            try Syscall.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            try Syscall.bind(fd, first)
            try Syscall.listen(fd, backlog: 64)
            bound = try Syscall.localAddress(fd)
        } catch {
            Syscall.close(fd)
            throw NetError(.listenFailed, "cannot listen on \(first): \(error)")
        }
        self.fd = fd
        address = bound
        self.paths = paths
        self.limits = limits
        self.logger = logger
        self.handler = handler
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [weak self] in self?.acceptAll() }
        source.setCancelHandler { Syscall.close(fd) }
        source.resume()
    }

    /// Stops accepting and closes the listening socket; answers in flight finish.
    public func shutdown() {
        source.cancel()
    }

    private func acceptAll() {
        while true {
            let accepted: (Int32, SocketAddress?)?
            do {
                accepted = try Syscall.accept(fd)
            } catch {
                // Out of descriptors: stop accepting for a moment instead of spinning.
                logger.warning("metrics listener cannot accept", metadata: ["error": "\(error)"])
                source.suspend()
                queue.asyncAfter(deadline: .now() + .milliseconds(100)) { self.source.resume() }
                return
            }
            guard let (client, _) = accepted else { return }
            let admitted = open.withLock { count -> Bool in
                guard count < limits.maxConnections else { return false }
                count += 1
                return true
            }
            guard admitted else {
                Syscall.close(client)
                continue
            }
            HTTPExchange(fd: client, responder: self).start()
        }
    }

    func closed() { open.withLock { $0 -= 1 } }

    /// What a request head asks for: the path of a `GET`, or the answer to give at once.
    enum Parsed: Equatable {
        case incomplete
        case get(String)
        case refuse(Int, String)
    }

    /// Parses the head of `bytes` (up to the blank line); `incomplete` until it is there.
    static func parse(_ bytes: [UInt8], maxBytes: Int) -> Parsed {
        let end = bytes.indices.dropLast(3).first { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }
        guard let end else {
            return bytes.count >= maxBytes ? .refuse(431, "the request head exceeds \(maxBytes) bytes") : .incomplete
        }
        guard end <= maxBytes else { return .refuse(431, "the request head exceeds \(maxBytes) bytes") }
        let lineEnd = bytes.firstIndex(of: 13) ?? end
        guard let line = String(validating: bytes[..<lineEnd], as: UTF8.self) else { return .refuse(400, "the request line is not UTF-8") }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return .refuse(400, "not an HTTP/1.x request line") }
        guard parts[0] == "GET" else { return .refuse(405, "only GET is served") }
        let target = parts[1]
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return .get(path)
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }

    static func encode(_ response: Response) -> [UInt8] {
        var head = "HTTP/1.1 \(response.status) \(reasonPhrase(response.status))\r\n"
        head += "Content-Type: \(response.contentType)\r\n"
        head += "Content-Length: \(response.body.count)\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n"
        return Array(head.utf8) + response.body
    }
}

/// One connection of the responder: read the head, answer, close. All state on its own queue.
final class HTTPExchange: @unchecked Sendable {
    let fd: Int32
    let responder: HTTPResponder
    let queue = DispatchQueue(label: "medledger.http.exchange")
    var readSource: DispatchSourceRead?
    var writeSource: DispatchSourceWrite?
    var timer: DispatchSourceTimer?
    var received: [UInt8] = []
    var pending: [UInt8] = []
    var answered = false
    var finished = false
    /// Sources not yet cancelled: the descriptor is closed after the last one's cancel handler.
    var alive = 0

    init(fd: Int32, responder: HTTPResponder) {
        self.fd = fd
        self.responder = responder
    }

    func start() {
        queue.async {
            let timer = DispatchSource.makeTimerSource(queue: self.queue)
            timer.schedule(deadline: .now() + self.responder.limits.timeout.dispatchInterval)
            timer.setEventHandler { self.finish() }
            timer.resume()
            self.timer = timer
            let source = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
            source.setEventHandler { self.readAvailable() }
            source.setCancelHandler { self.sourceCancelled() }
            self.alive += 1
            source.resume()
            self.readSource = source
        }
    }

    private func readAvailable() {
        guard !answered, !finished else { return }
        var chunk = [UInt8](repeating: 0, count: 2_048)
        let count: Int?
        do {
            count = try chunk.withUnsafeMutableBytes { buffer throws(Syscall.Errno) in try Syscall.read(fd, into: buffer) }
        } catch {
            return finish()
        }
        guard let count else { return }
        guard count > 0 else { return finish() }
        received += chunk[..<count]
        switch HTTPResponder.parse(received, maxBytes: responder.limits.maxRequestBytes) {
        case .incomplete:
            return
        case .refuse(let status, let reason):
            respond(HTTPResponder.Response(status: status, contentType: "text/plain; charset=utf-8", body: Array((reason + "\n").utf8)))
        case .get(let path):
            answered = true
            readSource?.cancel()
            readSource = nil
            guard responder.paths.contains(path) else {
                return respond(HTTPResponder.Response(
                    status: 404, contentType: "text/plain; charset=utf-8",
                    body: Array("not found: the paths are \(responder.paths.sorted().joined(separator: ", "))\n".utf8)))
            }
            responder.handler(path) { response in self.queue.async { self.respond(response) } }
        }
    }

    private func respond(_ response: HTTPResponder.Response) {
        guard !finished else { return }
        answered = true
        readSource?.cancel()
        readSource = nil
        pending = HTTPResponder.encode(response)
        write()
    }

    private func write() {
        while !pending.isEmpty {
            let written: Int?
            do {
                written = try pending.withUnsafeBytes { buffer throws(Syscall.Errno) in try Syscall.send(fd, buffer) }
            } catch {
                return finish()
            }
            guard let written else {
                if writeSource == nil {
                    let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
                    source.setEventHandler { self.write() }
                    source.setCancelHandler { self.sourceCancelled() }
                    alive += 1
                    source.resume()
                    writeSource = source
                }
                return
            }
            pending.removeFirst(written)
        }
        finish()
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        readSource?.cancel()
        readSource = nil
        writeSource?.cancel()
        writeSource = nil
        Syscall.shutdownWrite(fd)
        if alive == 0 { closeDescriptor() }
    }

    private func sourceCancelled() {
        alive -= 1
        if alive == 0, finished { closeDescriptor() }
    }

    private func closeDescriptor() {
        Syscall.close(fd)
        responder.closed()
    }
}

extension Duration {
    var dispatchInterval: DispatchTimeInterval {
        let (seconds, attoseconds) = components
        return .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }
}
