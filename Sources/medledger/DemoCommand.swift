import ArgumentParser

/// `medledger demo`: the end-to-end story on a local cluster, once the node exists.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the local multi-facility demo (arrives with the node)."
    )

    func run() {
        print(
            """
            The multi-node demo is not here yet: it arrives with the node runtime.

            What exists today:
              medledger-inspect frame    decode MedLedger wire frames
              medledger-inspect --help   list every inspector command
            """
        )
    }
}
