import MedLedgerConsensus
import MedLedgerSimulation
import MedLedgerWire
import Testing

@Suite("consensus on the simulator")
struct ConsensusTests {
    @Test("four validators on a good network commit the same ten blocks")
    func happyPath() throws {
        var options = Simulator.Options()
        options.minimumHeights = 10
        let report = try Simulator(scenario: Scenario(validators: 4), seed: 1, options: options).run()
        #expect(report.ok, "\(report.violations)")
        #expect(report.chains.count == 4)
        for chain in report.chains.values { #expect(chain.count >= 10) }
        for height in 0..<10 { #expect(Set(report.chains.values.map { $0[height] }).count == 1, "height \(height + 1)") }
        #expect(report.evidenceAgainst.isEmpty)
    }

    @Test("n = 4 with one validator crashed, n = 7 with two: the rest keep committing, and agree", arguments: [(4, Set([3])), (7, Set([1, 5]))])
    func crashedValidators(count: Int, crashed: Set<Int>) throws {
        for seed in UInt64(0)..<20 {
            var scenario = Scenario(validators: count)
            scenario.crashed = crashed
            var options = Simulator.Options()
            options.minimumHeights = 5
            let report = try Simulator(scenario: scenario, seed: seed, options: options).run()
            #expect(report.ok, "seed \(seed): \(report.violations)")
            #expect(report.chains.count == count - crashed.count)
            for (node, height) in report.honestHeights where !crashed.contains(node) { #expect(height >= 5, "seed \(seed), node \(node)") }
        }
    }

    @Test("two of four validators down: nothing commits; when one returns, commits resume")
    func noQuorumNoCommit() throws {
        var scenario = Scenario(validators: 4)
        scenario.restarts = [Scenario.Restart(validator: 2, at: 0, downFor: 30_000)]
        scenario.crashed = [3]
        let report = try Simulator(scenario: scenario, seed: 5).run()
        #expect(report.ok, "\(report.violations)")
        // Nothing can be decided while only half the power is up; after validator 2 is back, the
        // three commit.
        #expect(report.heightAtHealing == 0)
        #expect((report.recoveredAfter ?? .max) < 30_000)
        #expect(report.finishedAt >= 30_000)
        for node in [0, 1, 2] { #expect(report.honestHeights[node]! >= 3) }
    }

    @Test("a lossy, duplicating, reordering network with partitions of every kind that heal: agreement always, liveness after healing")
    func lossyNetwork() throws {
        for seed in UInt64(0)..<40 {
            let scenario = Scenario.random(seed: seed, validators: 4, mix: .network)
            let report = try Simulator(scenario: scenario, seed: seed).run()
            #expect(report.ok, "seed \(seed) [\(scenario)]: \(report.violations)")
        }
    }

    @Test("a run replays exactly from its seed")
    func deterministic() throws {
        let scenario = Scenario.random(seed: 42, validators: 7, mix: .mixed)
        let first = try Simulator(scenario: scenario, seed: 42).run()
        let second = try Simulator(scenario: scenario, seed: 42).run()
        #expect(first.chains == second.chains)
        #expect(first.events == second.events)
        #expect(first.finishedAt == second.finishedAt)
    }
}
