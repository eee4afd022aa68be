import Foundation
import Logging
import MedLedgerCrypto
import MedLedgerLedger
@testable import MedLedgerNet
import MedLedgerNode
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The metrics listener of a node: /metrics and /healthz over real sockets, health through the loss
/// of the quorum, and the request-head parser. The suite binds ports, so it runs serialized (its
/// name matches Tools/test's `ClusterTests`).
@Suite("metrics and health endpoint", .serialized)
struct MetricsClusterTests {
    let cluster: ClusterTests

    init() throws { cluster = try ClusterTests() }

    /// One GET over a blocking socket: the status code and the body.
    static func get(_ port: UInt16, _ path: String, head: String? = nil) throws -> (Int, String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var time = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        let request = Array((head ?? "GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n").utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            answer += buffer[..<count]
        }
        let text = String(decoding: answer, as: UTF8.self)
        let status = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }

    @Test("/healthz is 200 with a quorum connected and 503 with the reason once it is lost; /metrics is Prometheus text")
    func healthFollowsTheQuorum() async throws {
        defer { try? FileManager.default.removeItem(atPath: cluster.directory) }
        var addresses: [Int: SocketAddress] = [:]
        var nodes: [Int: Node] = [:]
        for index in 0..<3 {
            var options = cluster.options(index, peers: addresses.map { PeerEndpoint(host: "127.0.0.1", port: $0.value.port, key: cluster.members[$0.key].node.publicKey) })
            options.metricsHost = "127.0.0.1"
            let node = try Node(options: options)
            try node.start()
            addresses[index] = node.p2pAddress!
            nodes[index] = node
        }
        defer { for node in nodes.values { node.stop() } }
        let node0 = nodes[0]!
        let port = try #require(node0.metricsAddress?.port)
        #expect(await ClusterTests.wait(for: Array(nodes.values), height: 2), "no height 2: \(nodes.values.map(\.status))")

        let (status, body) = try Self.get(port, "/healthz")
        #expect(status == 200, "\(body)")
        #expect(body.contains("\"connected_power\":30") && body.contains("\"total_power\":40"), "\(body)")
        #expect(node0.health.healthy)

        let (metricsStatus, metrics) = try Self.get(port, "/metrics")
        #expect(metricsStatus == 200)
        for line in [
            "# TYPE medledger_height gauge", "# TYPE medledger_net_frames_total counter", "# TYPE medledger_commit_latency_seconds histogram",
            "medledger_peers 2", "medledger_healthy 1", "medledger_total_voting_power 40",
        ] {
            #expect(metrics.contains(line), "missing \(line)")
        }
        #expect(metrics.contains("medledger_net_frames_total{type=\"vote\",direction=\"out\"}"))
        #expect(try Self.get(port, "/other").0 == 404)
        #expect(try Self.get(port, "", head: "DELETE /metrics HTTP/1.1\r\n\r\n").0 == 405)

        // Two of the three gone: 10 of 40 is no quorum.
        nodes[1]!.stop()
        nodes[2]!.stop()
        let lost = await ClusterTests.eventuallyTrue(seconds: 10) { !node0.health.healthy }
        #expect(lost, "still healthy: \(node0.health)")
        let (after, reason) = try Self.get(port, "/healthz")
        #expect(after == 503)
        #expect(reason.contains("no quorum of peers") && reason.contains("\"healthy\":false"), "\(reason)")
        #expect(node0.metricsText().contains("medledger_healthy 0"))
    }

    @Test("the request head parser: GET paths, query strings dropped, other methods, incomplete and oversized heads")
    func requestHeads() {
        func parse(_ text: String, max: Int = 8_192) -> HTTPResponder.Parsed { HTTPResponder.parse(Array(text.utf8), maxBytes: max) }
        #expect(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == .get("/metrics"))
        #expect(parse("GET /healthz?verbose=1 HTTP/1.0\r\n\r\n") == .get("/healthz"))
        #expect(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n") == .incomplete)
        if case .refuse(405, _) = parse("POST /metrics HTTP/1.1\r\n\r\n") {} else { Issue.record("POST not refused with 405") }
        if case .refuse(400, _) = parse("GET /metrics\r\n\r\n") {} else { Issue.record("a request line without a version not refused") }
        if case .refuse(431, _) = parse(String(repeating: "a", count: 100), max: 64) {} else { Issue.record("an oversized head not refused") }
        if case .refuse(431, _) = parse("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 100) + "\r\n\r\n", max: 64) {} else {
            Issue.record("an oversized complete head not refused")
        }
    }
}

extension ClusterTests {
    static func eventuallyTrue(seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return condition()
    }
}
