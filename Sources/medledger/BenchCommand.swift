import ArgumentParser
import Dispatch
import MedLedgerCrypto

/// `medledger bench`: measured speeds of the parts that bound throughput.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure MedLedger's hot paths on this machine.",
        discussion: "Build with -c release for meaningful figures: swift run -c release medledger bench signatures",
        subcommands: [SignaturesBench.self, HashesBench.self, LoadBench.self, ClusterBench.self]
    )
}

/// Ed25519 signing and verification, sequential and across the cores.
struct SignaturesBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signatures",
        abstract: "Ed25519 sign and verify, one core and all cores (signatures per second)."
    )

    @Option(help: "Signatures per measured round.")
    var count = 20_000

    @Option(help: "Rounds; the best round is reported.")
    var rounds = 3

    @Option(help: "Message size in bytes (a typical vote is about 100).")
    var messageBytes = 100

    func validate() throws {
        guard count > 0, rounds > 0, messageBytes >= 0 else {
            throw ValidationError("--count and --rounds must be positive and --message-bytes not negative")
        }
    }

    func run() {
        let keys = (0..<16).map { _ in Ed25519.PrivateKey() }
        let chainID = "medledger-bench"
        let messages = (0..<count).map { index in
            (0..<messageBytes).map { UInt8(truncatingIfNeeded: $0 &+ index) }
        }
        var signatures: [Ed25519.Signature] = []
        let signSeconds = best(rounds) {
            signatures = messages.enumerated().map { index, message in
                keys[index % keys.count].signature(for: .vote, chainID: chainID, message: message)
            }
        }
        let checks = messages.indices.map { index in
            SignatureCheck(
                publicKey: keys[index % keys.count].publicKey, signature: signatures[index], domain: .vote,
                chainID: chainID, message: messages[index])
        }
        var result = BatchVerifier.Result(failures: [])
        let sequentialSeconds = best(rounds) {
            result = BatchVerifier.verify(checks, parallelThreshold: Int.max, cache: nil)
        }
        precondition(result.allValid, "every benchmark signature must verify")
        let cores = ProcessInfoCores.active
        let parallelSeconds = best(rounds) {
            result = BatchVerifier.verify(checks, workers: cores, cache: nil)
        }
        precondition(result.allValid, "every benchmark signature must verify")

        func rate(_ seconds: Double) -> String { String(Int((Double(count) / seconds).rounded())) }
        print("Ed25519, \(count) signatures of \(messageBytes)-byte messages, best of \(rounds) rounds, \(cores) cores")
        print("  sign (one core):               \(rate(signSeconds)) signatures/s")
        print("  verify sequential (one core):  \(rate(sequentialSeconds)) signatures/s")
        print("  verify parallel (\(cores) workers):    \(rate(parallelSeconds)) signatures/s")
        print("  parallel speed-up:             \(String(format2(sequentialSeconds / parallelSeconds)))x")
    }

    private func best(_ rounds: Int, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<rounds {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = min(best, seconds)
        }
        return best
    }

    private func format2(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}

/// SHA-256 of small inputs: the state tree's and the ledger's hot operation.
struct HashesBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hashes",
        abstract: "SHA-256 of small inputs, one core (hashes per second)."
    )

    @Option(help: "Hashes per round.")
    var count = 1_000_000

    @Option(help: "Input size in bytes (a trie node is 65).")
    var inputBytes = 65

    func run() {
        let input = [UInt8](repeating: 0xA5, count: inputBytes)
        var best = Double.infinity
        var sink: UInt8 = 0
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<count { sink ^= SHA256.hash(input).bytes[0] }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        print("SHA-256 of \(inputBytes)-byte inputs: \(Int((Double(count) / best).rounded())) hashes/s (best of 3; checksum \(sink))")
    }
}
