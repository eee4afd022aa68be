import Foundation
import MedLedgerLedger
import MedLedgerWire
import Testing

/// Timings of the state tree at the sizes the node meets; run by hand, in release:
///
///     MEDLEDGER_BENCH=1 swift test -c release --filter StateTreeBench
@Suite("StateTreeBench", .enabled(if: ProcessInfo.processInfo.environment["MEDLEDGER_BENCH"] == "1"))
struct StateTreeBench {
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ value: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", value) }

    static func report(_ parts: String...) { print("StateTreeBench: " + parts.joined(separator: " ")) }

    /// Resident memory of this process in MiB (Linux), or nil.
    static func residentMiB() -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kib / 1024
    }

    @Test func millionKeysAndBlocksOfThirtyThousandUpdates() {
        let clock = ContinuousClock()
        var random = StateTreeRandom(seed: 2026)
        let total = 1_000_000
        // Keys like the ledger's (a kind tag and a 32-byte id), values of 100 bytes.
        let keys = (0..<total).map { _ in [UInt8(3)] + random.bytes(32) }
        let value = random.bytes(100)
        let before = Self.residentMiB()

        var tree = StateTree()
        let insertTime = clock.measure {
            for key in keys { tree.set(key, value) }
        }
        var root = Bytes32.zero
        let hashTime = clock.measure { root = tree.rootHash }
        Self.report(
            "insert \(total) keys: \(Self.format(Self.seconds(insertTime))) s,",
            "first root: \(Self.format(Self.seconds(hashTime))) s,",
            "total \(Self.format(Self.seconds(insertTime + hashTime))) s (root \(root.hex.prefix(16))...)")
        if let before, let after = Self.residentMiB() {
            Self.report("resident memory for \(total) keys: \(Self.format(after - before, 0)) MiB")
        }

        // Blocks: take a speculative copy of the committed state, update 30,000 random existing
        // keys in it, compute its root, commit it.
        var blockTimes: [(update: Double, root: Double)] = []
        for block in 0..<5 {
            let committed = tree
            var speculative = committed
            let touched = (0..<30_000).map { _ in keys[Int.random(in: 0..<total, using: &random)] }
            let newValue = random.bytes(100)
            let updateTime = clock.measure {
                for key in touched { speculative.set(key, newValue) }
            }
            var blockRoot = Bytes32.zero
            let rootTime = clock.measure { blockRoot = speculative.rootHash }
            #expect(blockRoot != committed.rootHash)
            tree = speculative
            blockTimes.append((Self.seconds(updateTime), Self.seconds(rootTime)))
            Self.report(
                "block \(block): 30000 updates on a snapshot of \(total) keys:",
                "set \(Self.format(Self.seconds(updateTime))) s + root \(Self.format(Self.seconds(rootTime))) s",
                "= \(Self.format(Self.seconds(updateTime + rootTime))) s")
        }
        let sums = blockTimes.map { $0.update + $0.root }.sorted()
        Self.report("30000 updates + root, median of 5 blocks: \(Self.format(sums[2])) s")

        // Proofs against the hashed tree, half of present keys and half of absent ones.
        let root2 = tree.rootHash
        let proofKeys = (0..<100_000).map { index in
            index % 2 == 0 ? keys[Int.random(in: 0..<total, using: &random)] : [UInt8(9)] + random.bytes(32)
        }
        var proofs: [StateProof] = []
        proofs.reserveCapacity(proofKeys.count)
        let proveTime = clock.measure {
            for key in proofKeys { proofs.append(tree.proof(for: key)) }
        }
        let values = proofKeys.map { tree[$0] }
        var encodedBytes = 0
        let encodeTime = clock.measure {
            for proof in proofs { encodedBytes += proof.canonicalBytes.count }
        }
        var verified = 0
        let verifyTime = clock.measure {
            for (index, proof) in proofs.enumerated()
            where proof.verify(root: root2, key: proofKeys[index], value: values[index]) {
                verified += 1
            }
        }
        #expect(verified == proofs.count)
        let n = Double(proofs.count)
        let meanDepth = Double(proofs.map(\.depth).reduce(0, +)) / n
        Self.report(
            "proofs in a \(total)-key tree: generate \(Self.format(n / Self.seconds(proveTime), 0))/s,",
            "verify \(Self.format(n / Self.seconds(verifyTime), 0))/s,",
            "encode \(Self.format(n / Self.seconds(encodeTime), 0))/s,",
            "mean depth \(Self.format(meanDepth, 1)),",
            "mean encoded size \(Self.format(Double(encodedBytes) / n, 0)) bytes")
    }
}
