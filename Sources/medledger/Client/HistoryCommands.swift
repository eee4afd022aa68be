import ArgumentParser
import MedLedgerClient
import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif
import Dispatch

/// `medledger timeline`: a patient's records across facilities.
struct TimelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "List a patient's records across every facility, by care time.",
        discussion: "The patient and its delegates see every record (erased ones as tombstones); anyone else the ones its consents let it read."
    )

    @OptionGroup var signer: PartyKeyOptions

    @Option(help: ArgumentHelp("The patient (default: the signer).", valueName: "hex"))
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
            let anchors = try client.fullTimeline(patient: patientID, as: keys.signing)
            if json {
                print(JSONValue.array(anchors.map { anchor in
                    .object([
                        ("record", .string(anchor.entry.record.hex)), ("created", .int(anchor.entry.created)),
                        ("category", .string(anchor.entry.category)), ("resource_type", .string(anchor.entry.resourceType)),
                        ("custodian", .string(anchor.entry.custodian.hex)), ("custodian_name", .string(partyName(anchor.entry.custodian, genesis: genesis))),
                        ("author", .string(anchor.author.hex)), ("padded_size", .int(anchor.entry.paddedSize)),
                        ("added_at_height", .int(anchor.addedAtHeight)), ("erased_at_height", anchor.erasedAtHeight.map { .int($0) } ?? .null),
                    ])
                }).prettyDescription)
                return
            }
            print("\(anchors.count) record(s) of patient \(patientID.hex)")
            for anchor in anchors {
                let erased = anchor.erasedAtHeight.map { " (erased at height \($0))" } ?? ""
                print("  \(formatTime(anchor.entry.created))  \(anchor.entry.category) / \(anchor.entry.resourceType) at "
                    + "\(partyName(anchor.entry.custodian, genesis: genesis))\(erased)")
                print("    record \(anchor.entry.record.hex)")
            }
        }
    }
}

/// `medledger audit`: who accessed what, when, why.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show a patient's audit trail: every grant, revocation, record, access, refusal and emergency, in order.",
        discussion: """
            Only the patient and its delegates may read it. Break-glass entries are emergency reads: check them. \
            With --follow, new events are printed as their blocks commit (one JSON object a line with --json), \
            across reconnections, until interrupted.
            """
    )

    @Flag(help: "Keep printing new events as they commit.")
    var follow = false

    @OptionGroup var signer: PartyKeyOptions

    @Option(help: ArgumentHelp("The patient (default: the signer).", valueName: "hex"))
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
            let events = try client.fullAuditTrail(patient: patientID, as: keys.signing)
            @Sendable func detail(_ event: AuditEvent) -> String? {
                event.kind == .accessRefused ? LedgerClientError.codeName(event.detail) : nil
            }
            @Sendable func object(_ event: AuditEvent) -> JSONValue {
                .object([
                    ("sequence", .int(event.sequence)), ("kind", .string(event.kind.name)), ("height", .int(event.height)),
                    ("time", .int(event.time)), ("actor", .string(event.actor.hex)), ("actor_name", .string(partyName(event.actor, genesis: genesis))),
                    ("subject", .string(event.subject.hex)), ("transaction", .string(event.transaction.hex)),
                    ("refusal", detail(event).map { .string($0) } ?? .null),
                ])
            }
            @Sendable func line(_ event: AuditEvent) {
                let why = detail(event).map { " (\($0))" } ?? ""
                print("  #\(event.sequence)  \(formatTime(event.time))  height \(event.height)  \(event.kind.name)\(why) by \(partyName(event.actor, genesis: genesis))")
                if event.subject != patientID { print("      subject \(event.subject.hex)") }
            }
            if json, !follow {
                print(JSONValue.array(events.map(object)).prettyDescription)
                return
            }
            if json {
                for event in events { print(object(event).description) }
            } else {
                print("\(events.count) event(s) in the audit trail of patient \(patientID.hex)")
                for event in events { line(event) }
            }
            guard follow else { return }
            flushOutput()
            // Interrupting is how a follower ends: make sure SIGINT and SIGTERM are not blocked
            // (a process inherits its parent's signal mask).
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGINT)
            sigaddset(&signals, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &signals, nil)
            let ended = DispatchSemaphore(value: 0)
            let failure = Mutex<LedgerClientError?>(nil)
            let subscription = try client.subscribe(patient: patientID, from: UInt64(events.count), as: keys.signing, resume: true) { result in
                switch result {
                case .success(let notice):
                    if json { print(object(notice.event).description) } else { line(notice.event) }
                    flushOutput()
                case .failure(let error):
                    failure.withLock { $0 = error }
                    ended.signal()
                }
            }
            ended.wait()
            subscription.cancel()
            if let error = failure.withLock({ $0 }) { throw error }
        }
    }
}

/// Flushes standard output (piped output is block-buffered; a follower wants each line now).
func flushOutput() {
    fflush(nil)
}
