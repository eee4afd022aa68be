import ArgumentParser
import Foundation
import MedLedgerInspect
import MedLedgerWire

/// `medledger-inspect pcap FILE|-`: MedLedger traffic in a packet capture.
struct PcapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcap",
        abstract: "Show the MedLedger messages in a pcap or pcapng capture, decrypted with a key log.",
        discussion: """
            Reads pcap (microsecond or nanosecond, either byte order) and pcapng (any sections and interfaces), \
            over Ethernet (VLAN tags too), Linux cooked (SLL, SLL2), BSD loopback or raw IP, IPv4 and IPv6. TCP \
            is reassembled per direction (retransmissions, overlaps, reordering, sequence wrap); bytes missing \
            from the capture are reported as gaps, and each stream finds its next frame by the magic (WIRE.md \
            section 2), so a capture may start mid-connection.

            Without a key log each frame's header is shown (time, endpoints, type, size) and the handshake's \
            HELLOs in full. With --keylog (a node's key log, WIRE.md 4.4: `key_log` in config.json or \
            MEDLEDGER_KEY_LOG) sealed frames of the connections it lists are opened and their key fields shown: \
            heights, rounds, vote types, block hashes, transaction ids and types, client request kinds.

            With FILE `-` the capture is read from standard input as it arrives, so a live capture can be \
            followed. Exit status: 0; 1 when the capture is malformed (the error names the byte offset; \
            everything before it was shown); 2 when the command could not run.

            Examples:
              medledger-inspect pcap capture.pcapng
              medledger-inspect pcap --keylog node0/keylog.txt --type vote,proposal --height 12 capture.pcap
              medledger-inspect pcap --keylog keylog.txt --json --peer 10.0.0.2:26656 capture.pcap
              medledger-inspect pcap --stats capture.pcap
              tcpdump -i any -U -w - port 26656 | medledger-inspect pcap --keylog keylog.txt -
            """
    )

    @Argument(help: "The capture file, or - to read it from standard input as it arrives.")
    var file: String

    @Option(name: [.customLong("keylog"), .customLong("key-log")], help: "A node's key log (WIRE.md 4.4), to open sealed frames.")
    var keyLog: String?

    @Flag(name: .long, help: "One JSON object per message (and per note) and line.")
    var json = false

    @Option(name: .long, parsing: .singleValue, help: "Only connections with this TCP port at either end (repeatable).")
    var port: [UInt16] = []

    @Option(name: .long, parsing: .singleValue, help: "Only messages of these types, by name (vote, proposal, client_request, ...; repeatable or comma-separated).")
    var type: [String] = []

    @Option(name: .long, parsing: .singleValue, help: "Only connections with this endpoint, ip or ip:port ([v6]:port) (repeatable).")
    var peer: [String] = []

    @Option(name: .long, help: "Only messages about this height (status, proposal, vote, block, block request and response, evidence).")
    var height: UInt64?

    @Flag(name: .long, help: "Print only a summary: messages and bytes by type and connection, handshakes, malformed frames, gaps.")
    var stats = false

    func run() throws {
        var options = CaptureOptions()
        options.filter = try filter()
        if let keyLog { options.keyLog = try Self.loadKeyLog(keyLog) }
        let inspector = CaptureInspector(options: options)
        let live = file == "-"
        let fd: Int32 = live ? 0 : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            Self.fail("cannot open \(file): \(String(cString: strerror(errno)))", status: 2)
        }
        defer { if !live { close(fd) } }
        let output = OutputBuffer()
        let printRecords = !stats
        let asJSON = json
        let emit: (CaptureRecord) -> Void = { record in
            guard printRecords else { return }
            if asJSON { output.appendJSON(record.json) } else { output.append(record.text) }
        }
        // A file is read on this thread and decoded on a second one; standard input is decoded as
        // it arrives, so that each packet's lines are printed at once.
        if !live {
            inspector.startPipeline { record in
                emit(record)
                output.flushIfLarge()
            }
        }
        var chunk = [UInt8](repeating: 0, count: live ? 65_536 : 4 * 1024 * 1024)
        var failure: CaptureError?
        reading: while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                output.flush()
                Self.fail("reading \(file) failed: \(String(cString: strerror(errno)))", status: 2)
            }
            if count == 0 { break }
            do {
                try inspector.feed(chunk[0..<count], emit)
            } catch {
                failure = error
                break reading
            }
            if live { output.flush() }
        }
        do {
            try inspector.finish(emit)
        } catch {
            if failure == nil { failure = error }
        }
        if stats {
            output.append(json ? inspector.statistics.json.description : inspector.statistics.text)
        }
        output.flush()
        if let failure {
            Self.fail("Error: \(failure)", status: 1)
        }
    }

    private func filter() throws -> CaptureFilter {
        var filter = CaptureFilter()
        filter.ports = Set(port)
        for name in type.flatMap({ $0.split(separator: ",") }) {
            let trimmed = name.trimmingCharacters(in: .whitespaces).lowercased()
            guard let messageType = MessageType(name: trimmed) else {
                throw ValidationError(
                    "--type \(trimmed) is not a message type; use one of " + MessageType.allCases.map(\.name).joined(separator: ", "))
            }
            filter.types.insert(messageType)
        }
        for text in peer {
            guard let parsed = Self.parsePeer(text) else {
                throw ValidationError("--peer \(text) is not ip, ip:port, or [ipv6]:port")
            }
            filter.peers.append(parsed)
        }
        filter.height = height
        return filter
    }

    static func parsePeer(_ text: String) -> (address: IPAddress, port: UInt16?)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), let address = IPAddress(String(text[text.index(after: text.startIndex)..<close])) else { return nil }
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (address, nil) }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else { return nil }
            return (address, port)
        }
        if let address = IPAddress(text) { return (address, nil) }
        guard let colon = text.lastIndex(of: ":"), let address = IPAddress(String(text[..<colon])), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        return (address, port)
    }

    static func loadKeyLog(_ path: String) throws -> [Bytes32: KeyLogEntry] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw InspectError("cannot read the key log \(path): \(error.localizedDescription)")
        }
        do {
            return try KeyLog.parse(text)
        } catch {
            throw InspectError("\(path): \(error)", hint: "a key log line is `MEDLEDGER_V1 <nonce> <key_i2r> <key_r2i>` (WIRE.md 4.4)")
        }
    }

    static func fail(_ message: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(status)
    }
}

/// Lines collected and written to standard output with few `write(2)` calls. Used by one thread
/// at a time: the decoding thread while a file is read, this one after.
final class OutputBuffer {
    private var bytes: [UInt8] = []

    func append(_ line: String) {
        bytes.append(contentsOf: line.utf8)
        bytes.append(0x0A)
    }

    func appendJSON(_ value: JSONValue) {
        value.appendCompactUTF8(to: &bytes)
        bytes.append(0x0A)
    }

    func flushIfLarge() {
        if bytes.count >= 256 * 1024 { flush() }
    }

    func flush() {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if written <= 0 {
                if written < 0, errno == EINTR { continue }
                break
            }
            offset += written
        }
        bytes.removeAll(keepingCapacity: true)
    }
}
