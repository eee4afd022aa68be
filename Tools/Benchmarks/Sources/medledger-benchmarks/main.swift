// medledger-benchmarks: the MedLedger codec against swift-protobuf, state apply and state root,
// and block signature verification. See Tools/Benchmarks/README.md.

import Foundation
import MedLedgerCrypto

let usage = """
    usage: medledger-benchmarks [codec] [state] [signatures] [options]

    Runs the named suites (all three when none is named) and prints one table each, every figure
    the best and the median of the samples, with its unit.

    options:
      --repetitions N          timed samples per figure (default 10)
      --warmups N              untimed runs before the samples (default 2)
      --block-transactions N   grants in the codec suite's block (default 1000)
      --patients N             registered patients (default 1000)
      --consents-per-patient N grants each patient signs for the 10,000-transaction block (default 10)
    """

var suites: [String] = []
var options = MeasureOptions()
var blockTransactions = 1000
var patients = 1000
var consentsPerPatient = 10

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n\n" + usage + "\n").utf8))
    exit(2)
}

var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    func number() -> Int {
        guard let text = arguments.popFirst(), let value = Int(text), value > 0 else {
            fail("\(argument) needs a positive number")
        }
        return value
    }
    switch argument {
    case "codec", "state", "signatures": suites.append(argument)
    case "--repetitions": options.repetitions = number()
    case "--warmups": options.warmups = number()
    case "--block-transactions": blockTransactions = number()
    case "--patients": patients = number()
    case "--consents-per-patient": consentsPerPatient = number()
    case "-h", "--help":
        print(usage)
        exit(0)
    default: fail("unknown argument \(argument)")
    }
}
if suites.isEmpty { suites = ["codec", "state", "signatures"] }
guard blockTransactions <= patients * consentsPerPatient else {
    fail(
        "--block-transactions \(blockTransactions) exceeds the \(patients * consentsPerPatient) grants of the workload")
}
guard patients * consentsPerPatient <= 10_000 else { fail("a block holds at most 10,000 transactions") }

#if DEBUG
    print("WARNING: a debug build; the figures mean nothing. Build with: swift build -c release")
#endif
let loadAverage =
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
    .split(separator: " ").prefix(3).joined(separator: " ") ?? "unknown"
print("medledger-benchmarks: \(ProcessInfoCores.active) cores active, load average \(loadAverage) at start")
print(
    "each figure: \(options.repetitions) timed samples after \(options.warmups) warm-up runs;"
        + " best and median of the samples")

let setupStart = now()
let workload = try Workload(
    patients: patients, consentsPerPatient: consentsPerPatient, practitionersPerFacility: 10)
print(
    "workload: \(Format.grouped(workload.grants.count)) signed grants from \(Format.grouped(patients)) patients, "
        + "built in \(Format.duration(seconds(from: setupStart, to: now())))")

for suite in suites {
    switch suite {
    case "codec": try CodecSuite(workload: workload, options: options, transactionCount: blockTransactions).run()
    case "state": try StateSuite(workload: workload, options: options).run()
    default: try SignatureSuite(workload: workload, options: options).run()
    }
}
