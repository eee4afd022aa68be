import ArgumentParser
import MedLedgerClient
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerNode
import MedLedgerWire

/// `medledger patient`: patient registration.
struct PatientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient",
        abstract: "Register a patient.",
        subcommands: [Register.self]
    )

    /// `medledger patient register`: the patient signs, a facility attests.
    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register a patient, attested by a facility (its organisation key signs the patient's keys).",
            discussion: """
                The patient's keys come from `medledger keygen` (--key and its record key); the facility's \
                organisation key from its node home (--facility-home: keys/organisation.key). Without --node or \
                --connect the facility's own node is used. The patient id is the signing key, forever; validators \
                see the key, never a name.
                """
        )

        @OptionGroup var patient: PartyKeyOptions

        @Option(help: ArgumentHelp("The attesting facility's node home (its organisation key signs).", valueName: "home"))
        var facilityHome: String

        @Option(help: ArgumentHelp("The passphrase of a sealed organisation key, on this file's first line.", valueName: "file"))
        var facilityPassphraseFile: String?

        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try runClientCommand {
                let keys = try patient.load(requireRecordKey: true)
                let home = NodeHome(facilityHome)
                let passphrase = try facilityPassphraseFile.map { try readPassphraseFile($0) }
                let organisation = try home.loadOrganisationKey(passphrase: passphrase)
                let client = try connection.client(defaultHome: facilityHome)
                let facility = organisation.publicKey.wire
                guard let card = client.configuration.genesis.facilities.first(where: { $0.organisationKey == facility }) else {
                    throw ClientCommandError.usage(
                        "\(home.organisationKeyPath) is not the organisation key of a facility of chain \(client.chainID); "
                            + "give the home of a facility of this network")
                }
                let body = TransactionBody.registerPatient(
                    .attested(patient: keys.id, encryptionKey: keys.encryptionKey!, by: organisation, chainID: client.chainID))
                let (transaction, height) = try client.submitAndWait(body, signedBy: keys.signing)
                print("Registered patient \(keys.id.hex), attested by \(card.name), at height \(height)")
                print("  record key \(keys.encryptionKey!.hex)")
                print("  transaction \(transaction.id.hex)")
            }
        }
    }
}
