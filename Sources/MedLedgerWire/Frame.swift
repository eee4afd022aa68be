/// One frame as it travels: the header and the payload bytes exactly as on the wire (possibly
/// compressed, possibly sealed).
public struct Frame: Hashable, Sendable {
    public var header: FrameHeader
    public var payload: [UInt8]

    public init(header: FrameHeader, payload: [UInt8]) {
        precondition(payload.count == Int(header.length), "payload length must match the header")
        self.header = header
        self.payload = payload
    }

    /// Header and payload, ready to write to a socket.
    public var bytes: [UInt8] { header.bytes + payload }

    /// When the sender compresses a payload.
    public enum Compression: Sendable, Equatable {
        /// Never.
        case never
        /// When the canonical payload is at least `threshold` bytes and deflate makes it smaller.
        case whenSmaller(threshold: Int)
        /// Always (used by vectors and tests).
        case always

        /// The policy nodes use: compress payloads of 1 KiB and more when it pays.
        public static let `default` = Compression.whenSmaller(threshold: 1024)
    }

    /// Frames a message in the clear (the handshake's `HELLO`s, and vectors).
    public static func plain(_ message: Message, version: UInt8 = 1, compression: Compression = .never) -> Frame {
        let (body, flags) = compress(message.encodePayload(), policy: compression)
        let header = FrameHeader(version: version, type: message.type, flags: flags, length: UInt32(body.count))
        return Frame(header: header, payload: body)
    }

    /// Frames and seals a message with `sealer`, which moves on to the next sequence number.
    public static func sealed(
        _ message: Message, version: UInt8 = 1, compression: Compression = .never, sealer: inout FrameSealer
    ) throws(SealError) -> Frame {
        let (body, flags) = compress(message.encodePayload(), policy: compression)
        let header = FrameHeader(
            version: version, type: message.type, flags: flags.union(.sealed),
            length: UInt32(body.count + WireLimits.sealTagSize))
        let sealedPayload = try sealer.seal(body, header: header.bytes)
        return Frame(header: header, payload: sealedPayload)
    }

    static func compress(_ payload: [UInt8], policy: Compression) -> ([UInt8], FrameFlags) {
        let wanted: Bool
        switch policy {
        case .never: wanted = false
        case .always: wanted = true
        case .whenSmaller(let threshold): wanted = payload.count >= threshold
        }
        guard wanted else { return (payload, []) }
        var writer = ByteWriter(reservingCapacity: payload.count / 2 + 16)
        writer.write(UInt32(payload.count))
        writer.writeRaw(Zlib.deflate(payload))
        if case .whenSmaller = policy, writer.count >= payload.count { return (payload, []) }
        return (writer.bytes, .compressed)
    }
}

/// A frame whose payload was opened (when sealed) and inflated (when compressed) and decoded.
public struct DecodedFrame: Hashable, Sendable {
    public var header: FrameHeader
    /// The decoded message.
    public var message: Message
    /// For a compressed frame, the declared (and verified) inflated length.
    public var inflatedLength: Int?
    /// The canonical message bytes (inflated and opened).
    public var messageBytes: [UInt8]
}

extension Frame {
    /// Opens (if sealed, with `opener`), inflates (if compressed) and decodes the payload.
    ///
    /// A sealed frame needs an opener; one is advanced only when the frame opens.
    public func decode(opener: inout FrameOpener?) throws(FrameDecodeFailure) -> DecodedFrame {
        var plaintext = payload
        if header.flags.contains(.sealed) {
            guard opener != nil else { throw .sealedWithoutKey }
            do {
                plaintext = try opener!.open(payload, header: header.bytes)
            } catch {
                throw .wire(error)
            }
        }
        do {
            return try Frame.decodePlaintext(header: header, plaintext: plaintext)
        } catch {
            throw .wire(error)
        }
    }

    /// Decodes an unsealed (or already opened) payload: inflates it if compressed, then decodes
    /// the message of the header's type.
    public static func decodePlaintext(header: FrameHeader, plaintext: [UInt8]) throws(WireError) -> DecodedFrame {
        var messageBytes = plaintext
        var inflatedLength: Int?
        if header.flags.contains(.compressed) {
            let base = WireLimits.headerSize
            guard plaintext.count >= 4 else {
                throw WireError(.truncated, layer: .frame, offset: base, "a compressed payload starts with a 4-byte inflated length")
            }
            let declared = Int(plaintext[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            guard declared <= WireLimits.maxInflatedPayload else {
                throw WireError(
                    .inflatedTooLarge, layer: .frame, offset: base,
                    "declared inflated length \(declared) exceeds the limit of \(WireLimits.maxInflatedPayload) bytes")
            }
            switch Zlib.inflate(plaintext[4...], expectedLength: declared) {
            case .inflated(let bytes):
                messageBytes = bytes
                inflatedLength = declared
            case .tooLong:
                throw WireError(.inflatedLengthMismatch, layer: .frame, offset: base, "the zlib stream inflates to more than the declared \(declared) bytes")
            case .malformed(let reason):
                throw WireError(.decompressionFailed, layer: .frame, offset: base + 4, "the zlib stream is corrupt: \(reason)")
            case .incomplete:
                throw WireError(.decompressionFailed, layer: .frame, offset: base + 4, "the zlib stream is cut short")
            case .trailingData:
                throw WireError(.inflatedLengthMismatch, layer: .frame, offset: base, "bytes follow the end of the zlib stream")
            case .tooShort(let produced):
                throw WireError(.inflatedLengthMismatch, layer: .frame, offset: base, "the zlib stream inflates to \(produced) bytes, not the declared \(declared)")
            }
        }
        let message = try Message.decode(type: header.type, payload: messageBytes)
        return DecodedFrame(header: header, message: message, inflatedLength: inflatedLength, messageBytes: messageBytes)
    }

    /// Splits exactly one frame out of `bytes`: header checks, then the payload length; anything
    /// after the frame is `trailing_bytes`. The payload is not opened or decoded.
    public static func parseSingle(_ bytes: [UInt8]) throws(WireError) -> Frame {
        let header = try FrameHeader.parse(bytes[...])
        let available = bytes.count - WireLimits.headerSize
        let length = Int(header.length)
        guard available >= length else {
            throw WireError(.truncated, layer: .frame, offset: 8, "the header declares \(length) payload bytes, \(available) present")
        }
        guard available == length else {
            throw WireError(
                .trailingBytes, layer: .frame, offset: WireLimits.headerSize + length,
                "\(available - length) bytes follow the end of the frame")
        }
        return Frame(header: header, payload: Array(bytes[WireLimits.headerSize...]))
    }
}

/// Why a frame's payload could not be decoded.
public enum FrameDecodeFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// The frame broke a rule of the protocol.
    case wire(WireError)
    /// The frame is sealed and no key was given to open it (not an error of the frame).
    case sealedWithoutKey

    public var description: String {
        switch self {
        case .wire(let error): error.description
        case .sealedWithoutKey: "the payload is sealed and no key is available to open it"
        }
    }
}
