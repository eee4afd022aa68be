import MedLedgerTestSupport
import MedLedgerWire
import Testing

@Suite("streaming frame decoder")
struct FrameDecoderTests {
    /// Every positive vector back to back: a stream with all types, flags and sizes.
    static func stream() throws -> (bytes: [UInt8], frames: [[UInt8]]) {
        let frames = try VectorFiles.names().filter { !$0.hasPrefix("reject-") }.map { try VectorFiles.hex($0) }
        return (frames.flatMap { $0 }, frames)
    }

    func drain(_ decoder: inout FrameDecoder) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let frame = try decoder.next() { out.append(frame.bytes) }
        return out
    }

    @Test("one byte at a time yields every frame exactly when its last byte arrives")
    func dripFeed() throws {
        let (bytes, frames) = try Self.stream()
        var decoder = FrameDecoder()
        var out: [[UInt8]] = []
        var boundaries = Set<Int>()
        var end = 0
        for frame in frames {
            end += frame.count
            boundaries.insert(end)
        }
        for (index, byte) in bytes.enumerated() {
            decoder.append([byte])
            let got = try drain(&decoder)
            #expect(got.isEmpty != boundaries.contains(index + 1), "byte \(index)")
            out += got
        }
        #expect(out == frames)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("everything at once yields every frame in order")
    func allAtOnce() throws {
        let (bytes, frames) = try Self.stream()
        var decoder = FrameDecoder()
        decoder.append(bytes)
        #expect(try drain(&decoder) == frames)
        #expect(decoder.streamOffset == bytes.count)
    }

    @Test("random chunk sizes give the same frames", arguments: 0..<20)
    func randomChunks(seed: UInt64) throws {
        let (bytes, frames) = try Self.stream()
        var rng = SeededRandom(seed: seed)
        var decoder = FrameDecoder()
        var out: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let size = Int.random(in: 1...Swift.min(600, bytes.count - index), using: &rng)
            decoder.append(bytes[index..<index + size])
            index += size
            out += try drain(&decoder)
        }
        #expect(out == frames)
    }

    @Test("strict mode throws on a bad header and stays failed")
    func strictFailure() throws {
        var decoder = FrameDecoder()
        decoder.append(try VectorFiles.hex("ping"))
        decoder.append(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(try decoder.next() != nil)
        #expect(throws: WireError.self) { try decoder.next() }
        decoder.append(try VectorFiles.hex("ping"))
        do {
            _ = try decoder.next()
            Issue.record("a failed decoder must keep failing")
        } catch {
            #expect(error.code == .badMagic)
        }
    }

    @Test("an oversized frame is refused from its header, before its payload is buffered")
    func oversizedRefusedEarly() throws {
        var decoder = FrameDecoder()
        decoder.append(try VectorFiles.hex("reject-frame-too-large"))
        do {
            _ = try decoder.next()
            Issue.record("expected frame_too_large")
        } catch {
            #expect(error.code == .frameTooLarge)
            #expect(decoder.bufferedByteCount == 16)
        }
    }

    @Test("resynchronising mode skips garbage, false magics and bad headers, and counts what it skipped")
    func resynchronise() throws {
        let (_, frames) = try Self.stream()
        var rng = SeededRandom(seed: 9)
        var stream: [UInt8] = []
        var garbage = 0
        var expected: [[UInt8]] = []
        for (index, frame) in frames.enumerated() {
            // Garbage before each frame, sometimes containing a false magic or half a real frame.
            var junk: [UInt8] = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if index % 3 == 0 { junk += FrameHeader.magic + [1, 0x10, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0] }
            if index % 5 == 0 { junk += Array(frames[(index + 1) % frames.count].prefix(10)) }
            stream += junk + frame
            garbage += junk.count
            expected.append(frame)
        }
        var decoder = FrameDecoder(mode: .resynchronizing)
        var located: [FrameDecoder.Located] = []
        var index = 0
        while index < stream.count {
            let size = Swift.min(Int.random(in: 1...64, using: &rng), stream.count - index)
            decoder.append(stream[index..<index + size])
            index += size
            while let frame = try decoder.nextLocated() { located.append(frame) }
        }
        #expect(located.map(\.frame.bytes) == expected)
        #expect(decoder.skippedBytes == garbage)
        #expect(located.reduce(0) { $0 + $1.skippedBefore } == garbage)
        for frame in located {
            #expect(Array(stream[frame.streamOffset..<frame.streamOffset + frame.frame.bytes.count]) == frame.frame.bytes)
        }
    }

    @Test("a capture that starts mid-frame finds the next frame")
    func midStream() throws {
        let (bytes, frames) = try Self.stream()
        var decoder = FrameDecoder(mode: .resynchronizing)
        decoder.append(bytes.dropFirst(frames[0].count / 2))
        let out = try drain(&decoder)
        #expect(out == Array(frames.dropFirst()))
        #expect(decoder.skippedBytes == frames[0].count - frames[0].count / 2)
    }
}
