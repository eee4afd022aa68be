import ArgumentParser
import MedLedgerCrypto

/// The `medledger` command: runs and talks to a MedLedger network.
@main
struct MedLedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medledger",
        abstract: "Run and use MedLedger, the permissioned ledger that healthcare facilities share.",
        version: MedLedgerBuildInfo.version,
        subcommands: [
            InitCommand.self, GenesisCommand.self, TestnetCommand.self, NodeCommand.self, HealthCommand.self, DemoCommand.self, BenchCommand.self, VersionCommand.self,
            KeygenCommand.self, StatusCommand.self, PatientCommand.self, ConsentCommand.self, RecordCommand.self,
            TimelineCommand.self, AuditCommand.self,
        ]
    )
}
