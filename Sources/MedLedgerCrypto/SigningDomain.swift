/// What kind of thing a signature is for (Protocol/WIRE.md section 6).
///
/// Every signature covers `string tag || string chain id || canonical bytes` (`string` is a `u32`
/// big-endian length and the bytes), so a signature made for one purpose or one chain never
/// verifies for another. The ledger adds its own tags to this registry; a tag is never reused for
/// a different structure.
public struct SigningDomain: Hashable, Sendable, CustomStringConvertible {
    /// The ASCII tag.
    public let tag: String

    /// A domain with `tag`. Tags are registered in Protocol/WIRE.md section 6 and Protocol/LEDGER.md.
    public init(tag: String) {
        precondition(!tag.isEmpty && tag.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "a signing tag is printable ASCII")
        self.tag = tag
    }

    /// The handshake transcript: `u8 role || th`.
    public static let handshake = SigningDomain(tag: "medledger/handshake/v1")
    /// A transaction without its signature.
    public static let transaction = SigningDomain(tag: "medledger/tx/v1")
    /// A proposal's six signed fields.
    public static let proposal = SigningDomain(tag: "medledger/proposal/v1")
    /// A vote without its signature.
    public static let vote = SigningDomain(tag: "medledger/vote/v1")
    /// A client's signed request without its signature.
    public static let clientRequest = SigningDomain(tag: "medledger/client-request/v1")

    public var description: String { tag }

    /// `string tag || string chainID || message`.
    public func signingInput(chainID: String, message: some Collection<UInt8>) -> [UInt8] {
        var input: [UInt8] = []
        input.reserveCapacity(8 + tag.utf8.count + chainID.utf8.count + message.count)
        Self.appendString(tag, to: &input)
        Self.appendString(chainID, to: &input)
        input.append(contentsOf: message)
        return input
    }

    private static func appendString(_ string: String, to out: inout [UInt8]) {
        let count = UInt32(string.utf8.count)
        out += [UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)]
        out += string.utf8
    }
}
