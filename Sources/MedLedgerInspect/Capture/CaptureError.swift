/// A capture file that cannot be read further: what is wrong and at which byte of the file.
///
/// Malformed MedLedger frames inside a TCP stream are not capture errors: they are reported as
/// notes and the stream resynchronises (``CaptureNote``). A capture error stops the reading; the
/// packets before it have been decoded.
public struct CaptureError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of damage: stable names for scripts and tests.
    public enum Kind: String, Sendable, CaseIterable {
        /// The file ends inside a file header, record header, block or packet.
        case truncated
        /// Neither pcap nor pcapng magic, or a version this reader does not know.
        case notACapture = "not_a_capture"
        /// A record or block length that cannot be right (below the minimum, not a multiple of
        /// 4, above the hard limit, or the two copies of a pcapng block length disagree).
        case badLength = "bad_length"
        /// A packet longer than the snapshot length of its interface or the hard maximum.
        case packetTooLarge = "packet_too_large"
        /// A link type this reader does not decode.
        case unknownLinkType = "unknown_link_type"
        /// A pcapng packet names an interface no block described.
        case unknownInterface = "unknown_interface"
    }

    public var kind: Kind
    /// The offset in the capture file (or standard input) of the field that is wrong.
    public var offset: Int
    public var detail: String

    public init(_ kind: Kind, at offset: Int, _ detail: String) {
        self.kind = kind
        self.offset = offset
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue) at byte \(offset) of the capture: \(detail)" }
}
