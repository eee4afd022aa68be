import ArgumentParser
import Dispatch
import Foundation
import MedLedgerSimulation
import Synchronization

/// Long seeded sweeps of the consensus simulator (Protocol/CONSENSUS.md section 17), and the
/// replay of one seed with a trace. `Tools/sim-sweep` builds it in release mode and runs it.
@main
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medledger-sim",
        abstract: "Run the deterministic consensus simulator over many seeds, or replay one.",
        subcommands: [Sweep.self, Run.self])
}

extension Scenario.Mix: ExpressibleByArgument {}

struct MixOption: ExpressibleByArgument {
    let mixes: [Scenario.Mix]
    init?(argument: String) {
        if argument == "all" {
            mixes = Scenario.Mix.allCases
        } else if let mix = Scenario.Mix(rawValue: argument) {
            mixes = [mix]
        } else {
            return nil
        }
    }
    static var allValueStrings: [String] { ["all"] + Scenario.Mix.allCases.map(\.rawValue) }
}

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run many seeds; print each failure with the command that replays it.")

    @Option(help: "Validators per run (4 or more; the faulty ones are the most 3f < n allows).") var validators = 4
    @Option(help: "The first seed.") var from: UInt64 = 0
    @Option(help: "How many seeds.") var seeds: UInt64 = 1_000
    @Option(help: "The fault mix: all (seed by seed in turn), or one of \(Scenario.Mix.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mix = MixOption(argument: "all")!
    @Option(help: "Parallel workers (default: the number of cores).") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Break the locking rule in every honest machine (the negative control): failures are expected.") var ignoreLocks = false
    @Option(help: "Heights every honest node must commit (more heights, more chances to break).") var heights: UInt64 = 3

    func validate() throws {
        guard validators >= 4, validators <= 64 else { throw ValidationError("--validators must be between 4 and 64 (got \(validators))") }
        guard seeds > 0 else { throw ValidationError("--seeds must be at least 1") }
        guard jobs > 0 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        struct Totals {
            var runs = 0
            var failures: [String] = []
            var recoveries: [UInt64] = []
            var events = 0
        }
        let totals = Mutex(Totals())
        let started = Date()
        let mixes = mix.mixes
        let (validators, from, seeds, jobs, ignoreLocks, heights) = (validators, from, seeds, jobs, ignoreLocks, heights)
        DispatchQueue.concurrentPerform(iterations: jobs) { job in
            var seed = from + UInt64(job)
            while seed < from + seeds {
                let mix = mixes[Int(seed % UInt64(mixes.count))]
                let scenario = Scenario.random(seed: seed, validators: validators, mix: mix)
                var options = Simulator.Options()
                options.machineFaults.ignoreLocks = ignoreLocks
                options.minimumHeights = heights
                let report: Simulator.Report
                do {
                    report = try Simulator(scenario: scenario, seed: seed, options: options).run()
                } catch {
                    totals.withLock { $0.failures.append("seed \(seed): could not set up: \(error)") }
                    seed += UInt64(jobs)
                    continue
                }
                let line =
                    report.ok
                    ? nil
                    : "FAIL seed \(seed) mix \(mix.rawValue) [\(scenario)]: \(report.violations.joined(separator: " | "))\n  replay: medledger-sim run --validators \(validators) --mix \(mix.rawValue) --seed \(seed) --heights \(heights)\(ignoreLocks ? " --ignore-locks" : "") --trace"
                if let line { print(line) }
                totals.withLock {
                    $0.runs += 1
                    $0.events += report.events
                    if let line { $0.failures.append(line) }
                    if let recovered = report.recoveredAfter { $0.recoveries.append(recovered) }
                }
                seed += UInt64(jobs)
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        let result = totals.withLock { $0 }
        let sorted = result.recoveries.sorted()
        func percentile(_ p: Double) -> UInt64 { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        print(
            "\(result.runs) seeds (\(from)..<\(from + seeds), n = \(validators), mix \(mixes.count == 1 ? mixes[0].rawValue : "all")): \(result.failures.count) failed; "
                + "recovery after healing p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, max \(sorted.last ?? 0) ms (virtual); "
                + "\(result.events) events in \(String(format: "%.1f", elapsed)) s (\(String(format: "%.0f", Double(result.runs) / max(elapsed, 0.001))) seeds/s)")
        if !result.failures.isEmpty { throw ExitCode(1) }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Replay one seed, optionally printing every event.")

    @Option(help: "Validators.") var validators = 4
    @Option(help: "The seed.") var seed: UInt64
    @Option(help: "The fault mix.") var mix: Scenario.Mix = .mixed
    @Flag(help: "Print every delivery, vote, proposal, commit, crash and restart.") var trace = false
    @Flag(help: "Break the locking rule in every honest machine.") var ignoreLocks = false
    @Option(help: "Heights every honest node must commit.") var heights: UInt64 = 3

    func run() throws {
        let scenario = Scenario.random(seed: seed, validators: validators, mix: mix)
        print("scenario: \(scenario)")
        var options = Simulator.Options()
        options.machineFaults.ignoreLocks = ignoreLocks
        options.minimumHeights = heights
        if trace { options.trace = { print($0) } }
        let report = try Simulator(scenario: scenario, seed: seed, options: options).run()
        print("heights: \(report.honestHeights.sorted { $0.key < $1.key }.map { "node \($0.key): \($0.value)" }.joined(separator: ", "))")
        print("healed at \(report.healedAt) ms; recovered after \(report.recoveredAfter.map { "\($0) ms" } ?? "-"); \(report.events) events; evidence against \(report.evidenceAgainst.sorted())")
        if report.ok {
            print("ok")
        } else {
            for violation in report.violations { print("VIOLATION: \(violation)") }
            throw ExitCode(1)
        }
    }
}
