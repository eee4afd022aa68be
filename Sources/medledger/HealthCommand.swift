import ArgumentParser
import MedLedgerNode

#if canImport(Glibc)
    import Glibc
#endif

/// `medledger health`: asks a node's `/healthz` (the container's health check).
struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Ask a node whether it is healthy (its GET /healthz); exit 0 if so, 1 if not.",
        discussion: """
            Healthy: connected validators, this node included, hold more than two thirds of the voting
            power, and the node is within 2 blocks of the best height it has seen. Prints the node's
            answer (JSON) or why it could not be asked. With --home, the port comes from the running
            node's ports.json (else from metrics_listen in config.json, MEDLEDGER_METRICS_LISTEN
            overriding it); a wildcard listen address is asked on loopback.
            """)

    @Option(name: .long, help: "The node's home directory.") var home: String?
    @Option(name: .long, help: "The health URL, e.g. http://127.0.0.1:26602/healthz.") var url: String?
    @Option(name: .long, help: "Seconds to wait for the answer (1-60).") var timeout: Int = 3

    func validate() throws {
        guard (home == nil) != (url == nil) else { throw ValidationError("give exactly one of --home DIR or --url URL") }
        guard (1...60).contains(timeout) else { throw ValidationError("--timeout is 1 to 60 seconds, not \(timeout)") }
    }

    func run() throws {
        let target: HealthTarget
        do {
            target = try url.map(HealthTarget.init(url:)) ?? HealthTarget(home: home!)
        } catch let error as HealthProbeError {
            print("unhealthy: \(error.message)")
            throw ExitCode(1)
        }
        do {
            let (status, body) = try HealthProbe.get(target, timeoutSeconds: timeout)
            let text = body.trimmingCharacters(in: " \r\n")
            print(text.isEmpty ? "HTTP \(status)" : text)
            if status != 200 { throw ExitCode(1) }
        } catch let error as HealthProbeError {
            print("unhealthy: \(error.message)")
            throw ExitCode(1)
        }
    }
}

struct HealthProbeError: Error {
    var message: String
}

/// Where to ask: host, port and path.
struct HealthTarget {
    var host: String
    var port: UInt16
    var path: String

    init(url: String) throws(HealthProbeError) {
        guard url.count <= 2_048, url.hasPrefix("http://") else {
            throw HealthProbeError(message: "the URL must start with http:// (the metrics listener speaks plain HTTP), as in http://127.0.0.1:26602/healthz")
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/healthz"
        var hostPart = Substring(authority)
        var portPart: Substring = "80"
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty, let port = UInt16(portPart), port > 0 else {
            throw HealthProbeError(message: "cannot read host and port from \(url): write it as http://HOST:PORT/healthz")
        }
        host = String(hostPart)
        self.port = port
    }

    init(home path: String) throws(HealthProbeError) {
        let home = NodeHome(path)
        let config: NodeConfig
        do {
            config = try home.loadConfig()
        } catch {
            throw HealthProbeError(message: "\(error)")
        }
        guard let listen = config.metricsListen else {
            throw HealthProbeError(message: "the metrics endpoint is off in \(home.configPath) (metrics_listen is null): set it, or MEDLEDGER_METRICS_LISTEN")
        }
        let ports = try? home.loadPorts()
        let port = ports?.metrics ?? listen.port
        guard port != 0 else {
            throw HealthProbeError(message: "the node has not written \(home.portsPath) yet and metrics_listen asks for any port: is it running?")
        }
        switch listen.host {
        case "0.0.0.0", "": host = "127.0.0.1"
        case "::", "[::]": host = "::1"
        default: host = listen.host
        }
        self.port = port
        self.path = "/healthz"
    }
}

/// A one-request HTTP/1.1 client over a blocking socket with send and receive timeouts.
enum HealthProbe {
    static let maxAnswer = 64 * 1_024

    static func get(_ target: HealthTarget, timeoutSeconds: Int) throws(HealthProbeError) -> (Int, String) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard status == 0, let first = list else {
            throw HealthProbeError(message: "cannot resolve \(target.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HealthProbeError(message: "cannot create a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var time = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        let where_ = "\(target.host):\(target.port)"
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            throw HealthProbeError(message: "cannot reach the node's metrics listener at \(where_): \(String(cString: strerror(errno))); is the node running with metrics_listen set?")
        }
        let hostHeader = target.host.contains(":") ? "[\(target.host)]" : target.host
        let request = Array("GET \(target.path) HTTP/1.1\r\nHost: \(hostHeader):\(target.port)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw HealthProbeError(message: "cannot send to \(where_): \(String(cString: strerror(errno)))") }
            sent += count
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while answer.count < maxAnswer {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else {
                if errno == EINTR { continue }
                throw HealthProbeError(message: "no answer from \(where_) within \(timeoutSeconds) s: \(String(cString: strerror(errno)))")
            }
            answer += buffer[..<count]
        }
        let text = String(decoding: answer.prefix(maxAnswer), as: UTF8.self)
        guard text.hasPrefix("HTTP/1."), let line = text.split(separator: "\r\n", maxSplits: 1).first else {
            throw HealthProbeError(message: "\(where_) did not answer in HTTP: is that the metrics port (not the p2p or client port)?")
        }
        let parts = line.split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { throw HealthProbeError(message: "\(where_) sent a bad status line") }
        let separator: [UInt8] = [13, 10, 13, 10]
        let start = answer.indices.dropLast(3).first { Array(answer[$0..<$0 + 4]) == separator }
        let body = start.map { String(decoding: answer[($0 + 4)...], as: UTF8.self) } ?? ""
        return (code, body)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var view = Substring(self)
        while let first = view.first, set.contains(first) { view.removeFirst() }
        while let last = view.last, set.contains(last) { view.removeLast() }
        return String(view)
    }
}
