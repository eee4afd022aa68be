import MedLedgerCrypto
import MedLedgerWire

extension VectorCatalog {
    struct Rejection {
        var name: String
        var summary: String
        var bytes: [UInt8]
        var expected: (code: WireError.Code, layer: WireError.Layer, offset: Int)
        var sealing: Sealing?

        var expectedJSON: JSONValue {
            .object([
                ("error", .string(expected.code.name)), ("layer", .string(expected.layer.rawValue)),
                ("offset", .int(expected.offset)),
            ])
        }
    }

    /// A frame built byte by byte, so that any header field can be wrong.
    static func raw(
        type: UInt8, payload: [UInt8], flags: UInt8 = 0, version: UInt8 = 1, reserved: UInt8 = 0,
        length: UInt32? = nil, magic: [UInt8] = FrameHeader.magic, crc: UInt32? = nil
    ) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeRaw(magic)
        writer.write(version)
        writer.write(type)
        writer.write(flags)
        writer.write(reserved)
        writer.write(length ?? UInt32(payload.count))
        writer.write(crc ?? Zlib.crc32(writer.bytes))
        writer.writeRaw(payload)
        return writer.bytes
    }

    static func bytes(_ build: (inout ByteWriter) -> Void) -> [UInt8] {
        var writer = ByteWriter()
        build(&writer)
        return writer.bytes
    }

    static func message(_ type: MessageType, _ payload: [UInt8]) -> [UInt8] { raw(type: type.rawValue, payload: payload) }

    static func compressedPayload(declared: UInt32, stream: [UInt8]) -> [UInt8] {
        bytes { $0.write(declared); $0.writeRaw(stream) }
    }

    static func sealedRaw(
        _ type: MessageType, plaintext: [UInt8], flags: FrameFlags = [], _ direction: Direction, sequence: UInt64
    ) -> [UInt8] {
        let header = FrameHeader(type: type, flags: flags.union(.sealed), length: UInt32(plaintext.count + 16))
        var sealer = try! FrameSealer(key: keyLog.key(for: direction).bytes, nextSequence: sequence)
        return header.bytes + (try! sealer.seal(plaintext, header: header.bytes))
    }

    static var rejections: [Rejection] {
        let pingPayload = Ping(nonce: 99).canonicalBytes
        let pingStream = Zlib.deflate(pingPayload)
        let voteBytes = vote(.prevote, height: 1, round: 0, hash: nil, validator: 0).canonicalBytes
        let block1 = block(height: 1).canonicalBytes
        let hash1 = block(height: 1).header.hash
        let validBlock2 = committed(height: 2).canonicalBytes
        let sealedPing = sealedRaw(.ping, plaintext: pingPayload, .initiatorToResponder, sequence: 1)
        let i2r1 = Sealing(direction: .initiatorToResponder, sequence: 1)

        func commitPrefix(signatureCount: UInt32) -> [UInt8] {
            block1 + bytes { $0.write(UInt64(1)); $0.write(UInt32(0)); $0.write(hash1); $0.write(signatureCount) }
        }
        func commitSignature(_ index: UInt16) -> [UInt8] {
            CommitSignature(validatorIndex: index, timestamp: 5, signature: b64("sig \(index)")).canonicalBytes
        }
        func helloPrefix(min: UInt8 = 1, max: UInt8 = 1, channel: UInt8 = 1) -> [UInt8] {
            [min, max, channel]
        }
        func helloWith(chainID raw: [UInt8]) -> [UInt8] {
            helloPrefix() + bytes { $0.writeLengthPrefixed(raw) } + b32("e").bytes + b32("n").bytes
        }
        let swappedEvidence = [EvidenceKind.duplicateVote.rawValue] + evidence.voteB.canonicalBytes
            + evidence.voteA.canonicalBytes

        return [
            // Frame header, in the order a receiver checks it.
            Rejection(
                name: "truncated-header", summary: "only 10 bytes: less than a frame header",
                bytes: Array(message(.ping, pingPayload).prefix(10)), expected: (.truncated, .frame, 0)),
            Rejection(
                name: "bad-magic", summary: "magic MLDX instead of MLDG",
                bytes: raw(type: 0x10, payload: pingPayload, magic: Array("MLDX".utf8)), expected: (.badMagic, .frame, 0)),
            Rejection(
                name: "header-checksum", summary: "header CRC off by one",
                bytes: raw(type: 0x10, payload: pingPayload, crc: Zlib.crc32(Array(message(.ping, pingPayload).prefix(12))) &+ 1),
                expected: (.headerChecksumMismatch, .frame, 12)),
            Rejection(
                name: "coinciding-checksum-and-version", summary: "version 2 with the CRC of version 1: the CRC is checked first",
                bytes: raw(type: 0x10, payload: pingPayload, version: 2, crc: Zlib.crc32(Array(message(.ping, pingPayload).prefix(12)))),
                expected: (.headerChecksumMismatch, .frame, 12)),
            Rejection(
                name: "unsupported-version", summary: "protocol version 2 (CRC correct)",
                bytes: raw(type: 0x10, payload: pingPayload, version: 2), expected: (.unsupportedVersion, .frame, 4)),
            Rejection(
                name: "unsupported-version-zero", summary: "protocol version 0",
                bytes: raw(type: 0x10, payload: pingPayload, version: 0), expected: (.unsupportedVersion, .frame, 4)),
            Rejection(
                name: "unknown-type", summary: "message type 0x7f",
                bytes: raw(type: 0x7F, payload: pingPayload), expected: (.unknownMessageType, .frame, 5)),
            Rejection(
                name: "unknown-flags", summary: "flag bit 2 (0x04) set",
                bytes: raw(type: 0x10, payload: pingPayload, flags: 0x04), expected: (.unknownFlags, .frame, 6)),
            Rejection(
                name: "reserved-not-zero", summary: "reserved header byte is 0x01",
                bytes: raw(type: 0x10, payload: pingPayload, reserved: 1), expected: (.reservedNotZero, .frame, 7)),
            Rejection(
                name: "frame-too-large", summary: "length 8 MiB + 1, no payload follows (decided from the header)",
                bytes: raw(type: 0x23, payload: [], length: 8 * 1024 * 1024 + 1), expected: (.frameTooLarge, .frame, 8)),
            Rejection(
                name: "sealed-payload-too-short", summary: "sealed frame of 15 bytes: shorter than the GCM tag",
                bytes: raw(type: 0x10, payload: Array(repeating: 0, count: 15), flags: 0x02),
                expected: (.sealedPayloadTooShort, .frame, 8)),
            Rejection(
                name: "truncated-payload", summary: "header declares 8 payload bytes, 5 present",
                bytes: Array(message(.ping, pingPayload).prefix(21)), expected: (.truncated, .frame, 8)),
            Rejection(
                name: "trailing-frame-bytes", summary: "one byte after a complete PING frame",
                bytes: message(.ping, pingPayload) + [0x00], expected: (.trailingBytes, .frame, 24)),

            // Compression.
            Rejection(
                name: "compressed-truncated", summary: "compressed payload of 3 bytes: no room for inflated_length",
                bytes: raw(type: 0x10, payload: [0, 0, 0], flags: 0x01), expected: (.truncated, .frame, 16)),
            Rejection(
                name: "inflated-too-large", summary: "declared inflated length 16 MiB + 1",
                bytes: raw(type: 0x10, payload: compressedPayload(declared: 16 * 1024 * 1024 + 1, stream: pingStream), flags: 0x01),
                expected: (.inflatedTooLarge, .frame, 16)),
            Rejection(
                name: "decompression-bad-header", summary: "zlib stream with an invalid header (00 00)",
                bytes: raw(type: 0x10, payload: compressedPayload(declared: 8, stream: [0, 0] + pingStream.dropFirst(2)), flags: 0x01),
                expected: (.decompressionFailed, .frame, 20)),
            Rejection(
                name: "decompression-bad-checksum", summary: "zlib stream whose Adler-32 trailer is wrong",
                bytes: raw(type: 0x10, payload: compressedPayload(declared: 8, stream: pingStream.dropLast() + [pingStream.last! ^ 0xFF]), flags: 0x01),
                expected: (.decompressionFailed, .frame, 20)),
            Rejection(
                name: "decompression-incomplete", summary: "zlib stream cut off before its end",
                bytes: raw(type: 0x10, payload: compressedPayload(declared: 8, stream: Array(pingStream.dropLast(4))), flags: 0x01),
                expected: (.decompressionFailed, .frame, 20)),
            Rejection(
                name: "inflated-longer", summary: "declared 4 bytes, the stream inflates to 8",
                bytes: raw(type: 0x10, payload: compressedPayload(declared: 4, stream: pingStream), flags: 0x01),
                expected: (.inflatedLengthMismatch, .frame, 16)),
            Rejection(
                name: "inflated-shorter", summary: "declared 12 bytes, the stream inflates to 8",
                bytes: raw(type: 0x10, payload: compressedPayload(declared: 12, stream: pingStream), flags: 0x01),
                expected: (.inflatedLengthMismatch, .frame, 16)),
            Rejection(
                name: "inflated-trailing", summary: "a byte after the end of the zlib stream",
                bytes: raw(type: 0x10, payload: compressedPayload(declared: 8, stream: pingStream + [0x00]), flags: 0x01),
                expected: (.inflatedLengthMismatch, .frame, 16)),
            Rejection(
                name: "compressed-message-error", summary: "compressed VOTE whose vote_type (inflated offset 0) is 3",
                bytes: raw(
                    type: 0x22, payload: compressedPayload(declared: UInt32(voteBytes.count), stream: Zlib.deflate([3] + voteBytes.dropFirst())),
                    flags: 0x01),
                expected: (.unknownEnum, .message, 0)),

            // Sealing.
            Rejection(
                name: "sealed-tampered-payload", summary: "sealed PING with one ciphertext bit flipped",
                bytes: sealedPing.enumerated().map { $0.offset == 17 ? $0.element ^ 0x01 : $0.element },
                expected: (.decryptionFailed, .frame, 16), sealing: i2r1),
            Rejection(
                name: "sealed-tampered-header", summary: "sealed PING relabelled PONG (header CRC recomputed): the AAD no longer matches",
                bytes: raw(type: 0x11, payload: Array(sealedPing.dropFirst(16)), flags: 0x02), expected: (.decryptionFailed, .frame, 16),
                sealing: i2r1),
            Rejection(
                name: "sealed-replayed", summary: "sealed PING of sequence 1 received where sequence 2 is due",
                bytes: sealedPing, expected: (.decryptionFailed, .frame, 16),
                sealing: Sealing(direction: .initiatorToResponder, sequence: 2)),
            Rejection(
                name: "sealed-wrong-direction", summary: "sealed PING (i2r) opened as a responder-to-initiator frame",
                bytes: sealedPing, expected: (.decryptionFailed, .frame, 16),
                sealing: Sealing(direction: .responderToInitiator, sequence: 1)),
            Rejection(
                name: "sealed-decompression-failed", summary: "compressed and sealed PING whose zlib stream is corrupt inside the ciphertext",
                bytes: sealedRaw(
                    .ping, plaintext: compressedPayload(declared: 8, stream: [0, 0] + pingStream.dropFirst(2)), flags: .compressed,
                    .initiatorToResponder, sequence: 1),
                expected: (.decompressionFailed, .frame, 20), sealing: i2r1),
            Rejection(
                name: "sealed-message-error", summary: "sealed VOTE whose block_hash optional tag (offset 13) is 2",
                bytes: sealedRaw(.vote, plaintext: Array(voteBytes.prefix(13)) + [2] + voteBytes.dropFirst(14), .initiatorToResponder, sequence: 1),
                expected: (.invalidOptionalTag, .message, 13), sealing: i2r1),

            // Message payloads.
            Rejection(
                name: "truncated-field", summary: "PING payload of 4 bytes: the u64 nonce needs 8",
                bytes: message(.ping, [0, 0, 0, 1]), expected: (.truncated, .message, 0)),
            Rejection(
                name: "truncated-list-element", summary: "BLOCK_RESPONSE declaring 2 blocks, carrying 1",
                bytes: message(.blockResponse, bytes { $0.write(UInt64(1)); $0.write(UInt32(2)) } + validBlock2),
                expected: (.truncated, .message, 12 + validBlock2.count)),
            Rejection(
                name: "truncated-length-prefixed", summary: "DISCONNECT reason declaring 10 bytes, 3 present",
                bytes: message(.disconnect, bytes { $0.write(UInt16(100)); $0.write(UInt32(10)); $0.writeRaw(Array("bye".utf8)) }),
                expected: (.truncated, .message, 2)),
            Rejection(
                name: "trailing-message-bytes", summary: "PING payload of 9 bytes",
                bytes: message(.ping, pingPayload + [0]), expected: (.trailingBytes, .message, 8)),
            Rejection(
                name: "length-exceeds-limit", summary: "TRANSACTION body declaring 65,537 bytes (limit 65,536), rejected before reading it",
                bytes: message(.transaction, bytes { $0.write(UInt16(1)); $0.write(b32("s")); $0.write(UInt64(1)); $0.write(UInt32(65_537)) }),
                expected: (.lengthExceedsLimit, .message, 42)),
            Rejection(
                name: "count-exceeds-limit", summary: "BLOCK_RESPONSE declaring 65 blocks (limit 64)",
                bytes: message(.blockResponse, bytes { $0.write(UInt64(1)); $0.write(UInt32(65)) }),
                expected: (.countExceedsLimit, .message, 8)),
            Rejection(
                name: "count-exceeds-limit-huge", summary: "BLOCK declaring 4,294,967,295 transactions: refused before allocating",
                bytes: message(.block, header(height: 1).canonicalBytes + bytes { $0.write(UInt32.max) }),
                expected: (.countExceedsLimit, .message, header(height: 1).canonicalBytes.count)),
            Rejection(
                name: "invalid-optional-tag", summary: "VOTE whose block_hash optional tag is 2",
                bytes: message(.vote, Array(voteBytes.prefix(13)) + [2] + voteBytes.dropFirst(14)),
                expected: (.invalidOptionalTag, .message, 13)),
            Rejection(
                name: "unknown-enum-vote-type", summary: "VOTE with vote_type 3",
                bytes: message(.vote, [3] + voteBytes.dropFirst()), expected: (.unknownEnum, .message, 0)),
            Rejection(
                name: "unknown-enum-channel", summary: "HELLO with channel 3",
                bytes: message(.hello, helloPrefix(channel: 3) + Array(hello.canonicalBytes.dropFirst(3))),
                expected: (.unknownEnum, .message, 2)),
            Rejection(
                name: "unknown-enum-evidence-kind", summary: "EVIDENCE of kind 2",
                bytes: message(.evidence, [2] + evidence.canonicalBytes.dropFirst()), expected: (.unknownEnum, .message, 0)),
            Rejection(
                name: "invalid-utf8-overlong", summary: "DISCONNECT reason with the overlong encoding C0 80",
                bytes: message(.disconnect, bytes { $0.write(UInt16(100)); $0.writeLengthPrefixed([0x61, 0xC0, 0x80]) }),
                expected: (.invalidUTF8, .message, 2)),
            Rejection(
                name: "invalid-utf8-surrogate", summary: "CLIENT_ERROR message with an encoded surrogate (ED A0 80)",
                bytes: message(.clientError, bytes { $0.write(UInt64(1)); $0.write(UInt16(1)); $0.writeLengthPrefixed([0xED, 0xA0, 0x80]) }),
                expected: (.invalidUTF8, .message, 10)),
            Rejection(
                name: "invalid-utf8-above-max", summary: "DISCONNECT reason with F4 90 80 80 (above U+10FFFF)",
                bytes: message(.disconnect, bytes { $0.write(UInt16(100)); $0.writeLengthPrefixed([0xF4, 0x90, 0x80, 0x80]) }),
                expected: (.invalidUTF8, .message, 2)),
            Rejection(
                name: "invalid-chain-id-uppercase", summary: "HELLO chain id with an upper-case letter",
                bytes: message(.hello, helloWith(chainID: Array("MedLedger".utf8))), expected: (.invalidChainID, .message, 3)),
            Rejection(
                name: "invalid-chain-id-empty", summary: "HELLO with an empty chain id",
                bytes: message(.hello, helloWith(chainID: [])), expected: (.invalidChainID, .message, 3)),
            Rejection(
                name: "chain-id-too-long", summary: "HELLO chain id of 65 bytes",
                bytes: message(.hello, helloWith(chainID: Array(repeating: 0x61, count: 65))),
                expected: (.lengthExceedsLimit, .message, 3)),
            Rejection(
                name: "value-out-of-range-count-zero", summary: "BLOCK_REQUEST for 0 blocks",
                bytes: message(.blockRequest, bytes { $0.write(UInt64(1)); $0.write(UInt64(1)); $0.write(UInt16(0)) }),
                expected: (.valueOutOfRange, .message, 16)),
            Rejection(
                name: "value-out-of-range-count-65", summary: "BLOCK_REQUEST for 65 blocks",
                bytes: message(.blockRequest, bytes { $0.write(UInt64(1)); $0.write(UInt64(1)); $0.write(UInt16(65)) }),
                expected: (.valueOutOfRange, .message, 16)),
            Rejection(
                name: "value-out-of-range-start-height", summary: "BLOCK_REQUEST from height 0",
                bytes: message(.blockRequest, bytes { $0.write(UInt64(1)); $0.write(UInt64(0)); $0.write(UInt16(1)) }),
                expected: (.valueOutOfRange, .message, 8)),
            Rejection(
                name: "value-out-of-range-min-version", summary: "HELLO with min_version 0",
                bytes: message(.hello, helloPrefix(min: 0) + Array(hello.canonicalBytes.dropFirst(3))),
                expected: (.valueOutOfRange, .message, 0)),
            Rejection(
                name: "value-out-of-range-version-range", summary: "HELLO with max_version 1 below min_version 2",
                bytes: message(.hello, helloPrefix(min: 2, max: 1) + Array(hello.canonicalBytes.dropFirst(3))),
                expected: (.valueOutOfRange, .message, 1)),
            Rejection(
                name: "value-out-of-range-block-version", summary: "BLOCK whose header version is 2",
                bytes: message(.block, bytes { $0.write(UInt16(2)) } + Array(validBlock2.dropFirst(2))),
                expected: (.valueOutOfRange, .message, 0)),
            Rejection(
                name: "value-out-of-range-empty-commit", summary: "BLOCK whose commit certificate has no signatures",
                bytes: message(.block, commitPrefix(signatureCount: 0)),
                expected: (.valueOutOfRange, .message, block1.count + 44)),
            Rejection(
                name: "non-canonical-commit-order", summary: "commit signatures with validator indices 1 then 0",
                bytes: message(.block, commitPrefix(signatureCount: 2) + commitSignature(1) + commitSignature(0)),
                expected: (.nonCanonical, .message, block1.count + 48 + commitSignature(1).count)),
            Rejection(
                name: "non-canonical-commit-duplicate", summary: "commit signatures with validator index 1 twice",
                bytes: message(.block, commitPrefix(signatureCount: 2) + commitSignature(1) + commitSignature(1)),
                expected: (.nonCanonical, .message, block1.count + 48 + commitSignature(1).count)),
            Rejection(
                name: "non-canonical-evidence-order", summary: "EVIDENCE with its two votes in the wrong order",
                bytes: message(.evidence, swappedEvidence),
                expected: (.nonCanonical, .message, 1 + evidence.voteB.canonicalBytes.count)),
            Rejection(
                name: "non-canonical-evidence-identical", summary: "EVIDENCE whose two votes are the same vote",
                bytes: message(.evidence, [EvidenceKind.duplicateVote.rawValue] + evidence.voteA.canonicalBytes + evidence.voteA.canonicalBytes),
                expected: (.nonCanonical, .message, 1 + evidence.voteA.canonicalBytes.count)),
            Rejection(
                name: "value-out-of-range-record-blob-total", summary: "RECORD_BLOB of a ciphertext of 0 bytes",
                bytes: message(.recordBlob, bytes { $0.write(b32("record 1")); $0.write(UInt64(0)); $0.write(UInt64(0)); $0.write(UInt32(0)) }),
                expected: (.valueOutOfRange, .message, 40)),
            Rejection(
                name: "value-out-of-range-record-blob-chunk", summary: "RECORD_BLOB whose chunk ends past the total",
                bytes: message(
                    .recordBlob,
                    bytes { $0.write(b32("record 1")); $0.write(UInt64(8)); $0.write(UInt64(10)); $0.writeLengthPrefixed([1, 2, 3]) }),
                expected: (.valueOutOfRange, .message, 48)),
        ]
    }
}
