import ArgumentParser
import MedLedgerClient
import MedLedgerLedger
import MedLedgerWire

/// `medledger status`: each node's head, facility and peers.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each node's height, last block, time, facility and peers.",
        discussion: "Exits with 1 if no node answers."
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        try runClientCommand {
            let (genesis, endpoints) = try connection.resolve()
            let client = try connection.client()
            var answered = 0
            var rows: [JSONValue] = []
            if !json { print("chain \(genesis.chainID), \(genesis.facilities.count) facilities, \(endpoints.count) node(s) given") }
            for (index, endpoint) in endpoints.enumerated() {
                do throws(LedgerClientError) {
                    let status = try client.status(endpoint: index)
                    answered += 1
                    let facility = partyName(status.facility, genesis: genesis)
                    rows.append(.object([
                        ("endpoint", .string(endpoint.description)), ("facility", .string(facility)), ("height", .int(status.height)),
                        ("block_hash", .string(status.blockHash.hex)), ("time", .int(status.time)),
                        ("best_peer_height", .int(status.bestPeerHeight)), ("peers", .int(status.peers)),
                    ]))
                    if !json {
                        print("  \(endpoint.shortDescription)  \(facility)")
                        print("    height \(status.height)  block \(status.blockHash.hex.prefix(16))…  time \(formatTime(status.time))")
                        print("    peers \(status.peers), best peer height \(status.bestPeerHeight)")
                    }
                } catch {
                    rows.append(.object([("endpoint", .string(endpoint.description)), ("error", .string(error.description))]))
                    if !json {
                        if case .unreachable(let failures) = error {
                            print("  \(endpoint.shortDescription)  unreachable: \(failures.map(\.reason).joined(separator: "; "))")
                        } else {
                            print("  \(endpoint.shortDescription)  \(error.description.split(separator: "\n").first ?? "")")
                        }
                    }
                }
            }
            if json { print(JSONValue.array(rows).prettyDescription) }
            guard answered > 0 else {
                throw ClientCommandError.network(
                    "no node answered; check that the nodes run and that the endpoints are their client ports (ports.json)")
            }
        }
    }
}
