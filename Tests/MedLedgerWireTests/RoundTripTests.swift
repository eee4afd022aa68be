import MedLedgerWire
import Testing

@Suite("round trips of random messages")
struct RoundTripTests {
    static let seedsPerType: UInt64 = 60

    @Test("every message type encodes and decodes to an equal value, with one encoding", arguments: MessageType.allCases)
    func messageRoundTrip(type: MessageType) throws {
        for seed in 0..<Self.seedsPerType {
            var generator = MessageGenerator(seed: seed &* 1_000_003 &+ UInt64(type.rawValue))
            let message = generator.message(type)
            let payload = message.encodePayload()
            let decoded = try Message.decode(type: type, payload: payload)
            #expect(decoded == message, "type \(type) seed \(seed)")
            #expect(decoded.encodePayload() == payload, "type \(type) seed \(seed): not canonical")
        }
    }

    @Test("frames round-trip plain, compressed, sealed and both; JSON renderings parse back equal")
    func frameRoundTrip() throws {
        var sealer = try FrameSealer(key: Array(repeating: 7, count: 32))
        var opener: FrameOpener? = try FrameOpener(key: Array(repeating: 7, count: 32))
        for seed in 0..<UInt64(400) {
            var generator = MessageGenerator(seed: seed)
            let message = generator.anyMessage()
            let compression: Frame.Compression = [.never, .always, .default][Int(seed % 3)]
            let plain = Frame.plain(message, compression: compression)
            var noKey: FrameOpener?
            let decoded = try Frame.parseSingle(plain.bytes).decode(opener: &noKey)
            #expect(decoded.message == message, "seed \(seed)")
            let sealed = try Frame.sealed(message, compression: compression, sealer: &sealer)
            let opened = try Frame.parseSingle(sealed.bytes).decode(opener: &opener)
            #expect(opened.message == message, "seed \(seed) sealed")
            #expect(try JSONValue(parsing: decoded.json.description) == decoded.json)
            #expect(try JSONValue(parsing: decoded.json.prettyDescription) == decoded.json)
        }
        #expect(sealer.nextSequence == 400)
        #expect(opener?.nextSequence == 400)
    }

    @Test("mutated frames never crash: each either fails with a typed error or decodes canonically")
    func mutationsAreSafe() throws {
        for seed in 0..<UInt64(1500) {
            var generator = MessageGenerator(seed: seed)
            var bytes = Frame.plain(generator.anyMessage(), compression: seed % 4 == 0 ? .always : .never).bytes
            var rng = SeededRandom(seed: ~seed)
            switch rng.next() % 4 {
            case 0:  // flip a payload byte, keep the header valid
                if bytes.count > 16 { bytes[Int.random(in: 16..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
            case 1:  // cut the payload and fix the header's length and CRC
                let cut = Int.random(in: 16...bytes.count, using: &rng)
                bytes = refit(Array(bytes[0..<cut]))
            case 2:  // insert a byte and refit
                let at = Int.random(in: 16...bytes.count, using: &rng)
                bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                bytes = refit(bytes)
            default:  // flip any byte at all
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 0x80
            }
            do {
                var noKey: FrameOpener?
                let decoded = try Frame.parseSingle(bytes).decode(opener: &noKey)
                #expect(decoded.message.encodePayload() == decoded.messageBytes, "seed \(seed): accepted a non-canonical encoding")
            } catch is WireError {
                // A typed rejection: what a malformed frame must get.
            } catch let failure as FrameDecodeFailure {
                guard case .wire = failure else {
                    Issue.record("seed \(seed): \(failure)")
                    continue
                }
            }
        }
    }

    /// Rewrites the header's length and CRC so that only the payload is wrong.
    func refit(_ frame: [UInt8]) -> [UInt8] {
        var header = Array(frame[0..<16])
        let length = UInt32(frame.count - 16)
        header[8] = UInt8(length >> 24)
        header[9] = UInt8(truncatingIfNeeded: length >> 16)
        header[10] = UInt8(truncatingIfNeeded: length >> 8)
        header[11] = UInt8(truncatingIfNeeded: length)
        let crc = Zlib.crc32(header[0..<12])
        header[12] = UInt8(crc >> 24)
        header[13] = UInt8(truncatingIfNeeded: crc >> 16)
        header[14] = UInt8(truncatingIfNeeded: crc >> 8)
        header[15] = UInt8(truncatingIfNeeded: crc)
        return header + frame[16...]
    }

    @Test("every strict prefix of a frame is truncated, never anything else")
    func prefixesAreTruncated() throws {
        var generator = MessageGenerator(seed: 42)
        let bytes = Frame.plain(.block(generator.committed())).bytes
        for cut in 0..<bytes.count {
            #expect(throws: WireError.self) { try Frame.parseSingle(Array(bytes[0..<cut])) }
            do {
                _ = try Frame.parseSingle(Array(bytes[0..<cut]))
            } catch {
                #expect(error.code == .truncated, "cut at \(cut)")
                #expect(error.offset == (cut < 16 ? 0 : 8))
            }
        }
    }
}
