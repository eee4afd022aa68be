import Foundation
import MedLedgerInspect
import MedLedgerWire

// libFuzzer entry point: every input is checked by CaptureFuzzChecks.run; a broken check is a
// fatalError, which libFuzzer saves as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func captureFuzzTestOneInput(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    CaptureFuzzChecks.run(Array(UnsafeBufferPointer(start: start, count: count)), keyLog: CaptureFuzzKeys.keyLog)
    return 0
}

/// The key log of the real-traffic fixture, so that seeds cut from it decrypt.
enum CaptureFuzzKeys {
    static let keyLog: [Bytes32: KeyLogEntry] = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../../../Tests/MedLedgerInspectTests/Fixtures/capture/cluster.keylog"
        ).standardized.path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let entries = try? KeyLog.parse(text) else {
            fatalError("capture-fuzz: cannot read the fixture key log \(path)")
        }
        return entries
    }()
}

// BEGIN SHARED CHECKS
/// What every input must satisfy: it is read as a capture file, and (wrapped by `stream`) as
/// the payload of a TCP conversation; neither crashes, chunking never changes what comes out,
/// every error names an offset inside the input, and the counts add up.
enum CaptureFuzzChecks {
    static func run(_ data: [UInt8], keyLog: [Bytes32: KeyLogEntry]) {
        check(data, keyLog: keyLog, what: "capture")
        check(stream(data), keyLog: keyLog, what: "stream")
    }

    static func check(_ data: [UInt8], keyLog: [Bytes32: KeyLogEntry], what: String) {
        let whole = inspectAll(data, chunk: Int.max, keyLog: keyLog)
        let size = data.first.map { Int($0 % 61) + 1 } ?? 1
        let chunked = inspectAll(data, chunk: size, keyLog: keyLog)
        guard whole.lines == chunked.lines, whole.error == chunked.error else {
            fatalError("capture-fuzz invariant broken (\(what)): reading in chunks of \(size) changed the output")
        }
        if let error = whole.error {
            guard error.offset >= 0, error.offset <= data.count else {
                fatalError("capture-fuzz invariant broken (\(what)): error offset \(error.offset) outside the \(data.count)-byte input")
            }
        }
        let s = whole.statistics
        guard s.decryptedFrames + s.sealedUnopened <= s.total.messages, s.tcpSegments <= s.packets,
            whole.error != nil || s.captureBytes == data.count
        else {
            fatalError("capture-fuzz invariant broken (\(what)): statistics do not add up")
        }
    }

    static func inspectAll(_ data: [UInt8], chunk: Int, keyLog: [Bytes32: KeyLogEntry]) -> (lines: [String], error: CaptureError?, statistics: CaptureStatistics) {
        var options = CaptureOptions()
        options.keyLog = keyLog
        options.reassembly = ReassemblyLimits(perDirection: 64 * 1024, total: 256 * 1024)
        options.maxHeldPayloadBytes = 1 << 20
        options.resyncSequenceWindow = 8
        let inspector = CaptureInspector(options: options)
        var lines: [String] = []
        let emit: (CaptureRecord) -> Void = { record in
            lines.append(record.text)
            lines.append(record.json.description)
        }
        var failure: CaptureError?
        var index = 0
        do {
            while index < data.count {
                let end = chunk >= data.count - index ? data.count : index + chunk
                try inspector.feed(data[index..<end], emit)
                index = end
            }
        } catch {
            failure = error
        }
        do {
            try inspector.finish(emit)
        } catch {
            if failure == nil { failure = error }
        }
        // The summary counts the bytes read, which stop at an error wherever the chunk ended.
        if failure == nil {
            lines.append(inspector.statistics.text)
            lines.append(inspector.statistics.json.description)
        }
        return (lines, failure, inspector.statistics)
    }

    /// The input as a TCP conversation in a pcap (raw IPv4): each control byte says the size,
    /// direction and sequence shift (retransmission, reordering, loss) of the next piece.
    static func stream(_ data: [UInt8]) -> [UInt8] {
        func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        var out: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 8) + le32(262_144) + le32(101)
        var sequences: [UInt32] = [0xFFFF_FF00, 1_000]
        var index = 0
        var packet: UInt32 = 0
        while index < data.count {
            let control = data[index]
            index += 1
            let side = Int(control >> 6 & 1)
            let size = Swift.min(Int(control & 0x3F) * 24 + 1, data.count - index)
            let piece = Array(data[index..<index + size])
            index += size
            var sequence = sequences[side]
            if control & 0x80 != 0, control & 0x01 != 0 { sequence &-= UInt32(size / 2) }  // overlap / retransmission
            let first = packet == 0
            let flags: UInt8 = first ? 0x02 : 0x18
            var tcp = be16(side == 0 ? 40_000 : 26_656) + be16(side == 0 ? 26_656 : 40_000) + be32(first ? sequence &- 1 : sequence)
            tcp += be32(0) + [0x50, flags] + be16(65_535) + [0, 0, 0, 0] + (first ? [] : piece)
            var ip: [UInt8] = [0x45, 0] + be16(UInt16(20 + tcp.count)) + [0, 0, 0x40, 0, 64, 6, 0, 0]
            ip += [127, 0, 0, UInt8(1 + side)] + [127, 0, 0, UInt8(2 - side)]
            let record = ip + tcp
            out += le32(packet) + le32(0) + le32(UInt32(record.count)) + le32(UInt32(record.count)) + record
            packet += 1
            if !first, control & 0x80 == 0 || control & 0x02 == 0 { sequences[side] = sequence &+ UInt32(size) }
            if control & 0x80 != 0, control & 0x02 != 0 { sequences[side] &+= UInt32(size) &+ 7 }  // loss: a gap
        }
        return out
    }
}
// END SHARED CHECKS
