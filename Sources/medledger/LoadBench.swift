import ArgumentParser
import Logging
import Dispatch
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNode
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#endif

/// `medledger bench load`: a steady stream of patient registrations through a running node's
/// client port, attested by that node's facility; reports how many were admitted and committed,
/// and how long a commit took.
struct LoadBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Send a steady load of transactions to a running node and check that every admitted one commits.",
        discussion: """
            Uses the node home DIR (made by `medledger testnet` or `medledger init`) for the node's
            client port (ports.json), its node key and its facility's organisation key, which attests
            each new patient. Exits 1 if an admitted transaction is not committed within --settle
            seconds of the end.
            """)

    @Option(name: .long, help: "The home of the node to load.") var home: String
    @Option(help: "Transactions per second.") var rate = 5.0
    @Option(help: "Seconds of load.") var duration = 60
    @Option(help: "Seconds to wait after the load for the last commits.") var settle = 30
    @Option(help: "Print a progress line every this many seconds (0: only the summary).") var every = 10
    @Option(help: "The node's client address; the port comes from ports.json.") var host = "127.0.0.1"
    @Option(
        name: .customLong("committed-log"),
        help: "Append one line per transaction the node acknowledged as committed: its id (hex) and height.")
    var committedLog: String?
    @Flag(
        name: .customLong("keep-going"),
        help: "On a lost connection, reconnect (every 0.5 s) and go on, resubmitting what is pending, instead of stopping.")
    var keepGoing = false

    func validate() throws {
        guard rate > 0, rate <= 10_000 else { throw ValidationError("--rate must be above 0 and at most 10000 (got \(rate))") }
        guard duration > 0 else { throw ValidationError("--duration must be at least 1 second") }
    }

    func run() throws {
        let home = NodeHome(home)
        var client: NodeClient
        let organisation: Ed25519.PrivateKey
        let chainID: String
        let host = self.host
        let connect: () throws -> NodeClient
        do {
            guard let ports = try home.loadPorts(), ports.client != 0 else {
                throw ValidationError("\(home.portsPath) names no client port: start the node first (medledger node --home \(home.path))")
            }
            let card = try home.loadFacilityCard()
            organisation = try home.loadOrganisationKey()
            chainID = card.chainID
            let nodeKey = try Ed25519.PublicKey(bytes: card.nodeKey.bytes)
            connect = {
                // The port again: a restarted node may have bound another one.
                let port = (try? home.loadPorts())?.client ?? ports.client
                return try NodeClient(
                    chainID: chainID, host: host, port: port, nodeKey: nodeKey,
                    key: Ed25519.PrivateKey(), logger: { var logger = Logger(label: "medledger.load"); logger.logLevel = .critical; return logger }())
            }
            client = try connect()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(error)")
        }
        var committedFile: UnsafeMutablePointer<FILE>?
        if let committedLog {
            guard let file = fopen(committedLog, "a") else {
                throw ValidationError("cannot open \(committedLog) for appending: \(String(cString: strerror(errno))); pick a writable path")
            }
            committedFile = file
        }
        defer { if let committedFile { fclose(committedFile) } }
        var connectionErrors = 0
        /// With --keep-going, a failed exchange is retried on a new connection until it succeeds
        /// or the deadline passes.
        func exchange<T>(until deadline: UInt64, _ body: (NodeClient) throws -> T) throws -> T {
            while true {
                do {
                    return try body(client)
                } catch {
                    guard keepGoing, Node.now() < deadline else { throw error }
                    connectionErrors += 1
                    usleep(500_000)
                    if let fresh = try? connect() { client = fresh }
                }
            }
        }

        var pending: [(transaction: Transaction, sent: UInt64)] = []
        var latencies: [UInt64] = []
        var submitted = 0
        var rejected = 0
        let start = Node.now()
        let interval = 1_000.0 / rate
        var nextReport = start + UInt64(every) * 1_000

        func poll() throws {
            var still: [(Transaction, UInt64)] = []
            for (transaction, sent) in pending {
                if case .committed(let height) = try exchange(until: Node.now() + UInt64(settle) * 1_000, { try $0.submit(transaction) }) {
                    latencies.append(Node.now() - sent)
                    if let committedFile {
                        fputs("\(Mempool.id(of: transaction).hex) \(height)\n", committedFile)
                        fflush(committedFile)
                    }
                } else {
                    still.append((transaction, sent))
                }
            }
            pending = still
        }

        do {
            while Node.now() < start + UInt64(duration) * 1_000 {
                let due = start + UInt64(Double(submitted + rejected) * interval)
                if Node.now() < due { usleep(useconds_t(min(250_000, (due - Node.now()) * 1_000))) }
                let patient = Ed25519.PrivateKey()
                let box = Bytes32(secureRandomBytes(32))!
                let transaction = Transaction.signed(
                    .registerPatient(.attested(patient: patient.publicKey.wire, encryptionKey: box, by: organisation, chainID: chainID)),
                    by: patient, nonce: 1, chainID: chainID)
                switch try exchange(until: start + UInt64(duration + settle) * 1_000, { try $0.submit(transaction) }) {
                case .inMempool, .committed:
                    submitted += 1
                    pending.append((transaction, Node.now()))
                case .rejected(let code, let reason):
                    rejected += 1
                    print("rejected (\(code)): \(reason)")
                }
                if pending.count > 50 || Node.now() >= nextReport { try poll() }
                if every > 0, Node.now() >= nextReport {
                    let status = try exchange(until: start + UInt64(duration + settle) * 1_000, { try $0.status() })
                    print("\((Node.now() - start) / 1_000) s: \(submitted) admitted, \(latencies.count) committed, \(pending.count) pending, \(rejected) rejected; height \(status.height)")
                    nextReport += UInt64(every) * 1_000
                }
            }
            let settleBy = Node.now() + UInt64(settle) * 1_000
            while !pending.isEmpty, Node.now() < settleBy {
                try poll()
                if !pending.isEmpty { usleep(250_000) }
            }
        } catch {
            throw ValidationError("the load stopped: \(error)")
        }
        latencies.sort()
        func percentile(_ p: Double) -> UInt64 { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let seconds = Double(Node.now() - start) / 1_000
        print(
            "load: \(submitted) admitted, \(latencies.count) committed, \(pending.count) lost, \(rejected) rejected in \(Int(seconds.rounded())) s"
                + (keepGoing ? ", \(connectionErrors) connection errors; " : "; ")
                + "commit latency p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(latencies.last ?? 0) ms")
        if !pending.isEmpty { throw ExitCode(1) }
    }
}
