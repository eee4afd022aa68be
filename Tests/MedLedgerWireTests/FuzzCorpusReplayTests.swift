// Replays the fuzzer's corpus (Tools/fuzz/corpus/) and its crash inputs (Tools/fuzz/crashes/)
// through the same checks as the libFuzzer harness, so `swift test` guards every input the fuzzer
// found interesting without building the fuzzer (see Tools/fuzz/README.md).
//
// The checks between the SHARED CHECKS markers are mirrored byte for byte from
// Tools/fuzz/Sources/wire-fuzz/WireFuzz.swift (that package cannot be imported here, and Sources/
// is no place for fuzzing code); `sharedChecksMirrorTheHarness` fails if the two copies drift
// apart. Edit both.

import Foundation
import MedLedgerWire
import Testing

@Suite("Tools/fuzz corpus replay")
struct FuzzCorpusReplayTests {
    /// Tools/fuzz/, found from this file's path (Tests/MedLedgerWireTests/ is three levels down).
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tools/fuzz", isDirectory: true)

    /// The input files of `Tools/fuzz/<name>/`, without hidden files such as `.gitkeep`.
    static func inputs(_ name: String) throws -> [URL] {
        let directory = fuzzDirectory.appendingPathComponent(name, isDirectory: true)
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default
            .contentsOfDirectory(at: directory, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles])
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test("the fuzz corpus is not empty")
    func corpusIsNotEmpty() throws {
        #expect(try Self.inputs("corpus").count > 0, "Tools/fuzz/corpus/ is empty or missing: run Tools/fuzz/run")
    }

    @Test("every corpus and crash input passes the fuzzer's checks", arguments: ["corpus", "crashes"])
    func replay(_ name: String) throws {
        for url in try Self.inputs(name) {
            let bytes = [UInt8](try Data(contentsOf: url))
            do {
                try WireFuzzChecks.run(bytes)
            } catch {
                Issue.record("Tools/fuzz/\(name)/\(url.lastPathComponent): \(error)")
            }
        }
    }

    @Test("the shared checks are the harness's, byte for byte")
    func sharedChecksMirrorTheHarness() throws {
        func sharedChecks(_ path: String) throws -> [Substring] {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            guard let begin = lines.firstIndex(of: "// BEGIN SHARED CHECKS"),
                let end = lines.firstIndex(of: "// END SHARED CHECKS"), begin < end
            else { return [] }
            return Array(lines[begin...end])
        }
        let harness = try sharedChecks(Self.fuzzDirectory.appendingPathComponent("Sources/wire-fuzz/WireFuzz.swift").path)
        let mirror = try sharedChecks(#filePath)
        #expect(!harness.isEmpty && !mirror.isEmpty, "SHARED CHECKS markers missing")
        let common = min(harness.count, mirror.count)
        if let line = (0..<common).first(where: { harness[$0] != mirror[$0] }) ?? (harness.count == mirror.count ? nil : common) {
            Issue.record(
                """
                the shared checks differ from Tools/fuzz/Sources/wire-fuzz/WireFuzz.swift at line \(line + 1) of the block: copy them over
                harness: \(line < harness.count ? harness[line] : "<end>")
                here:    \(line < mirror.count ? mirror[line] : "<end>")
                """)
        }
    }
}

// BEGIN SHARED CHECKS
/// A broken invariant of the wire codec: the fuzzer traps on it, the replay test records it.
struct WireFuzzFailure: Error, CustomStringConvertible {
    var description: String
}

/// Every check the fuzzer runs on one input. Pure functions of the input: no state between runs.
enum WireFuzzChecks {
    /// The key log of Protocol/vectors/*-sealed.json (key_i2r, key_r2i), so sealed vectors open.
    static let keys: [[UInt8]] = [
        Bytes32(hex: "7b4bead4c562f52ddded0dbf1099c37437562f3e0d5e794c9a38bf28bf4d48e7")!.bytes,
        Bytes32(hex: "9d400fcf04f3bf3ff6bfb4da46f1243b5e5065b6572c893ced946c703a271143")!.bytes,
    ]
    /// The sequence numbers the sealed vectors use.
    static let sequences: ClosedRange<UInt64> = 0...4
    /// Frames found inside a longer stream that are also checked as whole frames.
    static let maxEmbeddedFrames = 8

    static func check(_ condition: Bool, _ what: @autoclosure () -> String) throws(WireFuzzFailure) {
        if !condition { throw WireFuzzFailure(description: what()) }
    }

    static func run(_ bytes: [UInt8]) throws(WireFuzzFailure) {
        try frame(bytes)
        if let repaired = repairedFrame(bytes), repaired != bytes { try frame(repaired) }
        try messages(bytes)
        try stream(bytes)
        try json(bytes)
    }

    // (a) A whole frame: parseSingle, then decode with no key, the vectors' keys, and a re-seal.
    static func frame(_ bytes: [UInt8]) throws(WireFuzzFailure) {
        let frame: Frame
        switch Result(catching: { () throws(WireError) in try Frame.parseSingle(bytes) }) {
        case .success(let parsed): frame = parsed
        case .failure(let error):
            return try check(error.layer == .frame && (0...bytes.count).contains(error.offset), "parseSingle error out of range: \(error)")
        }
        try check(frame.bytes == bytes, "parseSingle: frame bytes differ from the input")
        let sealed = frame.header.flags.contains(.sealed)
        var noKey: FrameOpener? = nil
        switch Result(catching: { () throws(FrameDecodeFailure) in try frame.decode(opener: &noKey) }) {
        case .success(let decoded):
            try check(!sealed, "a sealed frame decoded without a key")
            try decodedFrame(decoded, of: frame, plaintext: frame.payload)
        case .failure(.sealedWithoutKey):
            try check(sealed, "an unsealed frame asked for a key")
        case .failure(.wire(let error)):
            try check(!sealed && error.code != .decryptionFailed, "no-key decode failed with \(error)")
        }
        guard sealed else { return }
        for key in keys {
            for sequence in sequences {
                var opener: FrameOpener? = try? FrameOpener(key: key, nextSequence: sequence)
                switch Result(catching: { () throws(FrameDecodeFailure) in try frame.decode(opener: &opener) }) {
                case .success(let decoded):
                    try check(opener?.nextSequence == sequence + 1, "an opened frame did not advance the opener")
                    try decodedFrame(decoded, of: frame, plaintext: nil)
                case .failure(.sealedWithoutKey):
                    try check(false, "a sealed frame with an opener asked for a key")
                case .failure(.wire(let error)):
                    let opened = error.code != .decryptionFailed
                    try check(opener?.nextSequence == sequence + (opened ? 1 : 0), "opener at the wrong sequence after \(error)")
                    try check(opened || (error.layer == .frame && error.offset == 16), "decryption_failed misplaced: \(error)")
                }
            }
        }
        // Re-seal the body under a fixed key so every mutation of a sealed frame's plaintext also
        // runs through a successful open, inflate and message decode: the result must be the same
        // as decoding that plaintext directly.
        let plaintext = Array(frame.payload.dropLast(WireLimits.sealTagSize))
        guard var sealer = try? FrameSealer(key: keys[0], nextSequence: 7),
            let resealed = try? sealer.seal(plaintext, header: frame.header.bytes)
        else { return try check(false, "sealing failed") }
        try check(resealed.count == frame.payload.count, "a re-sealed payload changed length")
        var opener: FrameOpener? = try? FrameOpener(key: keys[0], nextSequence: 7)
        let viaOpen = Result(catching: { () throws(FrameDecodeFailure) in
            try Frame(header: frame.header, payload: resealed).decode(opener: &opener)
        })
        let direct = Result(catching: { () throws(WireError) in try Frame.decodePlaintext(header: frame.header, plaintext: plaintext) })
        try check(viaOpen == direct.mapError { .wire($0) }, "open-then-decode differs from decodePlaintext")
        try check(opener?.nextSequence == 8, "opening a re-sealed frame did not advance the opener")
        if case .success(let decoded) = direct { try decodedFrame(decoded, of: frame, plaintext: plaintext) }
    }

    /// The input with its magic, length and header CRC made right, so that mutations of the payload
    /// and of the version, type, flags and reserved bytes get past the header checks.
    static func repairedFrame(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= WireLimits.headerSize else { return nil }
        func be32(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
        let header = FrameHeader.magic + bytes[4..<8] + be32(UInt32(bytes.count - WireLimits.headerSize))
        return header + be32(Zlib.crc32(header)) + bytes[WireLimits.headerSize...]
    }

    /// `plaintext`: the opened payload when known (nil when it was opened with a vector key).
    static func decodedFrame(_ decoded: DecodedFrame, of frame: Frame, plaintext: [UInt8]?) throws(WireFuzzFailure) {
        try check(decoded.header == frame.header, "decoded header differs from the frame's")
        try check(decoded.message.type == frame.header.type, "decoded message type differs from the header's")
        let compressed = frame.header.flags.contains(.compressed)
        try check(decoded.inflatedLength == (compressed ? decoded.messageBytes.count : nil), "inflatedLength is wrong")
        if !compressed, let plaintext { try check(decoded.messageBytes == plaintext, "messageBytes differ from the plaintext") }
        try canonical(decoded.message, decoded.messageBytes)
        if !compressed, !frame.header.flags.contains(.sealed) {
            try check(Frame.plain(decoded.message, version: frame.header.version) == frame, "re-framing a plain frame changed it")
        }
        if decoded.messageBytes.count <= 4096 {
            // Our own deflate output must inflate back to the same message.
            let reframed = Frame.plain(decoded.message, version: frame.header.version, compression: .always)
            var none: FrameOpener? = nil
            let again = try? Frame.parseSingle(reframed.bytes).decode(opener: &none)
            try check(again?.message == decoded.message, "a message did not survive compress and inflate")
        }
    }

    // (b) The input as the payload of every message type, and the first byte choosing the type.
    static func messages(_ bytes: [UInt8]) throws(WireFuzzFailure) {
        for type in MessageType.allCases { try message(type, bytes) }
        if let first = bytes.first {
            let type = MessageType(rawValue: first) ?? MessageType.allCases[Int(first) % MessageType.allCases.count]
            let payload = Array(bytes.dropFirst())
            try message(type, payload)
            if payload.count <= 16384 {
                // The same payload deflated in a compressed frame must decode the same way.
                let compressed = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: payload.count >> $0) } + Zlib.deflate(payload)
                let header = FrameHeader(type: type, flags: .compressed, length: UInt32(compressed.count))
                let viaInflate = Result(catching: { () throws(WireError) in try Frame.decodePlaintext(header: header, plaintext: compressed).message })
                let direct = Result(catching: { () throws(WireError) in try Message.decode(type: type, payload: payload) })
                try check(viaInflate == direct, "a compressed \(type.name) payload decodes differently from the plain one")
            }
        }
    }

    static func message(_ type: MessageType, _ payload: [UInt8]) throws(WireFuzzFailure) {
        switch Result(catching: { () throws(WireError) in try Message.decode(type: type, payload: payload) }) {
        case .success(let message):
            try check(message.type == type, "\(type.name) payload decoded as \(message.type.name)")
            try canonical(message, payload)
        case .failure(let error):
            try check(error.layer == .message && (0...payload.count).contains(error.offset), "\(type.name) error out of range: \(error)")
        }
    }

    // (d) Canonicality: a decoded message re-encodes to exactly its bytes and decodes again equal.
    static func canonical(_ message: Message, _ bytes: [UInt8]) throws(WireFuzzFailure) {
        let encoded = message.encodePayload()
        try check(encoded == bytes, "\(message.type.name) decoded from bytes that are not its canonical encoding")
        let again = try? Message.decode(type: message.type, payload: encoded)
        try check(again == message, "\(message.type.name) does not decode back from its own encoding")
        let rendered = message.json
        try check((try? JSONValue(parsing: rendered.description)) == rendered, "\(message.type.name) JSON does not parse back")
    }

    // (c) The stream decoder, in chunks chosen by the input, against whole-frame parsing.
    static func stream(_ bytes: [UInt8]) throws(WireFuzzFailure) {
        let strict = try feed(bytes, mode: .strict, chunked: true)
        let strictWhole = try feed(bytes, mode: .strict, chunked: false)
        try check(strict.frames == strictWhole.frames && strict.error == strictWhole.error, "strict decoding depends on chunking")
        try check(strict.frames.allSatisfy { $0.skippedBefore == 0 }, "the strict decoder skipped bytes")
        switch Result(catching: { () throws(WireError) in try Frame.parseSingle(bytes) }) {
        case .success(let frame):
            try check(strict.frames.map(\.frame) == [frame] && strict.error == nil, "strict stream and parseSingle disagree")
        case .failure(let error):
            switch error.code {
            case .trailingBytes:
                try check(strict.frames.first?.frame.bytes == Array(bytes[..<error.offset]), "strict first frame differs from parseSingle's")
            case .truncated:
                try check(strict.frames.isEmpty && strict.error == nil, "strict stream decoded a truncated frame")
            default:
                try check(strict.frames.isEmpty && strict.error == error, "strict stream error \(String(describing: strict.error)) vs parseSingle \(error)")
            }
        }
        let resync = try feed(bytes, mode: .resynchronizing, chunked: true)
        let resyncWhole = try feed(bytes, mode: .resynchronizing, chunked: false)
        try check(resync.frames == resyncWhole.frames, "resynchronising depends on chunking")
        try check(resync.error == nil, "the resynchronising decoder threw \(String(describing: resync.error))")
        try check(Array(resync.frames.prefix(strict.frames.count)) == strict.frames, "resynchronising and strict disagree")
        if resync.frames.count > 1 || resync.frames.first.map({ $0.frame.bytes.count != bytes.count }) == true {
            for located in resync.frames.prefix(maxEmbeddedFrames) { try frame(located.frame.bytes) }
        }
    }

    struct Decoded {
        var frames: [FrameDecoder.Located] = []
        var error: WireError?
    }

    static func feed(_ bytes: [UInt8], mode: FrameDecoder.Mode, chunked: Bool) throws(WireFuzzFailure) -> Decoded {
        var decoder = FrameDecoder(mode: mode)
        var result = Decoded()
        var index = 0
        var chunk = 0
        var end = 0  // end of the last frame in the stream
        while index < bytes.count, result.error == nil {
            let next = chunked ? min(bytes.count, index + chunkSize(bytes, chunk)) : bytes.count
            decoder.append(bytes[index..<next])
            index = next
            chunk += 1
            while true {
                let located: FrameDecoder.Located?
                do {
                    located = try decoder.nextLocated()
                } catch {
                    result.error = error
                    break
                }
                guard let located else { break }
                let start = located.streamOffset
                let length = located.frame.bytes.count
                try check(start == end + located.skippedBefore, "frame at \(start) does not follow the last one")
                try check(start + length <= index && Array(bytes[start..<start + length]) == located.frame.bytes, "frame bytes are not the stream's")
                try check((try? Frame.parseSingle(located.frame.bytes)) == located.frame, "a streamed frame does not parse alone")
                end = start + length
                result.frames.append(located)
            }
        }
        if let error = result.error {
            let again = Result(catching: { () throws(WireError) in try decoder.next() })
            try check(again.map { _ in 0 } == .failure(error), "a failed strict decoder did not keep failing with its error")
        } else {
            try check(decoder.streamOffset + decoder.bufferedByteCount == bytes.count, "stream bytes lost or duplicated")
            try check(decoder.streamOffset >= end && (mode == .resynchronizing || decoder.streamOffset == end), "stream offset is wrong")
        }
        return result
    }

    /// Chunk `k`'s size, from the input's own bytes: 1 to 8 bytes, or up to about 1 KiB.
    static func chunkSize(_ bytes: [UInt8], _ k: Int) -> Int {
        let b = Int(bytes[(k &* 31 &+ bytes.count / 2) % bytes.count])
        return b & 0x80 == 0 ? 1 + b % 8 : 1 + (b & 0x7F) * 8
    }

    // JSON: the input as UTF-8 text must parse or be refused, and what parses must print stably.
    static func json(_ bytes: [UInt8]) throws(WireFuzzFailure) {
        guard let value = try? JSONValue(parsing: String(decoding: bytes, as: UTF8.self)) else { return }
        let text = value.description
        try check((try? JSONValue(parsing: text))?.description == text, "JSON output does not parse back to itself")
        try check((try? JSONValue(parsing: value.prettyDescription))?.description == text, "pretty JSON differs from compact")
    }
}
// END SHARED CHECKS
