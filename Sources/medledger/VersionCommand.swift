import ArgumentParser
import MedLedgerCrypto

/// `medledger version`: prints the release version, as `--version` does.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the MedLedger version."
    )

    func run() {
        print(MedLedgerBuildInfo.version)
    }
}
