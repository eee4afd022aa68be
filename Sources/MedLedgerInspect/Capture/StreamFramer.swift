import MedLedgerWire

/// What the framer found in one direction of a stream.
enum FramerEvent {
    /// A whole frame: its header (checked), the 16 header bytes and the payload as on the wire.
    case frame(FrameHeader, headerBytes: [UInt8], payload: [UInt8], streamOffset: Int)
    /// A frame whose header was read but part of whose payload the capture does not hold (or
    /// that was too large to keep under the memory limit).
    case incomplete(FrameHeader, streamOffset: Int, missing: Int)
    /// A header that breaks a rule of WIRE.md section 2 where a frame had to start.
    case malformed(WireError, streamOffset: Int)
    /// Bytes passed over while looking for the next frame.
    case skipped(Int, streamOffset: Int)
    /// Framing was lost (a gap over a header, a malformed header): the next frame is found by
    /// its magic, and the frame count of this direction is no longer known.
    case lostSync
}

/// Cuts one direction of a reassembled TCP stream into MedLedger frames, across gaps.
///
/// While in step it reads header after header; a gap inside a payload only spoils that frame
/// (its length says where the next one starts). A gap over a header, a malformed header, or a
/// capture that starts mid-stream loses the framing: then it scans for the magic and accepts a
/// candidate only when every header check of WIRE.md section 2 passes (resynchronisation).
struct StreamFramer {
    private enum State {
        case scanning
        case header
        case payload
    }

    private var state: State
    /// Bytes kept while scanning or reading a header (at most a header's worth in step).
    private var pendingBytes: [UInt8] = []
    private var header = FrameHeader(type: .ping, length: 0)
    private var headerBytes: [UInt8] = []
    private var payload: [UInt8] = []
    private var remaining = 0
    private var damaged = 0
    private var keepPayload = true
    private var frameStart = 0
    /// Offset in the stream of the next byte to come (gaps count).
    private(set) var streamOffset = 0
    /// Bytes of frame payloads held right now.
    var heldBytes: Int { payload.capacity }

    init(synchronised: Bool) {
        state = synchronised ? .header : .scanning
    }

    var isScanning: Bool { state == .scanning }

    /// Feeds stream bytes; `canHold(n)` says whether a payload of n bytes may be buffered.
    mutating func feed(_ bytes: ArraySlice<UInt8>, canHold: (Int) -> Bool, _ emit: (FramerEvent) -> Void) {
        var rest = bytes
        while !rest.isEmpty {
            switch state {
            case .payload:
                let take = Swift.min(remaining, rest.count)
                if keepPayload { payload.append(contentsOf: rest.prefix(take)) }
                rest = rest.dropFirst(take)
                remaining -= take
                streamOffset += take
                if remaining == 0 { finishFrame(emit) }
            case .header:
                if pendingBytes.isEmpty, rest.count >= WireLimits.headerSize {
                    let candidate = rest.prefix(WireLimits.headerSize)
                    rest = rest.dropFirst(WireLimits.headerSize)
                    startFrame(candidate, canHold: canHold, emit, rescan: &rest)
                } else {
                    let take = Swift.min(WireLimits.headerSize - pendingBytes.count, rest.count)
                    pendingBytes.append(contentsOf: rest.prefix(take))
                    rest = rest.dropFirst(take)
                    if pendingBytes.count == WireLimits.headerSize {
                        let candidate = pendingBytes[...]
                        pendingBytes = []
                        startFrame(candidate, canHold: canHold, emit, rescan: &rest)
                    }
                }
            case .scanning:
                scan(&rest, canHold: canHold, emit)
            }
        }
    }

    /// Bytes the capture does not hold.
    mutating func gap(_ count: Int, _ emit: (FramerEvent) -> Void) {
        guard count > 0 else { return }
        switch state {
        case .payload where count < remaining:
            remaining -= count
            damaged += count
            streamOffset += count
            dropPayload()
        case .payload:
            // The gap runs to or past the end of this frame.
            damaged += remaining
            let beyond = count - remaining
            streamOffset += remaining
            remaining = 0
            dropPayload()
            finishFrame(emit)
            if beyond > 0 {
                streamOffset += beyond
                loseSync(emit)
            }
        case .header:
            streamOffset += pendingBytes.count + count
            pendingBytes = []
            loseSync(emit)
        case .scanning:
            if !pendingBytes.isEmpty { emit(.skipped(pendingBytes.count, streamOffset: streamOffset - pendingBytes.count)) }
            pendingBytes = []
            streamOffset += count
        }
    }

    /// The end of the stream: a frame still open is incomplete.
    mutating func finish(_ emit: (FramerEvent) -> Void) {
        switch state {
        case .payload:
            emit(.incomplete(header, streamOffset: frameStart, missing: remaining + damaged))
        case .header:
            if !pendingBytes.isEmpty { emit(.skipped(pendingBytes.count, streamOffset: streamOffset)) }
        case .scanning:
            if !pendingBytes.isEmpty { emit(.skipped(pendingBytes.count, streamOffset: streamOffset - pendingBytes.count)) }
        }
        pendingBytes = []
        dropPayload()
        state = .scanning
    }

    private mutating func loseSync(_ emit: (FramerEvent) -> Void) {
        state = .scanning
        emit(.lostSync)
    }

    private mutating func dropPayload() {
        keepPayload = false
        payload = []
    }

    /// Checks a header where a frame must start; on failure reports it and scans from the byte
    /// after its first, putting the other header bytes back in front of `rest`.
    private mutating func startFrame(
        _ candidate: ArraySlice<UInt8>, canHold: (Int) -> Bool, _ emit: (FramerEvent) -> Void, rescan rest: inout ArraySlice<UInt8>
    ) {
        do {
            let parsed = try FrameHeader.parse(candidate)
            begin(parsed, Array(candidate), canHold: canHold, emit)
            streamOffset += WireLimits.headerSize
        } catch {
            emit(.malformed(error, streamOffset: streamOffset))
            emit(.skipped(1, streamOffset: streamOffset))
            streamOffset += 1
            state = .scanning
            emit(.lostSync)
            // The scanner goes on from the byte after this header's first, with the rest of it.
            pendingBytes = Array(candidate.dropFirst())
            streamOffset += pendingBytes.count
        }
    }

    private mutating func begin(_ parsed: FrameHeader, _ bytes: [UInt8], canHold: (Int) -> Bool, _ emit: (FramerEvent) -> Void) {
        header = parsed
        headerBytes = bytes
        frameStart = streamOffset
        remaining = Int(parsed.length)
        damaged = 0
        keepPayload = canHold(remaining)
        payload = []
        if keepPayload { payload.reserveCapacity(remaining) }
        state = .payload
        if remaining == 0 { finishFrame(emit) }
    }

    private mutating func finishFrame(_ emit: (FramerEvent) -> Void) {
        state = .header
        if keepPayload, damaged == 0 {
            let body = payload
            payload = []
            emit(.frame(header, headerBytes: headerBytes, payload: body, streamOffset: frameStart))
        } else {
            payload = []
            emit(.incomplete(header, streamOffset: frameStart, missing: damaged == 0 ? Int(header.length) : damaged))
        }
        keepPayload = true
        damaged = 0
    }

    /// Looks for the next valid header in `pendingBytes` followed by `rest`; once found, `rest`
    /// becomes what follows that header. `streamOffset` counts pendingBytes as received.
    private mutating func scan(_ rest: inout ArraySlice<UInt8>, canHold: (Int) -> Bool, _ emit: (FramerEvent) -> Void) {
        let window: ArraySlice<UInt8> = pendingBytes.isEmpty ? rest : (pendingBytes + rest)[...]
        let windowStart = streamOffset - pendingBytes.count
        pendingBytes = []
        let end = window.endIndex
        var index = window.startIndex
        func at(_ i: Int) -> Int { windowStart + (i - window.startIndex) }
        while true {
            guard let magic = Self.findMagic(window[index...]) else {
                let keep = Self.partialMagicSuffix(window[index...])
                let skipped = end - index - keep
                if skipped > 0 { emit(.skipped(skipped, streamOffset: at(index))) }
                pendingBytes = Array(window.suffix(keep))
                break
            }
            if magic > index { emit(.skipped(magic - index, streamOffset: at(index))) }
            guard end - magic >= WireLimits.headerSize else {
                pendingBytes = Array(window[magic...])
                break
            }
            let candidate = window[magic..<magic + WireLimits.headerSize]
            if let parsed = try? FrameHeader.parse(candidate) {
                streamOffset = at(magic)
                begin(parsed, Array(candidate), canHold: canHold, emit)
                streamOffset += WireLimits.headerSize
                rest = window[(magic + WireLimits.headerSize)...]
                return
            }
            emit(.skipped(1, streamOffset: at(magic)))
            index = magic + 1
        }
        streamOffset = at(end)
        rest = window[end...]
    }

    /// Index of the first full magic in `bytes`.
    static func findMagic(_ bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        let end = bytes.endIndex
        while index + 4 <= end {
            guard let m = bytes[index..<end - 3].firstIndex(of: 0x4D) else { return nil }
            if bytes[m + 1] == 0x4C, bytes[m + 2] == 0x44, bytes[m + 3] == 0x47 { return m }
            index = m + 1
        }
        return nil
    }

    /// How many bytes at the end of `bytes` could be the start of a magic (0 to 3).
    static func partialMagicSuffix(_ bytes: ArraySlice<UInt8>) -> Int {
        let magic = FrameHeader.magic
        for keep in stride(from: Swift.min(3, bytes.count), to: 0, by: -1) {
            if bytes.suffix(keep).elementsEqual(magic.prefix(keep)) { return keep }
        }
        return 0
    }
}
