import ArgumentParser
import Dispatch
import Logging
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerNode
import MedLedgerWire
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `medledger bench cluster`: committed throughput and commit latency of a local cluster of real
/// node processes, under signed consent grants.
struct ClusterBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Start a local cluster of node processes and measure committed transactions per second and commit latency.",
        discussion: """
            Makes a fresh testnet in a temporary directory (every port 0), starts --nodes `medledger node` \
            processes of this same binary (peers wired through MEDLEDGER_PEERS, as Tools/cluster does), \
            registers --patients patients (attested by the facilities' organisation keys), then drives \
            signed grant_consent transactions (nonces in order per patient) from --clients connections \
            spread over the nodes, at --rate transactions per second or as fast as the cluster admits them \
            (--rate 0: open loop, at most --window unconfirmed per client) for --duration seconds. \
            Latency is from submission to the moment the benchmark learns of the commit from node 0, which \
            it follows as an observer peer (STATUS after each commit, then BLOCK_REQUEST for the new \
            blocks). Exits 1 if any admitted transaction is not committed within --settle seconds.
            """)

    @Option(help: "Node processes (validators).") var nodes = 4
    @Option(help: "Client connections, spread over the nodes.") var clients = 8
    @Option(help: "Transactions per second offered in total; 0: open loop.") var rate = 0.0
    @Option(help: "Seconds of load.") var duration = 20
    @Option(help: "Patients (signers); each client owns an equal share and sends each one's grants in nonce order.")
    var patients = 512
    @Option(help: "Most unconfirmed (submitted, not yet committed) transactions per client.") var window = 512
    @Option(help: "The nodes' commit wait, ms (timeouts.commit_ms).") var commitWaitMs: UInt64 = 100
    @Option(help: "The nodes' block_max_transactions.") var blockMaxTransactions = 4_000
    @Option(help: "Seconds to wait after the load for the last commits.") var settle = 30
    @Option(help: "Keep the cluster's homes (and node logs) in this new directory instead of a temporary one.")
    var dir: String?

    func validate() throws {
        guard (1...16).contains(nodes) else { throw ValidationError("--nodes must be 1 to 16") }
        guard clients >= 1, clients <= 256 else { throw ValidationError("--clients must be 1 to 256") }
        guard rate >= 0, rate <= 100_000 else { throw ValidationError("--rate must be 0 (open loop) to 100000") }
        guard duration >= 1, duration <= 3_600 else { throw ValidationError("--duration must be 1 to 3600 seconds") }
        guard patients >= clients else { throw ValidationError("--patients must be at least --clients (\(clients))") }
        guard window >= 1 else { throw ValidationError("--window must be at least 1") }
    }

    func run() throws {
        var logger = Logger(label: "medledger.bench")
        logger.logLevel = .warning
        let directory: String
        if let dir {
            directory = dir
        } else {
            var template = Array("/tmp/medledger-bench-XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else { throw ValidationError("cannot make a temporary directory in /tmp") }
            directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            rmdir(directory)  // Testnet.create makes it
        }
        var config = NodeConfig()
        config.timeouts.commitMs = commitWaitMs
        config.blockMaxTransactions = blockMaxTransactions
        config.mempool.maxTransactions = 100_000
        config.mempool.maxBytes = 256 << 20
        config.metricsListen = nil
        config.logLevel = .notice
        let testnet: Testnet
        do {
            testnet = try Testnet.create(nodes: nodes, in: directory, chainID: "medledger-bench", basePort: 0, config: config)
        } catch {
            throw ValidationError("\(error)")
        }
        let chainID = testnet.genesis.chainID
        let observerKey = Ed25519.PrivateKey()
        let cluster = ProcessCluster(testnet: testnet, observer: observerKey.publicKey)
        defer {
            cluster.stop()
            if dir == nil { removeBenchTree(directory) }
        }
        say("cluster: \(nodes) nodes in \(directory), commit wait \(commitWaitMs) ms, block max \(blockMaxTransactions) transactions")
        try cluster.start()
        try cluster.waitConnected(timeout: 60)

        // Clients, and node 0 followed as an observer.
        let ports = try testnet.nodes.map { node -> BoundPorts in
            guard let ports = try node.home.loadPorts() else { throw ValidationError("\(node.home.portsPath) is missing") }
            return ports
        }
        let tracker = Tracker(clients: clients, window: window)
        let observer = try CommitObserver(
            chainID: chainID, nodeKey: try Ed25519.PublicKey(bytes: testnet.nodes[0].card.nodeKey.bytes), port: ports[0].p2p,
            key: observerKey, logger: logger, tracker: tracker)
        defer { observer.close() }
        let connections = try (0..<clients).map { index -> NodeClient in
            let node = testnet.nodes[index % nodes]
            return try NodeClient(
                chainID: chainID, host: "127.0.0.1", port: ports[node.index].client,
                nodeKey: try Ed25519.PublicKey(bytes: node.card.nodeKey.bytes), key: Ed25519.PrivateKey(), logger: logger)
        }
        defer { for connection in connections { connection.close() } }

        // Patients, registered by the facilities in turn, and their grants, signed before the clock starts.
        let organisations = try testnet.nodes.map { try $0.home.loadOrganisationKey() }
        let grantees = testnet.nodes.map(\.card.organisationKey)
        let patientKeys = (0..<patients).map { _ in Ed25519.PrivateKey() }
        let registrations = patientKeys.enumerated().map { index, patient in
            Transaction.signed(
                .registerPatient(
                    .attested(
                        patient: patient.publicKey.wire, encryptionKey: Bytes32(secureRandomBytes(32))!,
                        by: organisations[index % organisations.count], chainID: chainID)),
                by: patient, nonce: 1, chainID: chainID)
        }
        say("registering \(patients) patients")
        let registered = drive(perClient(registrations, owner: { $0 % clients }), connections, tracker: tracker, rate: 0, until: nil)
        guard tracker.waitSettled(seconds: 60), registered.rejected == 0 else {
            throw ValidationError("the patients' registrations did not all commit (\(registered.rejected) rejected, \(tracker.unsettled) pending)")
        }
        let planned = rate > 0 ? Int(rate * Double(duration) * 1.05) + clients : 8_000 * duration
        say("signing \(planned) grant_consent transactions")
        let grants = signGrants(count: planned, patients: patientKeys, grantees: grantees, chainID: chainID)

        tracker.reset()
        let before = cluster.snapshot()
        let machineBefore = ProcessCluster.machineTicks()
        let selfBefore = ProcessCluster.cpuSeconds(of: getpid())
        let startHeight = observer.height
        let start = Node.now()
        let end = start + UInt64(duration) * 1_000
        say("load: \(clients) clients over \(nodes) nodes, \(rate > 0 ? "\(Int(rate)) tx/s offered" : "open loop, window \(window) per client"), \(duration) s")
        let load = drive(perClient(grants, owner: { ($0 % patients) % clients }), connections, tracker: tracker, rate: rate, until: end)
        let loadEnd = Node.now()
        let committedInLoad = tracker.committedCount
        let heightAtEnd = observer.height
        _ = tracker.waitSettled(seconds: Double(settle))
        usleep(1_200_000)  // one more status tick, so status.json holds the last counts
        let after = cluster.snapshot()
        let machineAfter = ProcessCluster.machineTicks()
        let selfAfter = ProcessCluster.cpuSeconds(of: getpid())
        let result = tracker.result()

        let seconds = Double(loadEnd - start) / 1_000
        let checks = zip(before, after).reduce(UInt64(0)) { $0 + ($1.1.signatureChecks &- $1.0.signatureChecks) }
        say("")
        say("submitted \(load.submitted), admitted \(result.admitted), rejected \(load.rejected), refused (mempool full or closed) \(load.failed)")
        say("committed \(result.committed) (\(committedInLoad) during the \(Int(seconds)) s load), not committed \(result.lost)")
        say("throughput   \(format(Double(committedInLoad) / seconds)) committed tx/s during the load")
        say("latency      p50 \(result.percentile(0.5)) ms, p95 \(result.percentile(0.95)) ms, p99 \(result.percentile(0.99)) ms, max \(result.percentile(1)) ms (submission to commit seen)")
        say("blocks       \(format(Double(heightAtEnd - startHeight) / seconds)) blocks/s, \(committedInLoad / max(1, Int(heightAtEnd - startHeight))) tx/block")
        say("signatures   \(format(Double(checks) / Double(max(1, result.committed)))) Ed25519 verifications per committed tx (all nodes)")
        for (index, (b, a)) in zip(before, after).enumerated() {
            say("node\(index)        \(format(a.cpuSeconds - b.cpuSeconds)) CPU s (\(format((a.cpuSeconds - b.cpuSeconds) / (Double(Node.now() - start) / 1_000) * 100))% of a core), \(a.signatureChecks &- b.signatureChecks) verifications, RSS \(a.rssMiB) MiB")
        }
        let busy = Double(machineAfter.busy - machineBefore.busy) / Double(max(1, machineAfter.total - machineBefore.total))
        say("benchmark    \(format(selfAfter - selfBefore)) CPU s (clients, signing requests, following commits)")
        say("machine      \(format(busy * 100))% busy over \(ProcessInfoCores.active) cores (all processes, /proc/stat); load average \(ProcessCluster.loadAverage())")
        guard result.lost == 0 else {
            printError("\(result.lost) admitted transactions were not committed within \(settle) s of the end")
            throw ExitCode(1)
        }
        say("every admitted transaction committed")
    }

    /// Grants, in round-robin over the patients (patient i's k-th grant has nonce k + 1).
    func signGrants(count: Int, patients: [Ed25519.PrivateKey], grantees: [Bytes32], chainID: String) -> [Transaction] {
        let out = Mutex([Transaction?](repeating: nil, count: count))
        let workers = max(1, ProcessInfoCores.active)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var local: [(Int, Transaction)] = []
            for index in stride(from: worker, to: count, by: workers) {
                let patient = patients[index % patients.count]
                let round = index / patients.count
                let grant = GrantConsent(
                    patient: patient.publicKey.wire, grantee: grantees[(index + round) % grantees.count], actions: .read,
                    purposes: Purposes([.treatment]), scope: .allRecords, start: 0, expiry: nil)
                local.append((index, Transaction.signed(.grantConsent(grant), by: patient, nonce: UInt64(round + 2), chainID: chainID)))
            }
            out.withLock { all in for (index, transaction) in local { all[index] = transaction } }
        }
        return out.withLock { $0.map { $0! } }
    }

    func perClient(_ transactions: [Transaction], owner: (Int) -> Int) -> [[Transaction]] {
        var lists = Array(repeating: [Transaction](), count: clients)
        for (index, transaction) in transactions.enumerated() { lists[owner(index)].append(transaction) }
        return lists
    }

    struct Drive { var submitted = 0, rejected = 0, failed = 0 }

    /// Each client submits its list in order, pipelined, until the list or the time runs out.
    final class Totals: Sendable {
        let value = Mutex(Drive())
    }

    func drive(_ lists: [[Transaction]], _ connections: [NodeClient], tracker: Tracker, rate: Double, until end: UInt64?) -> Drive {
        let total = Totals()
        let perClientInterval = rate > 0 ? Double(lists.count) * 1_000_000_000 / rate : 0
        runThreads(lists.count) { client in
            let connection = connections[client]
            let start = DispatchTime.now().uptimeNanoseconds
            var submitted = 0
            for transaction in lists[client] {
                if let end, Node.now() >= end { break }
                if perClientInterval > 0 {
                    let due = start + UInt64(Double(submitted) * perClientInterval)
                    let now = DispatchTime.now().uptimeNanoseconds
                    if due > now { usleep(useconds_t((due - now) / 1_000)) }
                }
                let id = Mempool.id(of: transaction)
                tracker.acquire(client)
                tracker.sent(id, client: client)
                submitted += 1
                connection.submit(transaction) { answer in
                    switch answer {
                    case .success(.inMempool), .success(.committed):
                        tracker.admitted(id)
                    case .success(.rejected(let code, let reason)):
                        total.value.withLock { $0.rejected += 1 }
                        tracker.dropped(id)
                        if tracker.noteRejection() { printError("rejected (\(code)): \(reason)") }
                    case .failure:
                        total.value.withLock { $0.failed += 1 }
                        tracker.dropped(id)
                    }
                }
            }
            total.value.withLock { $0.submitted += submitted }
        }
        return total.value.withLock { $0 }
    }

    func format(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }
}

/// What is in flight, what was admitted and committed, and the commit latencies.
final class Tracker: Sendable {
    struct Entry {
        var client: Int
        var sent: UInt64
        var admitted = false
    }

    struct State {
        var entries: [Bytes32: Entry] = [:]
        var admitted = 0
        var committed = 0
        var latencies: [UInt64] = []
        var rejectionsShown = 0
    }

    struct Result {
        var admitted: Int
        var committed: Int
        var lost: Int
        var latencies: [UInt64]

        func percentile(_ p: Double) -> UInt64 {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        }
    }

    let state = Mutex(State())
    let slots: [DispatchSemaphore]

    init(clients: Int, window: Int) {
        slots = (0..<clients).map { _ in DispatchSemaphore(value: window) }
    }

    func acquire(_ client: Int) { slots[client].wait() }

    func sent(_ id: Bytes32, client: Int) {
        state.withLock { $0.entries[id] = Entry(client: client, sent: Node.now()) }
    }

    func admitted(_ id: Bytes32) {
        state.withLock { state in
            guard state.entries[id] != nil, state.entries[id]?.admitted == false else { return }
            state.entries[id]?.admitted = true
            state.admitted += 1
        }
    }

    func dropped(_ id: Bytes32) {
        if let entry = state.withLock({ $0.entries.removeValue(forKey: id) }) {
            slots[entry.client].signal()
        }
    }

    /// Whether to print this rejection (the first ten are shown).
    func noteRejection() -> Bool {
        state.withLock { state in
            state.rejectionsShown += 1
            return state.rejectionsShown <= 10
        }
    }

    /// A committed block's transactions, seen at `now`.
    func committed(_ ids: [Bytes32], now: UInt64) {
        let freed = state.withLock { state -> [Int] in
            var freed: [Int] = []
            for id in ids {
                guard let entry = state.entries.removeValue(forKey: id) else { continue }
                if !entry.admitted { state.admitted += 1 }
                state.committed += 1
                state.latencies.append(now - entry.sent)
                freed.append(entry.client)
            }
            return freed
        }
        for client in freed { slots[client].signal() }
    }

    var committedCount: Int { state.withLock { $0.committed } }
    var unsettled: Int { state.withLock { state in state.entries.count } }

    /// Waits until nothing submitted is unanswered or uncommitted; false on timeout.
    func waitSettled(seconds: Double) -> Bool {
        let deadline = Node.now() + UInt64(seconds * 1_000)
        while Node.now() < deadline {
            if unsettled == 0 { return true }
            usleep(20_000)
        }
        return unsettled == 0
    }

    func reset() {
        state.withLock { state in
            state.admitted = 0
            state.committed = 0
            state.latencies = []
        }
    }

    func result() -> Result {
        state.withLock { state in
            let lost = state.entries.values.filter(\.admitted).count
            return Result(admitted: state.admitted, committed: state.committed, lost: lost, latencies: state.latencies.sorted())
        }
    }
}

/// Follows one node as an observer peer: on each `STATUS` that is ahead, asks for the new blocks
/// and reports their transactions to the tracker.
final class CommitObserver: Sendable {
    struct State {
        var height: UInt64 = 0
        var known: UInt64 = 0
        var connection: ConnectionID?
        var request: (id: UInt64, sent: UInt64)?
        var nextID: UInt64 = 1
    }

    final class Shared: Sendable {
        let state = Mutex(State())
        let transport = Mutex<Transport?>(nil)

        /// Asks for the blocks after the observer's height, if the node has more and no request
        /// is out (or the last one is over 2 s old).
        func ask() {
            let request = state.withLock { state -> (ConnectionID, BlockRequest)? in
                let now = Node.now()
                guard state.known > state.height, let connection = state.connection else { return nil }
                if let pending = state.request, now - pending.sent < 2_000 { return nil }
                let request = BlockRequest(
                    requestID: state.nextID, startHeight: state.height + 1,
                    count: UInt16(min(UInt64(WireLimits.blockRequestCountMax), state.known - state.height)))
                state.nextID += 1
                state.request = (request.requestID, now)
                return (connection, request)
            }
            guard let (connection, message) = request, let transport = transport.withLock({ $0 }) else { return }
            try? transport.send(.blockRequest(message), on: connection)
        }
    }

    let shared = Shared()
    let transport: Transport

    init(chainID: String, nodeKey: Ed25519.PublicKey, port: UInt16, key: Ed25519.PrivateKey, logger: Logger, tracker: Tracker) throws {
        let shared = self.shared
        let connected = DispatchSemaphore(value: 0)
        transport = try Transport(
            configuration: TransportConfiguration(chainID: chainID, nodeKey: key, admittedPeerKeys: [nodeKey]), logger: logger
        ) { event in
            switch event {
            case .connected(let peer):
                shared.state.withLock { $0.connection = peer.connectionID }
                connected.signal()
            case .message(.status(let status), _):
                shared.state.withLock { $0.known = max($0.known, status.height) }
                shared.ask()
            case .message(.blockResponse(let response), _):
                let now = Node.now()
                var height: UInt64 = 0
                for committed in response.blocks {
                    tracker.committed(committed.block.transactions.map(Mempool.id(of:)), now: now)
                    height = committed.block.header.height
                }
                shared.state.withLock { state in
                    if state.request?.id == response.requestID { state.request = nil }
                    state.height = max(state.height, height)
                }
                shared.ask()
            default:
                break
            }
        }
        shared.transport.withLock { $0 = transport }
        transport.dial(PeerEndpoint(host: "127.0.0.1", port: port, key: nodeKey, channel: .peer))
        guard connected.wait(timeout: .now() + 10) == .success else {
            transport.shutdown()
            throw ValidationError("the benchmark could not connect to node 0's peer port \(port) as an observer")
        }
    }

    var height: UInt64 { shared.state.withLock { $0.height } }

    func close() { transport.shutdown() }
}

/// The node processes of a testnet, started from this binary.
final class ProcessCluster {
    struct Snapshot {
        var cpuSeconds: Double
        var signatureChecks: UInt64
        var rssMiB: Int
    }

    let testnet: Testnet
    let observer: Ed25519.PublicKey
    var pids: [pid_t] = []

    init(testnet: Testnet, observer: Ed25519.PublicKey) {
        self.testnet = testnet
        self.observer = observer
    }

    /// Starts node 0, 1, … in turn; each gets the running ones as its peers once they wrote their ports.
    func start() throws {
        let executable = Self.executablePath()
        var peers: [String] = []
        for node in testnet.nodes {
            var environment = ProcessInfoEnvironment.current.filter { !$0.key.hasPrefix("MEDLEDGER_") }
            environment["MEDLEDGER_PEERS"] = peers.joined(separator: ",")
            if node.index == 0 { environment["MEDLEDGER_OBSERVERS"] = Bytes32(observer.bytes)!.hex }
            let pid = try Self.spawn(
                executable, ["node", "--home", node.home.path], environment: environment, log: node.home.path + "/node.log")
            pids.append(pid)
            let deadline = Node.now() + 30_000
            var ports: BoundPorts?
            while ports == nil || ports?.p2p == 0 {
                guard Node.now() < deadline else {
                    throw ValidationError("node\(node.index) wrote no ports.json within 30 s; see \(node.home.path)/node.log")
                }
                usleep(50_000)
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    pids[node.index] = 0
                    throw ValidationError("node\(node.index) exited at start; see \(node.home.path)/node.log")
                }
                ports = try? node.home.loadPorts()
            }
            peers.append("\(node.card.nodeKey.hex)@127.0.0.1:\(ports!.p2p)")
        }
    }

    /// Waits until every node reports every other as a peer (status.json).
    func waitConnected(timeout: Int) throws {
        let deadline = Node.now() + UInt64(timeout) * 1_000
        while Node.now() < deadline {
            let statuses = testnet.nodes.map { Self.status($0.home.path) }
            if statuses.allSatisfy({ ($0?["peers"] ?? 0) >= UInt64(testnet.nodes.count - 1) && ($0?["height"] ?? 0) >= 1 }) { return }
            usleep(200_000)
        }
        throw ValidationError("the nodes did not all connect (and commit a block) within \(timeout) s; see the node.log files")
    }

    func snapshot() -> [Snapshot] {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return testnet.nodes.map { node in
            let pid = pids.indices.contains(node.index) ? pids[node.index] : 0
            var cpu = 0.0
            var rss = 0
            if let text = Self.read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") {
                let fields = text[text.index(after: close)...].split(separator: " ")
                // After the command: state is field 3, utime 14, stime 15, rss 24 (pages).
                if fields.count > 21 {
                    cpu = (Double(fields[11]) ?? 0) / ticks + (Double(fields[12]) ?? 0) / ticks
                    rss = ((Int(fields[21]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))) >> 20
                }
            }
            return Snapshot(cpuSeconds: cpu, signatureChecks: Self.status(node.home.path)?["signature_checks"] ?? 0, rssMiB: rss)
        }
    }

    /// SIGTERM to every node, then waits for each (SIGKILL after 10 s).
    func stop() {
        for pid in pids where pid > 0 { kill(pid, SIGTERM) }
        for pid in pids where pid > 0 {
            let deadline = Node.now() + 10_000
            var status: Int32 = 0
            while waitpid(pid, &status, WNOHANG) == 0 {
                if Node.now() > deadline {
                    kill(pid, SIGKILL)
                    waitpid(pid, &status, 0)
                    break
                }
                usleep(20_000)
            }
        }
        pids = []
    }

    /// utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15).
    static func cpuSeconds(of pid: pid_t) -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard let text = read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12 else { return 0 }
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks
    }

    /// Busy and total jiffies of the whole machine (the `cpu` line of /proc/stat).
    static func machineTicks() -> (busy: UInt64, total: UInt64) {
        guard let text = read("/proc/stat"), let line = text.split(separator: "\n").first else { return (0, 0) }
        let values = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard values.count >= 5 else { return (0, 0) }
        let total = values.reduce(0, +)
        return (total - values[3] - values[4], total)  // idle and iowait are not busy
    }

    static func loadAverage() -> String {
        read("/proc/loadavg").map { $0.split(separator: " ").prefix(3).joined(separator: " ") } ?? "?"
    }

    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: 4_096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/proc/self/exe"
    }

    static func spawn(_ path: String, _ arguments: [String], environment: [String: String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard result == 0 else { throw ValidationError("cannot start \(path): \(String(cString: strerror(result)))") }
        return pid
    }

    static func read(_ path: String) -> String? {
        guard let bytes = try? PosixRead.all(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The numeric members of a node's status.json.
    static func status(_ home: String) -> [String: UInt64]? {
        guard let text = read(home + "/status.json") else { return nil }
        var out: [String: UInt64] = [:]
        for member in text.trimmingCharacters().dropFirst().dropLast().split(separator: ",") {
            let parts = member.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let value = UInt64(parts[1]) else { continue }
            out[String(parts[0].filter { $0 != "\"" })] = value
        }
        return out
    }
}

/// Reads whole small files (/proc, status.json).
enum PosixRead {
    static func all(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("cannot open \(path)") }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            out += buffer[0..<count]
        }
        return out
    }
}

enum ProcessInfoEnvironment {
    static var current: [String: String] {
        var out: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") { out[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
            pointer += 1
        }
        return out
    }
}

/// Removes a directory tree (the benchmark's temporary cluster).
func removeBenchTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR, let directory = opendir(path) {
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(directory)
        for name in names { removeBenchTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

extension String {
    fileprivate func trimmingCharacters() -> Substring {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == " " { text.removeLast() }
        return text
    }
}

/// Runs `body(0)` … `body(count - 1)` each on its own thread (a client blocks on its window, so
/// the clients cannot share the cores' worker threads), and returns when all have.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Work: Sendable {
        let index: Int
        let body: @Sendable (Int) -> Void
        init(_ index: Int, _ body: @escaping @Sendable (Int) -> Void) {
            self.index = index
            self.body = body
        }
    }
    var threads: [pthread_t] = []
    for index in 0..<count {
        var thread = pthread_t()
        let work = Unmanaged.passRetained(Work(index, body)).toOpaque()
        let created = pthread_create(&thread, nil, { pointer in
            let work = Unmanaged<Work>.fromOpaque(pointer!).takeRetainedValue()
            work.body(work.index)
            return nil
        }, work)
        precondition(created == 0, "pthread_create failed: \(created)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Writes one line to standard output at once (not buffered: progress shows up as it happens,
/// also when the output goes to a file).
func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    bytes.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
}
