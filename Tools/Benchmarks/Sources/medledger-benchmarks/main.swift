// medledger-benchmarks: the MedLedger codec against swift-protobuf, state apply and state root,
// block signature verification, the segment log on disk, and the transport on loopback. See
// Tools/Benchmarks/README.md.

import Foundation
import MedLedgerCrypto

let usage = """
    usage: medledger-benchmarks [codec] [state] [signatures] [store] [transport] [options]

    Runs the named suites (all five when none is named) and prints their tables, every figure the
    best and the median of the samples, with its unit.

    options:
      --repetitions N          timed samples per figure (default 10)
      --warmups N              untimed runs before the samples (default 2)
      --block-transactions N   grants in the codec suite's block (default 1000)
      --patients N             registered patients (default 1000)
      --consents-per-patient N grants each patient signs for the 10,000-transaction block (default 10)

    store options (the store suite writes to a temporary directory it removes at the end):
      --store-blocks N         blocks appended per sample (default 1000)
      --store-block-transactions N
                               grants in each of those blocks (default 200, about 50 KB a block)
      --log-mib N              size of the log whose open is timed, in MiB (default 1024)
      --log-dir DIR            build that log in DIR and keep it; a later run reuses it
      --store-parent DIR       where the temporary directory goes (default /tmp)
      --store-part PART        only these figures: append, read or open (repeatable; default all)

    transport options:
      --transport-small-frames N  110-byte frames per sample (default 200000)
      --transport-large-frames N  64 KiB frames per sample (default 4096)
      --transport-only            only the transport's samples, no table (for perf record)
    """

var suites: [String] = []
var options = MeasureOptions()
var blockTransactions = 1000
var patients = 1000
var consentsPerPatient = 10
var store = StoreOptions()
var storePartNamed = false
var transport = TransportOptions()

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
    func text() -> String {
        guard let text = arguments.popFirst(), !text.isEmpty else { fail("\(argument) needs a value") }
        return text
    }
    switch argument {
    case "codec", "state", "signatures", "store", "transport": suites.append(argument)
    case "--repetitions": options.repetitions = number()
    case "--warmups": options.warmups = number()
    case "--block-transactions": blockTransactions = number()
    case "--patients": patients = number()
    case "--consents-per-patient": consentsPerPatient = number()
    case "--store-blocks": store.blocks = number()
    case "--store-block-transactions": store.transactionsPerBlock = number()
    case "--log-mib": store.logMiB = number()
    case "--transport-small-frames": transport.smallFrames = number()
    case "--transport-large-frames": transport.largeFrames = number()
    case "--transport-only": transport.transportOnly = true
    case "--log-dir": store.logDirectory = text()
    case "--store-parent": store.parent = text()
    case "--store-part":
        let part = text()
        guard ["append", "read", "open"].contains(part) else { fail("--store-part is append, read or open") }
        if !storePartNamed { store.parts = [] }
        storePartNamed = true
        store.parts.insert(part)
    case "-h", "--help":
        print(usage)
        exit(0)
    default: fail("unknown argument \(argument)")
    }
}
if suites.isEmpty { suites = ["codec", "state", "signatures", "store", "transport"] }
guard blockTransactions <= patients * consentsPerPatient else {
    fail(
        "--block-transactions \(blockTransactions) exceeds the \(patients * consentsPerPatient) grants of the workload")
}
guard patients * consentsPerPatient <= 10_000 else { fail("a block holds at most 10,000 transactions") }
guard store.transactionsPerBlock <= patients * consentsPerPatient else {
    fail(
        "--store-block-transactions \(store.transactionsPerBlock) exceeds the "
            + "\(patients * consentsPerPatient) grants of the workload")
}

#if DEBUG
    print("WARNING: a debug build; the figures mean nothing. Build with: swift build -c release")
#endif
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
        .split(separator: " ").prefix(3).joined(separator: " ") ?? "unknown"
}
print("medledger-benchmarks: \(ProcessInfoCores.active) cores active, load average \(loadAverage()) at start")
print(
    "each figure: \(options.repetitions) timed samples after \(options.warmups) warm-up runs;"
        + " best and median of the samples")

// The signed workload, for every suite but the transport's.
var workload: Workload?
if suites.contains(where: { $0 != "transport" }) {
    let setupStart = now()
    workload = try Workload(
        patients: patients, consentsPerPatient: consentsPerPatient, practitionersPerFacility: 10)
    print(
        "workload: \(Format.grouped(workload!.grants.count)) signed grants from \(Format.grouped(patients)) patients, "
            + "built in \(Format.duration(seconds(from: setupStart, to: now())))")
}

for suite in suites {
    if suites.count > 1 { print("\n[\(suite): load average \(loadAverage()) at start]") }
    switch suite {
    case "codec": try CodecSuite(workload: workload!, options: options, transactionCount: blockTransactions).run()
    case "state": try StateSuite(workload: workload!, options: options).run()
    case "signatures": try SignatureSuite(workload: workload!, options: options).run()
    case "transport": try TransportSuite(options: options, transport: transport).run()
    default: try StoreSuite(workload: workload!, options: options, store: store).run()
    }
}
print("\n[load average \(loadAverage()) at the end]")
