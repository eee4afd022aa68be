import ArgumentParser
import MedLedgerClient
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerStore
import MedLedgerWire

#if canImport(Glibc)
    import Glibc
#endif

/// `medledger record`: add and read encrypted records.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Add an encrypted record, or read one.",
        subcommands: [Add.self, Get.self]
    )

    /// `medledger record add`.
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Encrypt a file, store the ciphertext at the custodian's node, and anchor it on the chain.",
            discussion: """
                Signed by the author, a practitioner of the custodian facility, under a consent of the patient's \
                that grants write (or a break-glass entry). The contents are padded to a size bucket and encrypted \
                under a fresh key wrapped for the patient and the custodian; they never leave this process in \
                the clear. The custodian's node must be among the nodes given.
                """
        )

        @OptionGroup var author: PartyKeyOptions

        @Option(help: ArgumentHelp("The patient's id (64 hex digits).", valueName: "hex"))
        var patient: String

        @Option(help: ArgumentHelp("The patient's record key (x25519 public key, 64 hex digits).", valueName: "hex"))
        var patientRecordKey: String

        @Option(help: ArgumentHelp("The file to encrypt and add.", valueName: "file"))
        var file: String

        @Option(help: ArgumentHelp("The category, for example dental, laboratory, imaging.", valueName: "name"))
        var category: String

        @Option(name: .customLong("type"), help: ArgumentHelp("The FHIR resource type, for example DiagnosticReport.", valueName: "name"))
        var resourceType: String

        @Option(help: ArgumentHelp("The consent (granting write) relied on.", valueName: "hex"))
        var consent: String?

        @Option(help: ArgumentHelp("The break-glass entry relied on, instead of a consent.", valueName: "hex"))
        var breakGlass: String?

        @Option(help: ArgumentHelp("The custodian facility (key or name; default: the author's facility).", valueName: "party"))
        var custodian: String?

        @Option(help: ArgumentHelp("When the care event happened (default: now); now, YYYY-MM-DD or ms.", valueName: "time"))
        var created: String?

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard (consent == nil) != (breakGlass == nil) else {
                throw ValidationError("give the authority the write relies on: --consent ID, or --break-glass ID (one of them)")
            }
            for (name, value) in [("--category", category), ("--type", resourceType)] where value.isEmpty || value.utf8.count > 64 {
                throw ValidationError("\(name) is 1 to 64 bytes")
            }
        }

        func run() throws {
            try runClientCommand {
                let patientID = try parseKey(patient, "--patient")
                let patientBox = try parseKey(patientRecordKey, "--patient-record-key", what: "record key")
                let authority: Authority = try consent.map { .consent(try parseKey($0, "--consent", what: "consent id")) }
                    ?? .breakGlass(try parseKey(breakGlass!, "--break-glass", what: "break-glass id"))
                let created = try self.created.map { try parseTime($0, "--created", now: nowMilliseconds()) } ?? nowMilliseconds()
                let contents = try readRecordFile(file)
                let keys = try author.load()
                let client = try connection.client()
                let genesis = client.configuration.genesis
                let custodianKey: Bytes32
                if let custodian {
                    custodianKey = try parseParty(custodian, "--custodian", genesis: genesis)
                } else {
                    let (practitioner, _) = try client.verifiedEntity(Practitioner.self, key: StateKey.key(.practitioner, keys.id))
                    guard let practitioner else {
                        throw ClientCommandError.network(
                            "\(keys.id.hex) is not a registered practitioner; a facility registers its practitioners, "
                                + "and only they may add records (or give --custodian)")
                    }
                    custodianKey = practitioner.facility
                }
                let added = try client.addRecord(
                    NewRecord(
                        contents: contents, patient: patientID, patientEncryptionKey: patientBox, custodian: custodianKey,
                        category: category, resourceType: resourceType, created: created, authority: authority),
                    author: keys.signing)
                print("Added record \(added.record.hex) at height \(added.height)")
                print("  custodian \(partyName(custodianKey, genesis: genesis)); \(contents.count) bytes padded to \(added.paddedSize), encrypted")
                print("  ciphertext sha-256 \(added.ciphertextHash.hex)")
            }
        }
    }

    /// `medledger record get`.
    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get",
            abstract: "Read a record and decrypt it to a file.",
            discussion: """
                The patient reads its own records with its record key. Anyone else reads under a consent (found \
                with may_read, or named with --consent) or a break-glass entry: the custodian's node puts the \
                access entry on the chain first, signed by both sides, and only then is the key released. The \
                ciphertext is checked against its anchor before it is decrypted. --out is written with mode 0600.
                """
        )

        @OptionGroup var reader: PartyKeyOptions

        @Option(help: ArgumentHelp("The record's id.", valueName: "hex"))
        var record: String

        @Option(help: ArgumentHelp("Where to write the decrypted contents (never overwritten).", valueName: "file"))
        var out: String

        @Option(help: ArgumentHelp("Why: treatment, emergency, research, insurance or payment.", valueName: "purpose"))
        var purpose: String = "treatment"

        @Option(help: ArgumentHelp("The consent relied on (default: the one may_read finds).", valueName: "hex"))
        var consent: String?

        @Option(help: ArgumentHelp("The break-glass entry relied on.", valueName: "hex"))
        var breakGlass: String?

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard consent == nil || breakGlass == nil else { throw ValidationError("give --consent or --break-glass, not both") }
        }

        func run() throws {
            try runClientCommand {
                let recordID = try parseKey(record, "--record", what: "record id")
                let purpose = try parsePurpose(self.purpose)
                var authority: Authority?
                if let consent { authority = .consent(try parseKey(consent, "--consent", what: "consent id")) }
                if let breakGlass { authority = .breakGlass(try parseKey(breakGlass, "--break-glass", what: "break-glass id")) }
                if PosixFileSystem().exists(out) {
                    throw ClientCommandError.usage("--out \(out): a file is already here; choose another name (a record is never written over a file)")
                }
                let keys = try reader.load(requireRecordKey: true)
                let client = try connection.client()
                // The patient reads with its own key; everyone else through an access entry. A
                // break-glass reader may not see the anchor first.
                let anchor = authority == nil ? try client.anchor(of: recordID, as: keys.signing).anchor : nil
                let fetched: FetchedRecord
                if let anchor, anchor.entry.patient == keys.id {
                    fetched = try client.readOwnRecord(recordID, patient: keys)
                } else {
                    fetched = try client.fetchRecord(recordID, purpose: purpose, authority: authority, requester: keys)
                }
                try writePrivateFile(out, fetched.contents)
                let genesis = client.configuration.genesis
                print("Wrote record \(recordID.hex) to \(out) (\(fetched.contents.count) bytes, mode 0600)")
                if let anchor = fetched.anchor {
                    print("  \(anchor.entry.category) / \(anchor.entry.resourceType) at \(partyName(anchor.entry.custodian, genesis: genesis)), "
                        + "created \(formatTime(anchor.entry.created))")
                }
                if let access = fetched.access {
                    print("  read recorded on the chain as access \(access.hex) at height \(fetched.height)")
                }
            }
        }
    }
}

/// A record's contents, bounded before reading.
func readRecordFile(_ path: String) throws -> [UInt8] {
    var info = stat()
    guard stat(path, &info) == 0 else {
        throw ClientCommandError.usage("--file \(path): no such file")
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw ClientCommandError.usage("--file \(path): not a regular file") }
    guard Int(info.st_size) <= LedgerClient.maxRecordContents else {
        throw ClientCommandError.usage(
            "--file \(path): \(info.st_size) bytes; a record holds at most \(LedgerClient.maxRecordContents) bytes. Split it into several records")
    }
    do {
        return try PosixFileSystem().readAll(path)
    } catch {
        throw ClientCommandError.usage("--file \(path): cannot read it (\(error.message))")
    }
}

/// Writes a new file with mode 0600 (never over an existing one), synced.
func writePrivateFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else {
        throw ClientCommandError.usage("--out \(path): cannot create it (\(String(cString: strerror(errno)))); choose another path")
    }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0, errno == EINTR { continue }
        guard written > 0 else {
            unlink(path)
            throw ClientCommandError.usage("--out \(path): write failed (\(String(cString: strerror(errno))))")
        }
        offset += written
    }
    guard fsync(fd) == 0 else { throw ClientCommandError.usage("--out \(path): fsync failed (\(String(cString: strerror(errno))))") }
}
