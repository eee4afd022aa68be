/// What went wrong on disk, where, and what to do about it.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A system call failed (the message carries errno's text).
        case io
        /// A checksum does not match: the bytes on disk are not what was written.
        case corrupt
        /// A file is not a MedLedger store file, or of another chain or version.
        case wrongFormat
        /// Something asked for is not there (a height, a file).
        case notFound
        /// A caller's mistake: an out-of-order append, a bad argument.
        case invalidArgument
        /// The store was closed, or failed earlier and refuses further writes.
        case unavailable
    }

    public var code: Code
    public var message: String
    /// The file the problem is in, if any.
    public var path: String?
    /// The byte offset in that file, if known.
    public var offset: UInt64?
    /// The block height concerned, if known.
    public var height: UInt64?

    public init(_ code: Code, _ message: String, path: String? = nil, offset: UInt64? = nil, height: UInt64? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.height = height
    }

    public var description: String {
        var where_: [String] = []
        if let path { where_.append(path) }
        if let offset { where_.append("offset \(offset)") }
        if let height { where_.append("height \(height)") }
        return "\(code.rawValue): \(message)" + (where_.isEmpty ? "" : " (\(where_.joined(separator: ", ")))")
    }
}
