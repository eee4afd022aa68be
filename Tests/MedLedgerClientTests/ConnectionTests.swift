import Foundation
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire
import Synchronization
import Testing
@testable import MedLedgerClient

@Suite("client connections: endpoints, failover, timeouts, pipelining")
struct ConnectionTests {
    let chain = MiniChain()

    @Test("an endpoint parses from host:port@nodekey, IPv6 in brackets; every mistake says what the form is")
    func endpointParsing() throws {
        let key = Keys.signing("n").publicKey.wire
        let endpoint = try ClientEndpoint(parsing: "127.0.0.1:26601@\(key.hex)")
        #expect(endpoint == ClientEndpoint(host: "127.0.0.1", port: 26601, nodeKey: key))
        #expect(try ClientEndpoint(parsing: endpoint.description) == endpoint)
        let six = try ClientEndpoint(parsing: "[::1]:7@\(key.hex.uppercased())")
        #expect(six.host == "::1" && six.port == 7 && six.nodeKey == key)
        #expect(try ClientEndpoint(parsing: six.description) == six)
        #expect(try ClientEndpoint.parseList("a:1@\(key.hex), b:2@\(key.hex)").map(\.host) == ["a", "b"])

        for (text, expected) in [
            ("127.0.0.1:26601", "has no node key"), ("127.0.0.1:26601@abc", "is not a node key"),
            ("127.0.0.1:26601@\(String(repeating: "g", count: 64))", "is not a node key"),
            ("127.0.0.1@\(key.hex)", "is not host:port"), ("127.0.0.1:0@\(key.hex)", "is not a port"),
            ("127.0.0.1:70000@\(key.hex)", "is not a port"), (":1@\(key.hex)", "has no host"),
        ] {
            #expect {
                try ClientEndpoint(parsing: text)
            } throws: { error in
                let message = "\(error)"
                return message.contains(expected) && message.contains("host:port@nodekey")
            }
        }
    }

    @Test("a client without endpoints is refused before anything is dialled")
    func noEndpoints() {
        #expect(throws: LedgerClientError.self) { try makeClient(chain, []) }
    }

    @Test("a closed port is skipped: the request goes to the next endpoint, which stays preferred")
    func failoverFromClosedPort() throws {
        let node = try FakeNode(key: chain.members[1].node) { _ in .answer(FakeNode.status(facility: self.chain.facility(1))) }
        let dead = ClientEndpoint(host: "127.0.0.1", port: try closedPort(), nodeKey: chain.members[0].node.publicKey.wire)
        let client = try makeClient(chain, [dead, node.endpoint])
        let started = ContinuousClock.now
        let status = try client.status()
        #expect(status.facility == chain.facility(1))
        #expect(ContinuousClock.now - started < .seconds(2), "a refused connection must fail fast, not wait for the timeout")
        #expect(client.state.withLock { $0.preferred } == 1)
        _ = try client.status()
        #expect(node.recorded.requests.withLock { $0.count } == 2)
    }

    @Test("when no endpoint answers, the error lists every endpoint with its reason and says what to check")
    func allUnreachable() throws {
        let endpoints = try (0..<2).map { ClientEndpoint(host: "127.0.0.1", port: try closedPort(), nodeKey: chain.members[$0].node.publicKey.wire) }
        let client = try makeClient(chain, endpoints)
        let error = failure { try client.status() }
        guard case .unreachable(let failures)? = error else { Issue.record("expected unreachable, got \(String(describing: error))"); return }
        do {
            #expect(failures.count == 2)
            #expect(failures.allSatisfy { $0.reason.contains("connection_refused") && $0.reason.contains("nothing listens") })
            let message = "\(LedgerClientError.unreachable(failures))"
            #expect(message.contains("2 tried") && message.contains("ports.json") && message.contains("facility.json"))
        }
    }

    @Test("a node that cannot prove the expected node key is refused, and the reason names the key")
    func wrongNodeKey() throws {
        let node = try FakeNode(key: chain.members[1].node) { _ in .answer(FakeNode.status(facility: self.chain.facility(1))) }
        let impostor = ClientEndpoint(host: "127.0.0.1", port: node.port, nodeKey: chain.members[2].node.publicKey.wire)
        let client = try makeClient(chain, [impostor])
        #expect(throws: LedgerClientError.self) { _ = try client.status() }
        #expect(node.recorded.requests.withLock { $0.isEmpty }, "no request may reach a node with another key")
    }

    @Test("a request without an answer times out; the next request starts at the next endpoint")
    func timeoutMovesOn() throws {
        let silent = try FakeNode(key: chain.members[0].node) { _ in .silence }
        let good = try FakeNode(key: chain.members[1].node) { _ in .answer(FakeNode.status(facility: self.chain.facility(1))) }
        let client = try makeClient(chain, [silent.endpoint, good.endpoint], requestTimeout: .milliseconds(1_500))
        let error = failure { try client.status() }
        guard case .timeout(let what, let after)? = error else { Issue.record("expected timeout, got \(String(describing: error))"); return }
        do {
            #expect(what.contains("status") && after == .milliseconds(1_500))
            #expect("\(LedgerClientError.timeout(what: what, after: after))".contains("try again"))
        }
        #expect(try client.status().facility == chain.facility(1))
    }

    @Test("a connection that closes while a request waits fails the request over to the next endpoint")
    func connectionLostFailsOver() throws {
        let closing = try FakeNode(key: chain.members[0].node) { _ in .close }
        let good = try FakeNode(key: chain.members[1].node) { _ in .answer(FakeNode.status(facility: self.chain.facility(1))) }
        let client = try makeClient(chain, [closing.endpoint, good.endpoint])
        #expect(try client.status().facility == chain.facility(1))
        #expect(closing.recorded.requests.withLock { $0.count } == 1)
    }

    @Test("a status of another chain is refused")
    func otherChain() throws {
        let node = try FakeNode(key: chain.members[0].node) { _ in .answer(FakeNode.status(facility: self.chain.facility(0), chainID: "other-chain")) }
        let client = try makeClient(chain, [node.endpoint])
        #expect {
            _ = try client.status()
        } throws: { error in
            guard case .badAnswer(let detail)? = error as? LedgerClientError else { return false }
            return detail.contains("other-chain")
        }
    }

    @Test("a refusal keeps its code and name and says what to do")
    func refusalCarriesCode() throws {
        let node = try FakeNode(key: chain.members[0].node) { _ in .refuse(.notAuthorised, "only the patient may ask") }
        let client = try makeClient(chain, [node.endpoint])
        let patient = Keys.signing("p")
        do {
            _ = try client.auditTrail(patient: patient.publicKey.wire, as: patient)
            Issue.record("refused request succeeded")
        } catch {
            #expect(error.code == LedgerError.Code.notAuthorised.rawValue)
            #expect(error == .refused(code: 1031, name: "not_authorised", reason: "only the patient may ask"))
            #expect(error.description.contains("use their key"))
        }
    }

    @Test("requests from many threads share one connection and each gets its own answer, whatever the order")
    func pipelined() async throws {
        // Answers come back after a delay that depends on the request, so out of order.
        let node = try FakeNode(
            key: chain.members[0].node,
            delay: { request in .milliseconds(Int(request.body.last ?? 0) % 7 * 15) },
            handler: { request in
                guard let query = try? MayReadQuery(canonicalBytes: request.body) else { return .refuse(.malformed, "?") }
                // Echo the record id's first byte as the height, so each answer is identifiable.
                return .answer(MayReadAnswer(height: UInt64(query.record.bytes[0]), allowed: true, consent: nil, code: 0).canonicalBytes)
            })
        let client = try makeClient(chain, [node.endpoint])
        let asker = Keys.signing("asker")
        let results = Mutex<[UInt8: UInt64]>([:])
        DispatchQueue.concurrentPerform(iterations: 24) { index in
            let record = Bytes32([UInt8(index)] + [UInt8](repeating: UInt8(index), count: 31))!
            if let answer = try? client.mayRead(requester: asker.publicKey.wire, record: record, purpose: .treatment, as: asker) {
                results.withLock { $0[UInt8(index)] = answer.height }
            }
        }
        let answers = results.withLock { $0 }
        #expect(answers.count == 24)
        #expect(answers.allSatisfy { UInt64($0.key) == $0.value })
        #expect(node.recorded.connections.withLock { $0.count } == 1, "every request must share the one connection")
    }

    @Test("every request is signed by the party it speaks for, for this chain, and stamped now")
    func requestSigning() throws {
        let client = try makeClient(chain, [ClientEndpoint(host: "127.0.0.1", port: 1, nodeKey: chain.members[0].node.publicKey.wire)])
        let party = Keys.signing("party")
        let body = PatientPage(patient: party.publicKey.wire, cursor: 5, limit: 10).canonicalBytes
        let request = client.signedRequest(.timeline, body: body, signer: party)
        #expect(request.kind == 5 && request.signer == party.publicKey.wire && request.body == body)
        #expect(party.publicKey.wire.ed25519.verifies(request.signature, for: .clientRequest, chainID: MiniChain.chainID, message: request.signedBytes))
        #expect(!party.publicKey.wire.ed25519.verifies(request.signature, for: .clientRequest, chainID: "another", message: request.signedBytes))
        let now = LedgerClient.nowMilliseconds()
        #expect(request.timestamp <= now && now - request.timestamp < 5_000)
        // The page body is the canonical encoding of CLIENT.md: patient, u64 cursor, u16 limit.
        #expect(body == party.publicKey.wire.bytes + [0, 0, 0, 0, 0, 0, 0, 5] + [0, 10])
    }
}
