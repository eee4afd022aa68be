import ArgumentParser
import MedLedgerCrypto
import MedLedgerInspect

/// The `medledger-inspect` command: decodes and inspects MedLedger wire traffic and log files.
///
/// Named `MedLedgerInspectCommand`, not `MedLedgerInspect`, so that the type does not
/// shadow the `MedLedgerInspect` library module this target imports.
@main
struct MedLedgerInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medledger-inspect",
        abstract: "Decode and inspect MedLedger wire frames, packet captures and segment logs.",
        version: MedLedgerBuildInfo.version,
        subcommands: [
            FrameCommand.self, LogCommand.self, PcapCommand.self,
        ]
    )
}
