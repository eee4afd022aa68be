import ArgumentParser
import Dispatch
import Logging
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNet
import MedLedgerNode
import MedLedgerStore
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#endif

/// `medledger node --home DIR`: runs a facility's node until SIGTERM or SIGINT.
struct NodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a node from its home directory (made by `medledger init` or `medledger testnet`).",
        discussion: """
            Reads DIR/config.json (MEDLEDGER_* environment variables override it), the genesis and
            the keys in DIR, replays the chain from DIR/data, listens, dials the configured peers and
            takes part in consensus, and serves GET /metrics and GET /healthz on metrics_listen. Writes
            the ports it bound to DIR/ports.json and a status line to DIR/status.json every second. SIGTERM or SIGINT stops it cleanly; a SIGKILL loses nothing
            committed.
            """)

    @Option(name: .long, help: "The node's home directory.") var home: String

    func run() throws {
        let home = NodeHome(home)
        let config: NodeConfig
        do {
            config = try home.loadConfig()
        } catch {
            throw ValidationError("\(error)")
        }
        let level = Logger.Level(rawValue: config.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "medledger.node")
        logger[metadataKey: "moniker"] = "\(config.moniker)"
        // Test switches of the test suites are not settings; anything else with the prefix is a typo.
        for name in NodeConfig.unrecognisedVariables(in: NodeConfig.processEnvironment) where !name.hasPrefix("MEDLEDGER_TEST_") {
            logger.warning("\(name) is not a MedLedger setting and is ignored; the settings are listed in the README (Running a node)")
        }

        let genesis: Genesis
        let nodeKey: Ed25519.PrivateKey
        let validatorKey: Ed25519.PrivateKey
        do {
            genesis = try home.loadGenesis(for: config)
            nodeKey = try home.loadNodeKey()
            validatorKey = try home.loadValidatorKey()
        } catch {
            throw ValidationError("\(error)")
        }
        var options = Node.Options(genesis: genesis, dataDirectory: home.dataDirectory, nodeKey: nodeKey, validatorKey: validatorKey)
        options.p2pHost = config.p2pListen.host
        options.p2pPort = config.p2pListen.port
        options.clientHost = config.clientListen.host
        options.clientPort = config.clientListen.port
        options.metricsHost = config.metricsListen?.host
        options.metricsPort = config.metricsListen?.port ?? 0
        options.peers = try config.persistentPeers.map { peer in
            guard let key = Bytes32(hex: peer.nodeKey), let publicKey = try? Ed25519.PublicKey(bytes: key.bytes) else {
                throw ValidationError("the peer \(peer) has a node key that is not 64 hex digits: fix persistent_peers or MEDLEDGER_PEERS")
            }
            return PeerEndpoint(host: peer.address.host, port: peer.address.port, key: publicKey)
        }
        options.observers = Set(config.observerKeys.compactMap { try? Ed25519.PublicKey(bytes: $0.bytes) })
        options.timeouts = config.timeouts.consensusTimeouts
        options.commitWait = .milliseconds(Int(config.timeouts.commitMs))
        options.mempool = config.mempool.limits
        options.blockMaxTransactions = config.blockMaxTransactions
        options.blockMaxBytes = config.blockMaxBytes
        options.statusFile = home.path + "/status.json"
        options.recordReplicas = config.recordReplicas
        options.blobsDirectory = home.blobsDirectory
        // The keys of the access protocol: without them the node serves no fetch_record.
        if PosixFileSystem().exists(home.organisationKeyPath) {
            do {
                options.organisationKey = try home.loadOrganisationKey()
                options.recordKey = try home.loadRecordKey()
            } catch {
                options.organisationKey = nil
                options.recordKey = nil
                logger.warning("fetch_record is off: \(error)")
            }
        } else {
            logger.notice("no \(home.organisationKeyPath): this node answers no fetch_record (an observer)")
        }
        options.logger = logger
        if let path = home.keyLogPath(config) {
            do {
                options.keyLog = try KeyLogWriter(path: path)
            } catch {
                throw ValidationError("cannot open the key log \(path): \(error); fix key_log or MEDLEDGER_KEY_LOG, or leave it unset")
            }
        }

        let node: Node
        do {
            node = try Node(options: options)
            try node.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        do {
            try home.writePorts(BoundPorts(p2p: node.p2pAddress?.port ?? 0, client: node.clientAddress?.port ?? 0, metrics: node.metricsAddress?.port))
        } catch {
            logger.error("cannot write \(home.portsPath): \(error)")
        }

        // SIGTERM and SIGINT stop the node cleanly; the exit code says whether it failed on its own.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let signals = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            source.setEventHandler {
                logger.notice("signal \(number): stopping")
                node.stop()
                Foundation_exit(0)
            }
            source.resume()
            return source
        }
        let watchdog = DispatchSource.makeTimerSource(queue: .main)
        watchdog.schedule(deadline: .now() + 1, repeating: 1)
        watchdog.setEventHandler {
            if let fault = node.fault {
                logger.critical("the node stopped: \(fault)")
                node.stop()
                Foundation_exit(1)
            }
        }
        watchdog.resume()
        withExtendedLifetime((signals, watchdog)) { dispatchMain() }
    }
}

private func Foundation_exit(_ code: Int32) -> Never { exit(code) }
