import ArgumentParser
import Foundation
import MedLedgerInspect
import MedLedgerWire

/// `medledger-inspect frame HEX|-`: decodes one wire frame given as hex.
struct FrameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frame",
        abstract: "Decode one MedLedger wire frame given as hex.",
        discussion: """
            The frame is the whole frame: the 16-byte header and its payload, as in Protocol/vectors/*.hex.
            Whitespace and lines starting with # are ignored. A frame that breaks a rule of Protocol/WIRE.md
            is reported with the rule, the layer and the byte offset, and the exit status is 1.

            A sealed frame is opened with the node's key log (Protocol/WIRE.md 4.4): the entry is chosen by
            --nonce (the initiator's HELLO nonce) or is the only entry of the file.

            Examples:
              medledger-inspect frame 4d4c4447011000000000000856e81a1a0102030405060708
              medledger-inspect frame - < Protocol/vectors/vote-prevote.hex
              medledger-inspect frame --json --key-log keys.log --direction r2i --sequence 1 - < frame.hex
            """
    )

    @Argument(help: "The frame as hex, or - to read the hex from standard input.")
    var hex: String

    @Flag(name: .long, help: "Print one JSON object (Protocol/WIRE.md section 8) instead of the readable dump.")
    var json = false

    @Option(name: .long, help: "Key log file with the connection's keys, to open a sealed frame.")
    var keyLog: String?

    @Option(name: .long, help: "Which connection in the key log: the initiator's HELLO nonce, 64 hex digits.")
    var nonce: String?

    @Option(name: .long, help: "Direction of the frame: i2r (initiator to responder) or r2i.")
    var direction: String = "i2r"

    @Option(name: .long, help: "Sequence number of the sealed frame in its direction (AUTH is 0).")
    var sequence: UInt64 = 0

    func run() throws {
        let input: String
        if hex == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            input = String(decoding: data, as: UTF8.self)
        } else {
            input = hex
        }
        let bytes = try HexInput.parse(input)
        let inspection = FrameInspection.inspect(bytes, key: try sealedFrameKey())
        print(json ? inspection.json.description : inspection.text)
        if inspection.isRejected { throw ExitCode(1) }
    }

    private func sealedFrameKey() throws -> SealedFrameKey? {
        guard let keyLog else {
            guard nonce == nil else { throw ValidationError("--nonce needs --key-log FILE") }
            return nil
        }
        guard let direction = Direction(rawValue: direction) else {
            throw ValidationError("--direction must be i2r (initiator to responder) or r2i, not '\(direction)'")
        }
        let text: String
        do {
            text = try String(contentsOfFile: keyLog, encoding: .utf8)
        } catch {
            throw InspectError("cannot read the key log \(keyLog): \(error.localizedDescription)")
        }
        let entries = try KeyLog.parse(text)
        let entry: KeyLogEntry
        if let nonce {
            guard let wanted = Bytes32(hex: nonce) else {
                throw ValidationError("--nonce must be 64 hex digits (the initiator's HELLO nonce)")
            }
            guard let found = entries[wanted] else {
                throw InspectError(
                    "no MEDLEDGER_V1 line in \(keyLog) has the nonce \(wanted.hex)",
                    hint: "the nonce is the initiator's HELLO nonce of the connection the frame came from")
            }
            entry = found
        } else {
            guard entries.count == 1, let only = entries.values.first else {
                throw InspectError(
                    "\(keyLog) has \(entries.count) MEDLEDGER_V1 lines; say which connection with --nonce",
                    hint: "the nonce is the initiator's HELLO nonce, shown when inspecting that HELLO frame")
            }
            entry = only
        }
        return SealedFrameKey(entry: entry, direction: direction, sequence: sequence)
    }
}

