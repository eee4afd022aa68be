import ArgumentParser
import MedLedgerClient
import MedLedgerCrypto

/// `medledger keygen`: a party's keys (patient, practitioner, researcher).
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a party's keys: an Ed25519 signing key and an X25519 record key, in two files of mode 0600.",
        discussion: """
            FILE gets the signing key (the party's id on the chain: a patient id, a practitioner's key); \
            FILE without .key plus .record.key gets the record key, for which record keys are wrapped. \
            Existing files are never overwritten: a lost key cannot be made again. Keep both files private; \
            share the two public keys printed.
            """
    )

    @Option(help: ArgumentHelp("Where to write the signing key, for example alice.key.", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("A note in the key files (1 to 128 printable ASCII characters).", valueName: "text"))
    var comment: String?

    func validate() throws {
        if let comment {
            guard (1...128).contains(comment.utf8.count), comment.utf8.allSatisfy({ (0x20...0x7E).contains($0) }),
                comment.first != " ", comment.last != " "
            else {
                throw ValidationError("--comment is 1 to 128 printable ASCII characters, not starting or ending with a space")
            }
        }
        guard !out.hasSuffix("/"), !out.isEmpty else { throw ValidationError("--out names a file, not a directory: for example alice.key") }
    }

    func run() throws {
        try runClientCommand {
            let keys = PartyKeys.generate()
            let (signing, encryption) = try keys.write(signingKeyPath: out, comment: comment)
            print("Wrote a party's keys (mode 0600; keep them private, and back them up: they cannot be made again)")
            print("  signing key (ed25519)  \(signing)")
            print("    public: \(keys.id.hex)   <- the party's id on the chain")
            print("  record key (x25519)    \(encryption ?? "-")")
            print("    public: \(keys.encryptionKey!.hex)   <- give it with the id, so records can be encrypted for the party")
        }
    }
}
