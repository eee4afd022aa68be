import MedLedgerConsensus
import MedLedgerWire
import Testing

@Suite("consensus on the simulator")
struct ConsensusTests {
    @Test("four validators on a good network commit the same ten blocks")
    func happyPath() throws {
        let sim = try Simulator(validators: 4, seed: 1)
        sim.run(heights: 10, until: 600_000)
        #expect(sim.violations.isEmpty, "\(sim.violations)")
        for node in sim.nodes { #expect(node.committed.count >= 10) }
        for height in UInt64(1)...10 {
            #expect(Set(sim.nodes.map { $0.committed[height] }).count == 1, "height \(height)")
        }
    }

    @Test("n = 4 with one validator crashed, n = 7 with two: the rest keep committing, and agree", arguments: [(4, Set([3])), (7, Set([1, 5]))])
    func crashedValidators(count: Int, crashed: Set<Int>) throws {
        for seed in UInt64(0)..<20 {
            var faults = Simulator.Faults()
            faults.crashed = crashed
            let sim = try Simulator(validators: count, seed: seed, faults: faults)
            sim.run(heights: 5, until: 600_000)
            #expect(sim.violations.isEmpty, "seed \(seed): \(sim.violations)")
            for index in sim.liveNodes { #expect(sim.nodes[index].committed.count >= 5, "seed \(seed), node \(index)") }
        }
    }

    @Test("a lossy, duplicating, reordering network with a partition that heals: agreement always, liveness after healing")
    func lossyNetwork() throws {
        for seed in UInt64(0)..<60 {
            var faults = Simulator.Faults()
            faults.dropRate = 0.15
            faults.duplicateRate = 0.1
            faults.maximumDelay = 400
            faults.partitionUntil = seed % 3 == 0 ? 20_000 : 0
            let sim = try Simulator(validators: 4, seed: seed, faults: faults)
            sim.run(heights: 4, until: 2_000_000)
            #expect(sim.violations.isEmpty, "seed \(seed): \(sim.violations)")
            for index in sim.liveNodes { #expect(sim.nodes[index].committed.count >= 4, "seed \(seed): node \(index) is stuck at \(sim.nodes[index].committed.count)") }
        }
    }
}

