import ArgumentParser
import MedLedgerClient
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// `medledger consent`: grant, revoke and list a patient's consents.
struct ConsentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent",
        abstract: "Grant, revoke and list a patient's consents.",
        subcommands: [Grant.self, Revoke.self, List.self]
    )

    /// `medledger consent grant`.
    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant",
            abstract: "Grant a consent: who may read or write which records, for what, from when, until when.",
            discussion: """
                Signed by the patient (or a delegate, with --patient). The consent's id (printed) is what \
                readers name and what `consent revoke` takes.
                """
        )

        @OptionGroup var signer: PartyKeyOptions

        @Option(help: ArgumentHelp("The patient, when a delegate signs (default: the signer).", valueName: "hex"))
        var patient: String?

        @Option(help: ArgumentHelp("Who is granted: a key (64 hex digits) or a facility's name.", valueName: "party"))
        var grantee: String

        @Option(help: ArgumentHelp("read, write, or read,write.", valueName: "list"))
        var actions: String = "read"

        @Option(help: ArgumentHelp("Any of treatment, emergency, research, insurance, payment (comma separated).", valueName: "list"))
        var purposes: String = "treatment"

        @Option(help: ArgumentHelp("all, categories:dental,laboratory, or records:<hex>,<hex>.", valueName: "scope"))
        var scope: String = "all"

        @Option(help: ArgumentHelp("From when: now, +1d, YYYY-MM-DD or ms since the epoch (default 0: at once).", valueName: "time"))
        var start: String?

        @Option(help: ArgumentHelp("Until when (default: until revoked); same forms as --start.", valueName: "time"))
        var expiry: String?

        func run() throws {
            try runClientCommand {
                let now = nowMilliseconds()
                let actions = try parseActions(self.actions)
                let purposes = try parsePurposes(self.purposes)
                let scope = try parseScope(self.scope)
                let startTime = try start.map { try parseTime($0, "--start", now: now) } ?? 0
                let expiryTime = try expiry.map { try parseTime($0, "--expiry", now: now) }
                if let expiryTime, expiryTime <= startTime {
                    throw ClientCommandError.usage("--expiry (\(formatTime(expiryTime))) must be after --start (\(formatTime(startTime)))")
                }
                let keys = try signer.load()
                let patientID = try patient.map { try parseKey($0, "--patient") } ?? keys.id
                let client = try connection.client()
                let granteeKey = try parseParty(grantee, "--grantee", genesis: client.configuration.genesis)
                let body = TransactionBody.grantConsent(
                    GrantConsent(
                        patient: patientID, grantee: granteeKey, actions: actions, purposes: purposes, scope: scope,
                        start: startTime, expiry: expiryTime))
                let (transaction, height) = try client.submitAndWait(body, signedBy: keys.signing)
                print("Granted consent \(transaction.id.hex) at height \(height)")
                print("  grantee \(partyName(granteeKey, genesis: client.configuration.genesis)): \(actions.names.joined(separator: ", ")) "
                    + "for \(purposes.members.map(\.name).joined(separator: ", ")), scope \(self.scope)")
                print("  from \(startTime == 0 ? "now" : formatTime(startTime)) until \(expiryTime.map(formatTime) ?? "revoked")")
            }
        }

        @OptionGroup var connection: ConnectionOptions
    }

    /// `medledger consent revoke`.
    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "Revoke a consent: from the block that commits it on, it allows nothing.")

        @OptionGroup var signer: PartyKeyOptions

        @Option(help: ArgumentHelp("The patient, when a delegate signs (default: the signer).", valueName: "hex"))
        var patient: String?

        @Option(help: ArgumentHelp("The consent's id (printed by `consent grant`, listed by `consent list`).", valueName: "hex"))
        var consent: String

        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try runClientCommand {
                let consentID = try parseKey(consent, "--consent", what: "consent id")
                let keys = try signer.load()
                let patientID = try patient.map { try parseKey($0, "--patient") } ?? keys.id
                let client = try connection.client()
                let (_, height) = try client.submitAndWait(
                    .revokeConsent(RevokeConsent(patient: patientID, consent: consentID)), signedBy: keys.signing)
                print("Revoked consent \(consentID.hex) at height \(height)")
            }
        }
    }

    /// `medledger consent list`.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a patient's consents in force now.")

        @OptionGroup var signer: PartyKeyOptions

        @Option(help: ArgumentHelp("The patient, when a delegate asks (default: the signer).", valueName: "hex"))
        var patient: String?

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try runClientCommand {
                let keys = try signer.load()
                let patientID = try patient.map { try parseKey($0, "--patient") } ?? keys.id
                let client = try connection.client()
                let genesis = client.configuration.genesis
                let consents = try client.allConsentsInForce(patient: patientID, as: keys.signing)
                if json {
                    print(JSONValue.array(consents.map { consent in
                        .object([
                            ("id", .string(consent.id.hex)), ("grantee", .string(consent.grant.grantee.hex)),
                            ("actions", .array(consent.grant.actions.names.map { .string($0) })),
                            ("purposes", .array(consent.grant.purposes.members.map { .string($0.name) })),
                            ("scope", consent.grant.scope.json), ("start", .int(consent.grant.start)),
                            ("expiry", consent.grant.expiry.map { .int($0) } ?? .null), ("granted_at_height", .int(consent.grantedAtHeight)),
                        ])
                    }).prettyDescription)
                    return
                }
                print("\(consents.count) consent(s) in force for patient \(patientID.hex)")
                for consent in consents {
                    print("  \(consent.id.hex)")
                    print("    \(partyName(consent.grant.grantee, genesis: genesis)): \(consent.grant.actions.names.joined(separator: ", ")) "
                        + "for \(consent.grant.purposes.members.map(\.name).joined(separator: ", ")), scope \(describe(consent.grant.scope)), "
                        + "until \(consent.grant.expiry.map(formatTime) ?? "revoked")")
                }
            }
        }
    }
}

func parseActions(_ text: String) throws -> Actions {
    var actions: Actions = []
    for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: " ") }) {
        switch name {
        case "read": actions.insert(.read)
        case "write": actions.insert(.write)
        default: throw ClientCommandError.usage("--actions: \"\(name)\" is not an action; give read, write, or read,write")
        }
    }
    guard !actions.isEmpty else { throw ClientCommandError.usage("--actions: give read, write, or read,write") }
    return actions
}

func parsePurposes(_ text: String) throws -> Purposes {
    var purposes: [Purpose] = []
    for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: " ") }) {
        guard let purpose = Purpose.allCases.first(where: { $0.name == name }) else {
            throw ClientCommandError.usage(
                "--purposes: \"\(name)\" is not a purpose; give any of \(Purpose.allCases.map(\.name).joined(separator: ", "))")
        }
        purposes.append(purpose)
    }
    guard !purposes.isEmpty else { throw ClientCommandError.usage("--purposes: give at least one purpose, for example treatment") }
    return Purposes(purposes)
}

func parsePurpose(_ text: String) throws -> Purpose {
    guard let purpose = Purpose.allCases.first(where: { $0.name == text }) else {
        throw ClientCommandError.usage("--purpose: \"\(text)\" is not a purpose; give one of \(Purpose.allCases.map(\.name).joined(separator: ", "))")
    }
    return purpose
}

func parseScope(_ text: String) throws -> ConsentScope {
    let form = "give all, categories:dental,laboratory or records:<64 hex>,<64 hex>"
    if text == "all" { return .allRecords }
    if text.hasPrefix("categories:") {
        let names = Array(Set(text.dropFirst("categories:".count).split(separator: ",").map(String.init)))
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        guard (1...ConsentScope.maxCategories).contains(names.count),
            names.allSatisfy({ !$0.isEmpty && $0.utf8.count <= ConsentScope.maxCategoryLength })
        else {
            throw ClientCommandError.usage("--scope: 1 to \(ConsentScope.maxCategories) categories of at most 64 bytes each; \(form)")
        }
        return .categories(names)
    }
    if text.hasPrefix("records:") {
        let ids = try Set(text.dropFirst("records:".count).split(separator: ",").map { try parseKey(String($0), "--scope", what: "record id") }).sorted()
        guard (1...ConsentScope.maxRecords).contains(ids.count) else {
            throw ClientCommandError.usage("--scope: 1 to \(ConsentScope.maxRecords) record ids; \(form)")
        }
        return .records(ids)
    }
    throw ClientCommandError.usage("--scope \"\(text.prefix(80))\": \(form)")
}

func describe(_ scope: ConsentScope) -> String {
    switch scope {
    case .allRecords: "all records"
    case .categories(let names): "categories " + names.joined(separator: ", ")
    case .records(let ids): "\(ids.count) record(s)"
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
