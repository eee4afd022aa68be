import Dispatch
import MedLedgerCrypto
import MedLedgerWire

extension Transport {
    /// Dials `endpoint` once. The outcome is an event (`connected`) or a counted failure
    /// (``TransportCounters/dialFailures``, ``TransportCounters/refusals``,
    /// ``TransportCounters/remoteCloses``); nothing is retried.
    public func dial(_ endpoint: PeerEndpoint) {
        startDial(endpoint)
    }

    /// Keeps a connection to `endpoint`: dials it now, and again with ``TransportConfiguration/redialBackoff``
    /// whenever no connection to its key (inbound or outbound) is established.
    public func addPeer(_ endpoint: PeerEndpoint) {
        let start: Bool = state.withLock { state in
            guard !state.isShutDown, state.endpoints[endpoint.key] == nil else { return false }
            let generation = state.nextGeneration
            state.nextGeneration += 1
            state.endpoints[endpoint.key] = Endpoint(endpoint: endpoint, dialing: true, generation: generation)
            return state.established[Slot(channel: endpoint.channel, key: endpoint.key)] == nil
        }
        if start {
            startDial(endpoint)
        } else {
            state.withLock { $0.endpoints[endpoint.key]?.dialing = false }
        }
    }

    /// Stops redialling the peer with `key`; an established connection stays.
    public func removePeer(_ key: Ed25519.PublicKey) {
        state.withLock { _ = $0.endpoints.removeValue(forKey: key) }
    }

    /// Schedules the next dial of a configured peer after its backoff delay, unless it is
    /// connected, already being dialled, or was removed.
    func scheduleRedial(_ key: Ed25519.PublicKey) {
        let plan: (Duration, UInt64)? = state.withLock { state in
            guard !state.isShutDown, var entry = state.endpoints[key], !entry.dialing,
                state.established[Slot(channel: entry.endpoint.channel, key: key)] == nil
            else { return nil }
            let delay = configuration.redialBackoff.delay(attempt: entry.attempt)
            entry.attempt += 1
            entry.dialing = true
            state.endpoints[key] = entry
            return (delay, entry.generation)
        }
        guard let (delay, generation) = plan else { return }
        logger.debug("redial scheduled", metadata: ["peer": "\(PeerInfo.shortKey(key))", "delay": "\(delay)"])
        controlQueue.asyncAfter(deadline: .now() + .nanoseconds(Int(delay.nanoseconds))) { [weak self] in
            self?.redial(key, generation: generation)
        }
    }

    private func redial(_ key: Ed25519.PublicKey, generation: UInt64) {
        let endpoint: PeerEndpoint? = state.withLock { state in
            guard !state.isShutDown, let entry = state.endpoints[key], entry.generation == generation else { return nil }
            if state.established[Slot(channel: entry.endpoint.channel, key: key)] != nil {
                // Connected meanwhile (it dialled us); its close schedules the next redial.
                state.endpoints[key]?.dialing = false
                return nil
            }
            return entry.endpoint
        }
        if let endpoint { startDial(endpoint) }
    }

    /// Resolves (off every connection's queue: `getaddrinfo` blocks), creates a non-blocking
    /// socket, starts `connect(2)` and hands the socket to a new outbound connection.
    func startDial(_ endpoint: PeerEndpoint) {
        let go = state.withLock { state -> Bool in
            guard !state.isShutDown else { return false }
            state.counters.dialAttempts += 1
            return true
        }
        guard go else { return }
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            let address: SocketAddress
            do throws(NetError) {
                address = try SocketAddress.resolve(endpoint.host, port: endpoint.port)[0]
            } catch {
                dialFailed(endpoint, reason: "resolve_failed", detail: error.detail)
                return
            }
            let fd: Int32
            do throws(Syscall.Errno) {
                fd = try Syscall.socket(family: address.family)
            } catch {
                dialFailed(endpoint, reason: error.name, detail: "cannot create a socket: \(error)")
                return
            }
            Syscall.setNoDelay(fd)
            do throws(Syscall.Errno) {
                _ = try Syscall.connect(fd, address)
            } catch {
                Syscall.close(fd)
                dialFailed(endpoint, reason: error.name, detail: "connect to \(address) failed: \(error)")
                return
            }
            let connection: Connection? = state.withLock { state in
                guard !state.isShutDown else { return nil }
                let id = ConnectionID(rawValue: state.nextID)
                state.nextID += 1
                let connection = Connection(
                    id: id, fd: fd, direction: .outbound, channel: endpoint.channel, remote: address,
                    endpoint: endpoint, transport: self, target: ioQueue)
                state.connections[id] = connection
                state.openDescriptors += 1
                return connection
            }
            guard let connection else {
                Syscall.close(fd)
                return
            }
            connection.start()
        }
    }

    /// A dial failed before a connection existed: count it and, for a configured peer, retry.
    private func dialFailed(_ endpoint: PeerEndpoint, reason: String, detail: String) {
        logger.warning("dial failed", metadata: ["endpoint": "\(endpoint)", "reason": "\(reason)", "detail": "\(detail)"])
        let retry: Bool = state.withLock { state in
            state.counters.dialFailures[reason, default: 0] += 1
            guard state.endpoints[endpoint.key] != nil else { return false }
            state.endpoints[endpoint.key]?.dialing = false
            return true
        }
        if retry { scheduleRedial(endpoint.key) }
    }
}
