import Foundation
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerNode
import MedLedgerStore
import MedLedgerWire
import Testing

/// Four `medledger node` processes on loopback, made by `Testnet` with every port 0 and wired the
/// way `Tools/cluster` wires them; transactions submitted through the client port. Serialized:
/// these bind ports and start processes.
@Suite("node processes on loopback", .serialized)
struct ProcessClusterTests {
    static let medledger: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: directory.appendingPathComponent("medledger").path) {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("medledger")
    }()

    final class Cluster: @unchecked Sendable {
        let testnet: Testnet
        var processes: [Int: Process] = [:]

        init(nodes: Int) throws {
            let directory = NSTemporaryDirectory() + "medledger-processes-\(UInt64.random(in: 0..<UInt64.max))"
            testnet = try Testnet.create(nodes: nodes, in: directory, basePort: 0)
        }

        func home(_ index: Int) -> NodeHome { testnet.nodes[index].home }

        func ports(_ index: Int) -> BoundPorts? { try? home(index).loadPorts() }

        func status(_ index: Int) -> [String: Any]? {
            guard let data = FileManager.default.contents(atPath: home(index).path + "/status.json") else { return nil }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        }

        func height(_ index: Int) -> UInt64 { (status(index)?["height"] as? NSNumber)?.uint64Value ?? 0 }

        /// Starts node `index` with the running nodes as its peers; waits for its ports file.
        func start(_ index: Int) throws {
            try? FileManager.default.removeItem(atPath: home(index).portsPath)
            try? FileManager.default.removeItem(atPath: home(index).path + "/status.json")
            let peers = processes.keys.sorted().filter { $0 != index && processes[$0]!.isRunning }.compactMap { other -> String? in
                guard let port = ports(other)?.p2p else { return nil }
                return "\(testnet.nodes[other].card.nodeKey.hex)@127.0.0.1:\(port)"
            }
            let process = Process()
            process.executableURL = ProcessClusterTests.medledger
            process.arguments = ["node", "--home", home(index).path]
            var environment = ProcessInfo.processInfo.environment
            environment["MEDLEDGER_P2P_LISTEN"] = "127.0.0.1:0"
            environment["MEDLEDGER_CLIENT_LISTEN"] = "127.0.0.1:0"
            environment["MEDLEDGER_METRICS_LISTEN"] = ""
            environment["MEDLEDGER_PEERS"] = peers.joined(separator: ",")
            environment["MEDLEDGER_TIMEOUT_PROPOSE_MS"] = "1000"
            environment["MEDLEDGER_TIMEOUT_PREVOTE_MS"] = "300"
            environment["MEDLEDGER_TIMEOUT_PRECOMMIT_MS"] = "300"
            environment["MEDLEDGER_LOG_LEVEL"] = "notice"
            process.environment = environment
            let log = FileHandle(forWritingAtPath: home(index).path + "/node.log") ?? {
                _ = FileManager.default.createFile(atPath: home(index).path + "/node.log", contents: nil)
                return FileHandle(forWritingAtPath: home(index).path + "/node.log")!
            }()
            log.seekToEndOfFile()
            process.standardOutput = log
            process.standardError = log
            try process.run()
            processes[index] = process
            let deadline = Date().addingTimeInterval(30)
            while ports(index) == nil {
                guard process.isRunning, Date() < deadline else {
                    throw SimulationError("node \(index) did not start: \(String(decoding: FileManager.default.contents(atPath: home(index).path + "/node.log") ?? Data(), as: UTF8.self).suffix(2_000))")
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        func signal(_ index: Int, _ number: Int32) {
            guard let process = processes[index], process.isRunning else { return }
            kill(process.processIdentifier, number)
            if number == SIGKILL || number == SIGTERM { process.waitUntilExit() }
        }

        func stopAll() { for index in processes.keys { signal(index, SIGTERM) } }

        func remove() { try? FileManager.default.removeItem(atPath: testnet.directory) }

        func wait(_ nodes: [Int], height: UInt64, seconds: Double = 60) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if nodes.allSatisfy({ self.height($0) >= height }) { return true }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
    }

    struct SimulationError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    func registration(_ cluster: Cluster, patient: Ed25519.PrivateKey, at facility: Int) throws -> Transaction {
        let organisation = try cluster.home(facility).loadOrganisationKey()
        let box = Bytes32(SHA256.hash(Array("box \(patient.publicKey.wire.hex)".utf8)).bytes)!
        let chainID = cluster.testnet.genesis.chainID
        return Transaction.signed(
            .registerPatient(.attested(patient: patient.publicKey.wire, encryptionKey: box, by: organisation, chainID: chainID)),
            by: patient, nonce: 1, chainID: chainID)
    }

    func client(_ cluster: Cluster, _ index: Int) throws -> NodeClient {
        let key = try Ed25519.PublicKey(bytes: cluster.testnet.nodes[index].card.nodeKey.bytes)
        return try NodeClient(chainID: cluster.testnet.genesis.chainID, host: "127.0.0.1", port: cluster.ports(index)!.client, nodeKey: key, key: Ed25519.PrivateKey())
    }

    @Test("a 4-node cluster of processes: transactions commit everywhere, through a SIGKILL under load, a refused stranger, a garbage peer and a lost quorum; the logs agree and verify")
    func cluster() async throws {
        guard FileManager.default.fileExists(atPath: Self.medledger.path) else {
            Issue.record("the medledger binary is not at \(Self.medledger.path): run `swift build` first")
            return
        }
        let cluster = try Cluster(nodes: 4)
        defer {
            cluster.stopAll()
            cluster.remove()
        }
        for index in 0..<4 { try cluster.start(index) }
        #expect(await cluster.wait([0, 1, 2, 3], height: 2), "the cluster did not start committing")

        // Load through two nodes' client ports; node 2 is killed with SIGKILL half way.
        let clients = [try client(cluster, 0), try client(cluster, 1)]
        var submitted: [(Transaction, Int)] = []
        for index in 0..<40 {
            let transaction = try registration(cluster, patient: Ed25519.PrivateKey(seed: SecureBytes(SHA256.hash(Array("patient \(index)".utf8)).bytes)), at: index % 4)
            let status = try clients[index % 2].submit(transaction)
            #expect(status == .inMempool, "transaction \(index) not admitted: \(status)")
            submitted.append((transaction, index % 2))
            if index == 20 { cluster.signal(2, SIGKILL) }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Every transaction acknowledged becomes committed (asked again, the answer is 2).
        let deadline = Date().addingTimeInterval(60)
        var pending = submitted
        while !pending.isEmpty, Date() < deadline {
            var still: [(Transaction, Int)] = []
            for (transaction, via) in pending {
                if case .committed = try clients[via].submit(transaction) { continue }
                still.append((transaction, via))
            }
            pending = still
            if !pending.isEmpty { try await Task.sleep(for: .milliseconds(300)) }
        }
        #expect(pending.isEmpty, "\(pending.count) acknowledged transactions were not committed")

        // Node 2 restarts from its disk and catches up.
        try cluster.start(2)
        let best = (0..<4).map(cluster.height).max()!
        #expect(await cluster.wait([2], height: best + 1), "the killed node did not catch up (at \(cluster.height(2)))")

        // A stranger's node key is refused on the peer port.
        let strangerEvents = Events()
        let stranger = try Transport(
            configuration: TransportConfiguration(
                chainID: cluster.testnet.genesis.chainID,
                nodeKey: Ed25519.PrivateKey(seed: SecureBytes(SHA256.hash(Array("stranger".utf8)).bytes)),
                admittedPeerKeys: [try Ed25519.PublicKey(bytes: cluster.testnet.nodes[0].card.nodeKey.bytes)])
        ) { strangerEvents.append($0) }
        stranger.dial(PeerEndpoint(host: "127.0.0.1", port: cluster.ports(0)!.p2p, key: try Ed25519.PublicKey(bytes: cluster.testnet.nodes[0].card.nodeKey.bytes)))
        try await Task.sleep(for: .seconds(2))
        #expect(!strangerEvents.drain().contains { if case .connected = $0 { true } else { false } }, "a node key outside the genesis was admitted")
        stranger.shutdown()

        // A peer sending garbage is dropped; the cluster keeps committing.
        let socket = try RawSocket(port: cluster.ports(0)!.p2p)
        socket.write(Array(repeating: 0x41, count: 4_096))
        #expect(socket.readUntilClosed(seconds: 10), "the node kept a connection that sent garbage")
        let before = cluster.height(0)
        #expect(await cluster.wait([0, 1, 2, 3], height: before + 2), "the cluster stopped after the garbage")

        // Two of four stopped: nothing commits. One back: commits resume.
        cluster.signal(2, SIGTERM)
        cluster.signal(3, SIGTERM)
        try await Task.sleep(for: .seconds(1))
        let stuck = cluster.height(0)
        try await Task.sleep(for: .seconds(3))
        #expect(cluster.height(0) <= stuck + 1, "a block was committed without a quorum")
        try cluster.start(3)
        #expect(await cluster.wait([0, 1, 3], height: stuck + 2), "commits did not resume")

        // The end: every log verifies (signatures included) and they agree block for block.
        cluster.stopAll()
        var chains: [[Bytes32]] = []
        for index in 0..<4 {
            let (log, _) = try SegmentLog.open(directory: cluster.home(index).logDirectory, chainID: cluster.testnet.genesis.chainID)
            chains.append(try (1...max(log.lastHeight, 1)).map { try log.read(height: $0).block.header.hash })
            log.close()
            let inspect = Process()
            inspect.executableURL = Self.medledger.deletingLastPathComponent().appendingPathComponent("medledger-inspect")
            inspect.arguments = ["log", "verify", "--genesis", cluster.home(index).genesisPath, cluster.home(index).logDirectory]
            inspect.standardOutput = FileHandle.nullDevice
            try inspect.run()
            inspect.waitUntilExit()
            #expect(inspect.terminationStatus == 0, "medledger-inspect log verify failed for node \(index)")
        }
        let shortest = chains.map(\.count).min()!
        #expect(shortest >= 5)
        for height in 0..<shortest { #expect(Set(chains.map { $0[height] }).count == 1, "height \(height + 1) differs") }
    }
}

/// A plain TCP connection, for sending bytes that are not frames.
final class RawSocket {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard result == 0 else { throw ProcessClusterTests.SimulationError("connect to \(port) failed: errno \(errno)") }
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    /// Whether the other side closed within `seconds`.
    func readUntilClosed(seconds: Int) -> Bool {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }
}
