import MedLedgerConsensus
import MedLedgerSimulation
import MedLedgerWire
import Testing

/// The seeded sweeps over the fault mixes (1,000 seeds in all). A failure prints the scenario and
/// the command that replays it (`medledger-sim run ... --trace`); `Tools/sim-sweep` runs long
/// sweeps in a release build.
@Suite("consensus under fault mixes")
struct FaultMixTests {
    static func sweep(validators: Int, mix: Scenario.Mix, seeds: Range<UInt64>, options: Simulator.Options = .init()) throws -> [Simulator.Report] {
        try seeds.map { seed in
            let scenario = Scenario.random(seed: seed, validators: validators, mix: mix)
            return try Simulator(scenario: scenario, seed: seed, options: options).run()
        }
    }

    static func expectAllHold(_ reports: [Simulator.Report], validators: Int, mix: Scenario.Mix) {
        for report in reports {
            #expect(
                report.ok,
                "seed \(report.seed) [\(report.scenario)]: \(report.violations); replay: medledger-sim run --validators \(validators) --mix \(mix.rawValue) --seed \(report.seed) --trace"
            )
        }
    }

    @Test("n = 4, one faulty validator: agreement, validity, no honest double-sign, time, liveness after healing (100 seeds per mix)", arguments: Scenario.Mix.allCases)
    func fourValidators(mix: Scenario.Mix) throws {
        Self.expectAllHold(try Self.sweep(validators: 4, mix: mix, seeds: 0..<100), validators: 4, mix: mix)
    }

    @Test("n = 7, two faulty validators: the same invariants (43 seeds per mix)", arguments: Scenario.Mix.allCases)
    func sevenValidators(mix: Scenario.Mix) throws {
        Self.expectAllHold(try Self.sweep(validators: 7, mix: mix, seeds: 1_000..<1_043), validators: 7, mix: mix)
    }

    /// Scenarios under which bugs were found while the machine was built (Protocol/CONSENSUS.md
    /// section 17 lists them), replayed with the seeds that found them so they stay fixed.
    static let regressions: [(name: String, scenario: Scenario, seed: UInt64)] = {
        var certificate = Scenario(validators: 4)
        (certificate.dropRate, certificate.duplicateRate, certificate.minimumDelay, certificate.maximumDelay) = (0.21, 0.02, 2, 238)
        certificate.equivocators = [0]
        var polka = Scenario(validators: 4)
        (polka.dropRate, polka.duplicateRate, polka.minimumDelay, polka.maximumDelay) = (0.13, 0.06, 7, 447)
        polka.partitions = [Scenario.Partition(.isolate(3), from: 2_731, until: 7_386)]
        polka.equivocators = [0]
        var early = Scenario(validators: 7)
        (early.dropRate, early.duplicateRate, early.minimumDelay, early.maximumDelay) = (0.05, 0.06, 6, 599)
        early.partitions = [Scenario.Partition(.halves, from: 2_273, until: 21_533)]
        early.twins = [0, 2]
        var lostVotes = Scenario(validators: 4)
        lostVotes.crashed = [3]
        lostVotes.restarts = [
            Scenario.Restart(validator: 1, at: 1_000, downFor: 2_000), Scenario.Restart(validator: 2, at: 6_000, downFor: 500),
        ]
        return [
            ("block sync from a Byzantine peer whose certificate conflicts with a vote already held", certificate, 10),
            ("a polka that needs an equivocator's second vote", polka, 80),
            ("conflicting votes of the next height dropped from the early buffer", early, 11),
            ("votes signed before a crash, lost with it, while another validator is down", lostVotes, 3),
            ("a valid value re-proposed by a later round's proposer (its header names the first proposer)", Scenario.random(seed: 15364, validators: 4, mix: .twins), 15364),
        ]
    }()

    @Test("scenarios that once broke liveness hold", arguments: 0..<5)
    func regression(number: Int) throws {
        let (name, scenario, seed) = Self.regressions[number]
        let report = try Simulator(scenario: scenario, seed: seed).run()
        #expect(report.ok, "\(name) [\(scenario)], seed \(seed): \(report.violations)")
    }

    @Test("negative control: with the locking rule broken, the simulator finds an agreement violation within 50 seeds")
    func brokenLocksAreCaught() throws {
        var options = Simulator.Options()
        options.machineFaults.ignoreLocks = true
        var found: Simulator.Report?
        for seed in UInt64(0)..<50 where found == nil {
            let scenario = Scenario.random(seed: seed, validators: 4, mix: .lockAttack)
            let report = try Simulator(scenario: scenario, seed: seed, options: options).run()
            if report.violations.contains(where: { $0.hasPrefix("agreement") }) { found = report }
        }
        #expect(found != nil, "no agreement violation in 50 lock-attack seeds with locks ignored: the simulator is blind to a real bug")
        // The same seed with the rule intact holds.
        if let found {
            let honest = try Simulator(scenario: found.scenario, seed: found.seed).run()
            #expect(honest.ok, "seed \(found.seed): \(honest.violations)")
        }
    }

    @Test("an equivocating validator is caught: honest nodes produce evidence against it, and only it")
    func evidence() throws {
        for seed in UInt64(0)..<10 {
            var scenario = Scenario(validators: 4)
            scenario.equivocators = [1]
            var options = Simulator.Options()
            options.minimumHeights = 10
            let report = try Simulator(scenario: scenario, seed: seed, options: options).run()
            #expect(report.ok, "seed \(seed): \(report.violations)")
            #expect(report.evidenceAgainst == [1], "seed \(seed)")
        }
    }

    @Test("validators restarted at many points of a round never double-sign, and catch up")
    func restarts() throws {
        for seed in UInt64(0)..<100 {
            var scenario = Scenario(validators: 4)
            scenario.maximumDelay = 200
            scenario.restarts = [
                Scenario.Restart(validator: Int(seed % 4), at: 100 + seed * 37 % 3_000, downFor: 1 + seed * 13 % 2_000),
                Scenario.Restart(validator: Int((seed + 1) % 4), at: 4_000 + seed * 53 % 3_000, downFor: 300),
            ]
            var options = Simulator.Options()
            options.minimumHeights = 4
            let report = try Simulator(scenario: scenario, seed: seed, options: options).run()
            #expect(report.ok, "seed \(seed): \(report.violations)")
        }
    }

    @Test("a proposer that lies about time: its blocks are refused and block time stays within the honest clocks")
    func lyingProposer() throws {
        for seed in UInt64(0)..<20 {
            var scenario = Scenario(validators: 4)
            scenario.liars = [Int(seed % 4)]
            var options = Simulator.Options()
            options.minimumHeights = 8
            let report = try Simulator(scenario: scenario, seed: seed, options: options).run()
            #expect(report.ok, "seed \(seed): \(report.violations)")
        }
    }
}
