import ArgumentParser
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#endif

/// `medledger demo`: a patient's consent-and-records story, end to end, on four facility nodes.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the consent-and-records story on four facility validator nodes (real processes on loopback).",
        discussion: """
            Starts four facilities (a general hospital, a dental clinic, a diagnostic lab and a family practice) as \
            `medledger node` processes of this binary, on loopback ports the kernel picks, and tells the story \
            through the client library: registrations, consents, records added at two facilities and replicated, \
            the patient's merged timeline, a research read refused then allowed, a break-glass access the patient \
            hears about as it happens, a revocation and the refusal after it, an erasure, the audit trail, and a \
            check that all four nodes hold the same chain. The nodes are stopped at the end; their homes (keys, \
            configs, logs and chains) stay in the directory for medledger-inspect.
            """
    )

    @Option(help: "Put the four node homes in this new directory (default: a fresh /tmp/medledger-demo-XXXXXX).")
    var dir: String?

    @Flag(help: """
        Have every node write its key log (HOME/keys.log, mode 0600) so that a capture of the run can be \
        decrypted by medledger-inspect pcap --keylog and the Wireshark dissector. Anyone holding a key log \
        can read that node's traffic: for demos and debugging only.
        """)
    var keyLog = false

    func run() throws {
        let directory: String
        if let dir {
            directory = dir
        } else {
            var template = Array("/tmp/medledger-demo-XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else { throw ValidationError("cannot make a temporary directory in /tmp: set --dir") }
            directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            rmdir(directory)  // Testnet.create makes it
        }
        var demo = NetworkDemo(directory: directory, keyLog: keyLog)
        do {
            try demo.run()
        } catch {
            printError("demo failed: \(error)")
            printError("the node homes and their logs (node.log) are in \(directory)")
            throw ExitCode.failure
        }
    }
}
