#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// MedLedger key files: one Ed25519 or X25519 private key in a small, versioned text file that
/// a person can recognise, optionally sealed under a passphrase (scrypt, then AES-256-GCM).
///
/// Protocol/KEYS.md specifies the format byte for byte. In short:
///
/// ```text
/// MEDLEDGER-KEY-V1
/// type: ed25519
/// public: <64 hex digits>
/// comment: validator key, St Mary's          (optional)
/// encryption: none
/// private: <64 hex digits>
/// ```
///
/// or, sealed, `encryption: scrypt-aes256gcm` followed by `scrypt-n`, `scrypt-r`, `scrypt-p`,
/// `salt`, `nonce` and `sealed-private` lines, where every byte before the `sealed-private`
/// line is the associated data of the seal, so that no header line (above all the public key)
/// can be changed without the tag failing.
///
/// Files are written atomically with mode 0600 and read only when they are regular files that
/// neither group nor others may read or write. Every failure is a ``CryptoError`` with code
/// `.keyFile` and a message that says what to do. Nothing here ever prints private key bytes.
public enum KeyFile {
    /// The first line of every version 1 key file.
    public static let magic = "MEDLEDGER-KEY-V1"
    /// The largest file a reader accepts; a version 1 file is under 1 KiB.
    public static let maximumFileSize = 4096
    /// The longest comment, in bytes.
    public static let maximumCommentLength = 128
    /// The scrypt salt length in bytes.
    public static let saltByteCount = 32

    /// The bounds a reader and a writer enforce on scrypt's parameters.
    public static let maximumScryptN: UInt64 = 1 << 20
    public static let maximumScryptR: UInt32 = 32
    public static let maximumScryptP: UInt32 = 16
    /// 128 · N · r, the memory scrypt needs, is at most this (1 GiB).
    public static let maximumScryptMemory: UInt64 = 1 << 30

    /// Which algorithm a key file's key is for.
    public enum KeyType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case ed25519
        case x25519
        public var description: String { rawValue }
    }

    /// A private key as kept in a key file.
    public enum PrivateKey: Sendable, CustomStringConvertible {
        case ed25519(Ed25519.PrivateKey)
        case x25519(X25519.PrivateKey)

        public var type: KeyType {
            switch self {
            case .ed25519: .ed25519
            case .x25519: .x25519
            }
        }

        /// The 32 bytes of the public key.
        public var publicKeyBytes: [UInt8] {
            switch self {
            case .ed25519(let key): key.publicKey.bytes
            case .x25519(let key): key.publicKey.bytes
            }
        }

        /// The 32 secret bytes: the Ed25519 seed or the X25519 scalar.
        var secret: SecureBytes {
            switch self {
            case .ed25519(let key): key.seed
            case .x25519(let key): key.rawKey
            }
        }

        /// The key for `secret` (32 bytes) of `type`.
        init(type: KeyType, secret: SecureBytes) throws {
            switch type {
            case .ed25519: self = .ed25519(try Ed25519.PrivateKey(seed: secret))
            case .x25519: self = .x25519(try X25519.PrivateKey(rawKey: secret))
            }
        }

        /// The type and public key, never the secret.
        public var description: String { "KeyFile.PrivateKey(\(type), public: \(lowercaseHex(publicKeyBytes)))" }
    }

    /// How a key is protected in its file.
    public enum Protection: Sendable, CustomStringConvertible {
        /// The private key stands in the file as hex: for node and validator keys that a machine
        /// loads unattended, protected by the file's mode.
        case none
        /// The private key is sealed with AES-256-GCM under a key that scrypt derives from the
        /// passphrase's bytes (UTF-8, as given): for keys that people carry.
        /// ``Scrypt/Parameters/keyFile`` is the default; tests may use lighter parameters.
        case passphrase(SecureBytes, parameters: Scrypt.Parameters = .keyFile)

        /// Never the passphrase.
        public var description: String {
            switch self {
            case .none: "none"
            case .passphrase(_, let parameters):
                "passphrase(redacted, scrypt N=\(parameters.n) r=\(parameters.r) p=\(parameters.p))"
            }
        }
    }

    /// How a file says its key is stored.
    public enum Encryption: Sendable, Hashable, CustomStringConvertible {
        case none
        case scryptAES256GCM(Scrypt.Parameters)

        public var description: String {
            switch self {
            case .none: "none"
            case .scryptAES256GCM(let parameters):
                "scrypt-aes256gcm (N=\(parameters.n) r=\(parameters.r) p=\(parameters.p))"
            }
        }
    }

    /// What a key file says about itself, readable without the passphrase.
    public struct Header: Sendable, Hashable, CustomStringConvertible {
        public let type: KeyType
        /// The 32 bytes of the public key. In a sealed file they are authenticated by the seal,
        /// and so can be trusted only once ``KeyFile/read(from:passphrase:)`` succeeded.
        public let publicKey: [UInt8]
        public let comment: String?
        public let encryption: Encryption

        /// Whether reading the private key needs a passphrase.
        public var isEncrypted: Bool { encryption != .none }

        public var description: String {
            var text = "KeyFile.Header(\(type), public: \(lowercaseHex(publicKey)), encryption: \(encryption)"
            if let comment { text += ", comment: \"\(comment)\"" }
            return text + ")"
        }
    }

    // MARK: Files

    /// Writes `key` to `path` atomically with mode 0600.
    ///
    /// The bytes go to a new temporary file beside `path` (created with `O_CREAT | O_EXCL`, mode
    /// 0600), which is synced, then moved into place; then the directory is synced. At no moment
    /// can anyone but the owner read the key, and a crash leaves either no file or the whole file.
    ///
    /// - Parameters:
    ///   - overwrite: replace an existing file at `path`. Off by default: a key that is lost
    ///     cannot be made again, so an existing file is never replaced by accident.
    /// - Throws: ``CryptoError`` with code `.keyFile`.
    public static func write(
        _ key: PrivateKey, to path: String, protection: Protection = .none, comment: String? = nil,
        overwrite: Bool = false
    ) throws {
        let contents = try encode(key, protection: protection, comment: comment)
        try FileAccess.writeAtomically(contents, to: path, overwrite: overwrite)
    }

    /// Reads the private key in the file at `path`.
    ///
    /// Refuses a path that is a symbolic link, a directory or anything but a regular file, and a
    /// file that group or others may read or write (the message gives the `chmod` to run).
    /// Checks that the public key in the file belongs to the private key.
    ///
    /// - Parameter passphrase: needed when the file is sealed; ignored when it is not (check
    ///   ``readHeader(from:)`` first to know whether to ask for one).
    /// - Throws: ``CryptoError`` with code `.keyFile`.
    public static func read(from path: String, passphrase: SecureBytes? = nil) throws -> PrivateKey {
        var contents = try FileAccess.readPrivateFile(path)
        defer { wipe(&contents) }
        return try decode(contents, passphrase: passphrase, source: path)
    }

    /// Reads what the file at `path` says about itself without opening the seal: its type,
    /// public key, comment and protection. Applies the same file checks as ``read(from:passphrase:)``.
    public static func readHeader(from path: String) throws -> Header {
        var contents = try FileAccess.readPrivateFile(path)
        defer { wipe(&contents) }
        var parser = Parser(contents, source: path)
        var parsed = try parser.parse()
        wipe(&parsed.secret)
        return parsed.header
    }

    // MARK: Bytes

    /// The bytes of a key file for `key`: secret, so kept in wiped-on-release memory.
    public static func encode(_ key: PrivateKey, protection: Protection = .none, comment: String? = nil) throws -> SecureBytes {
        try encode(key, protection: protection, comment: comment, salt: nil, nonce: nil)
    }

    /// ``encode(_:protection:comment:)`` with a chosen salt and nonce: only for the fixed example
    /// files of Protocol/KEYS.md. Never reuse a salt and nonce for real keys.
    package static func encode(
        _ key: PrivateKey, protection: Protection, comment: String?, salt: [UInt8]?, nonce: [UInt8]?
    ) throws -> SecureBytes {
        if let comment { try validateComment(comment) }
        var text: [UInt8] = []
        text.reserveCapacity(1024)
        defer { wipe(&text) }
        func line(_ name: String, _ value: String) {
            text += Array(name.utf8) + Array(": ".utf8) + Array(value.utf8) + [lineFeed]
        }
        text += Array(magic.utf8) + [lineFeed]
        line("type", key.type.rawValue)
        line("public", lowercaseHex(key.publicKeyBytes))
        if let comment { line("comment", comment) }
        switch protection {
        case .none:
            line("encryption", "none")
            text += Array("private: ".utf8)
            key.secret.withUnsafeBytes { appendHex($0, to: &text) }
            text.append(lineFeed)
        case .passphrase(let passphrase, let parameters):
            guard passphrase.count > 0 else {
                throw failure("an empty passphrase protects nothing: choose a passphrase, or write the key with protection .none")
            }
            if let problem = scryptProblem(parameters) { throw failure("cannot write a key file: \(problem.message)") }
            let salt = salt ?? secureRandomBytes(saltByteCount)
            let nonce = nonce ?? secureRandomBytes(AES256GCM.nonceByteCount)
            precondition(salt.count == saltByteCount && nonce.count == AES256GCM.nonceByteCount, "salt and nonce lengths")
            line("encryption", "scrypt-aes256gcm")
            line("scrypt-n", String(parameters.n))
            line("scrypt-r", String(parameters.r))
            line("scrypt-p", String(parameters.p))
            line("salt", lowercaseHex(salt))
            line("nonce", lowercaseHex(nonce))
            var sealingKey = try deriveSealingKey(passphrase: passphrase, salt: salt, parameters: parameters)
            defer { wipe(&sealingKey) }
            var plaintext = key.secret.unprotectedBytes
            defer { wipe(&plaintext) }
            // The associated data is every byte written so far: all lines above sealed-private.
            let sealed = try AES256GCM.seal(key: sealingKey, nonce: nonce, plaintext: plaintext, aad: text)
            line("sealed-private", lowercaseHex(sealed))
        }
        return SecureBytes(text)
    }

    /// The private key in the key file `bytes`. `source` names the file in error messages.
    public static func decode(
        _ bytes: some Collection<UInt8>, passphrase: SecureBytes? = nil, source: String = "key file"
    ) throws -> PrivateKey {
        var contents = Array(bytes)
        defer { wipe(&contents) }
        var parser = Parser(contents, source: source)
        var parsed = try parser.parse()
        defer { wipe(&parsed.secret) }
        let header = parsed.header

        var secret: [UInt8]
        switch header.encryption {
        case .none:
            secret = parsed.secret
        case .scryptAES256GCM(let parameters):
            guard let passphrase else {
                throw failure("\(source) is sealed with a passphrase (scrypt-aes256gcm): supply the passphrase to read it")
            }
            var sealingKey = try deriveSealingKey(passphrase: passphrase, salt: parsed.salt, parameters: parameters)
            defer { wipe(&sealingKey) }
            do {
                secret = try AES256GCM.open(
                    key: sealingKey, nonce: parsed.nonce, ciphertextAndTag: parsed.secret, aad: parsed.associatedData)
            } catch let error as CryptoError where error.code == .authenticationFailed {
                throw failure(
                    "\(source): wrong passphrase, or the file was changed after it was written (its AES-256-GCM tag "
                        + "does not verify). Try the passphrase again; if it is right, restore the key from a backup")
            }
        }
        defer { wipe(&secret) }
        let key = try PrivateKey(type: header.type, secret: SecureBytes(secret))
        guard constantTimeEqual(key.publicKeyBytes, header.publicKey) else {
            throw failure(
                "\(source): line 3: the public key does not belong to the private key in this file: the file was "
                    + "altered or put together from two keys. Do not use it; restore the key from a backup")
        }
        return key
    }

    /// What the key file `bytes` says about itself (see ``readHeader(from:)``).
    public static func decodeHeader(_ bytes: some Collection<UInt8>, source: String = "key file") throws -> Header {
        var contents = Array(bytes)
        defer { wipe(&contents) }
        var parser = Parser(contents, source: source)
        var parsed = try parser.parse()
        wipe(&parsed.secret)
        return parsed.header
    }

    // MARK: Internals

    static let lineFeed: UInt8 = 0x0A

    static func failure(_ message: String, file: String = #fileID, line: Int = #line) -> CryptoError {
        CryptoError(code: .keyFile, message: message, file: file, line: line)
    }

    static func deriveSealingKey(passphrase: SecureBytes, salt: [UInt8], parameters: Scrypt.Parameters) throws -> [UInt8] {
        try Scrypt.deriveKey(passphrase: passphrase, salt: salt, parameters: parameters, length: AES256GCM.keyByteCount)
            .unprotectedBytes
    }

    /// A comment is 1 to 128 printable ASCII characters (0x20 to 0x7E), not starting or ending with a space.
    static func validateComment(_ comment: String) throws {
        let bytes = Array(comment.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumCommentLength,
            bytes.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }), bytes.first != 0x20, bytes.last != 0x20
        else {
            throw failure(
                "a key file comment is 1 to \(maximumCommentLength) printable ASCII characters, without a leading "
                    + "or trailing space; this one is not (\(bytes.count) bytes)")
        }
    }

    /// What is wrong with scrypt parameters for a key file, if anything: `field` is 0 for N, 1 for r, 2 for p.
    static func scryptProblem(n: UInt64, r: UInt64, p: UInt64) -> (field: Int, message: String)? {
        guard n >= 2, n <= maximumScryptN, n & (n - 1) == 0 else {
            return (0, "scrypt N must be a power of two from 2 to \(maximumScryptN); it is \(n)")
        }
        guard r >= 1, r <= UInt64(maximumScryptR) else {
            return (1, "scrypt r must be from 1 to \(maximumScryptR); it is \(r)")
        }
        guard p >= 1, p <= UInt64(maximumScryptP) else {
            return (2, "scrypt p must be from 1 to \(maximumScryptP); it is \(p)")
        }
        // Cannot overflow: n <= 2^20 and r <= 32.
        guard 128 * n * r <= maximumScryptMemory else {
            return (1, "scrypt with N=\(n) and r=\(r) needs more than 1 GiB (128 * N * r bytes)")
        }
        return nil
    }

    static func scryptProblem(_ parameters: Scrypt.Parameters) -> (field: Int, message: String)? {
        scryptProblem(n: parameters.n, r: UInt64(parameters.r), p: UInt64(parameters.p))
    }

    static func appendHex(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { OpenSSL.cleanse($0) }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { a in b.withUnsafeBytes { b in OpenSSL.constantTimeEqual(a, b) } }
    }
}

// MARK: - Parser

extension KeyFile {
    /// A parsed file: the header, and the secret fields (the plain private key, or the sealed one
    /// with its salt, nonce and associated data).
    struct Parsed {
        var header: Header
        /// `private` (32 bytes) or `sealed-private` (48 bytes).
        var secret: [UInt8]
        var salt: [UInt8] = []
        var nonce: [UInt8] = []
        /// Every byte before the `sealed-private` line.
        var associatedData: [UInt8] = []
    }

    /// The strict reader of Protocol/KEYS.md section 3: one canonical form, every deviation an
    /// error that names its line. Never puts secret bytes into a message.
    struct Parser {
        let bytes: [UInt8]
        let source: String
        /// Each line's range in `bytes`, without its line feed.
        private var lines: [Range<Int>] = []
        private var next = 0

        init(_ bytes: [UInt8], source: String) {
            self.bytes = bytes
            self.source = source
        }

        private func error(_ message: String, line: Int? = nil, sourceLine: Int = #line) -> CryptoError {
            if let line { return KeyFile.failure("\(source): line \(line): \(message)", line: sourceLine) }
            return KeyFile.failure("\(source): \(message)", line: sourceLine)
        }

        mutating func parse() throws -> Parsed {
            try splitLines()
            let first = try take()
            guard text(first) == KeyFile.magic else {
                let line = text(first)
                if line.hasPrefix("MEDLEDGER-KEY-V"), line.utf8.count <= 24,
                    line.utf8.dropFirst(15).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
                {
                    throw error(
                        "this is a \(line) key file, which this version of MedLedger cannot read "
                            + "(it reads \(KeyFile.magic)): upgrade MedLedger", line: 1)
                }
                if line.hasPrefix("-----BEGIN") {
                    throw error("this is a PEM file, not a MedLedger key file (which starts with \(KeyFile.magic))", line: 1)
                }
                throw error("expected \(KeyFile.magic): this is not a MedLedger key file", line: 1)
            }

            let (typeLine, typeValue) = try field("type")
            guard let type = KeyType(rawValue: text(typeValue)) else {
                throw error("unknown key type \(quoted(typeValue)): expected ed25519 or x25519", line: typeLine)
            }
            let (publicLine, publicValue) = try field("public")
            let publicKey = try hex(publicValue, count: 32, name: "the public key", line: publicLine)

            var comment: String?
            if try peekName() == "comment" {
                let (commentLine, commentValue) = try field("comment")
                let value = text(commentValue)
                do { try KeyFile.validateComment(value) } catch {
                    throw self.error(
                        "a comment is 1 to \(KeyFile.maximumCommentLength) printable ASCII characters, without a "
                            + "leading or trailing space", line: commentLine)
                }
                comment = value
            }

            let (encryptionLine, encryptionValue) = try field("encryption")
            switch text(encryptionValue) {
            case "none":
                let (privateLine, privateValue) = try field("private")
                let secret = try hex(privateValue, count: 32, name: "the private key", line: privateLine)
                try end()
                return Parsed(
                    header: Header(type: type, publicKey: publicKey, comment: comment, encryption: .none), secret: secret)
            case "scrypt-aes256gcm":
                let n = try decimal("scrypt-n")
                let r = try decimal("scrypt-r")
                let p = try decimal("scrypt-p")
                if let problem = KeyFile.scryptProblem(n: n.value, r: r.value, p: p.value) {
                    throw error(problem.message, line: [n.line, r.line, p.line][problem.field])
                }
                let parameters = Scrypt.Parameters(n: n.value, r: UInt32(r.value), p: UInt32(p.value))
                let (saltLine, saltValue) = try field("salt")
                let salt = try hex(saltValue, count: KeyFile.saltByteCount, name: "the salt", line: saltLine)
                let (nonceLine, nonceValue) = try field("nonce")
                let nonce = try hex(nonceValue, count: AES256GCM.nonceByteCount, name: "the nonce", line: nonceLine)
                let associatedEnd = lines[nonceLine - 1].upperBound + 1
                let (sealedLine, sealedValue) = try field("sealed-private")
                let sealed = try hex(
                    sealedValue, count: 32 + AES256GCM.tagByteCount, name: "the sealed private key", line: sealedLine)
                try end()
                return Parsed(
                    header: Header(type: type, publicKey: publicKey, comment: comment, encryption: .scryptAES256GCM(parameters)),
                    secret: sealed, salt: salt, nonce: nonce, associatedData: Array(bytes[0..<associatedEnd]))
            default:
                throw error(
                    "unknown encryption \(quoted(encryptionValue)): expected none or scrypt-aes256gcm",
                    line: encryptionLine)
            }
        }

        /// Splits into lines, checking that every byte is printable ASCII or a line feed and that
        /// the last line is ended.
        private mutating func splitLines() throws {
            guard !bytes.isEmpty else { throw error("the file is empty: it is not a key file (was it truncated?)") }
            guard bytes.count <= KeyFile.maximumFileSize else {
                throw error("the file is \(bytes.count) bytes; a key file is at most \(KeyFile.maximumFileSize): this is not a key file")
            }
            var start = 0
            for (index, byte) in bytes.enumerated() {
                if byte == KeyFile.lineFeed {
                    lines.append(start..<index)
                    start = index + 1
                    continue
                }
                guard byte >= 0x20 && byte <= 0x7E else {
                    let line = lines.count + 1
                    if byte == 0x0D {
                        throw error(
                            "the line ends with a carriage return: key files use LF line ends only "
                                + "(was it edited on Windows? `dos2unix` converts it)", line: line)
                    }
                    throw error(
                        "column \(index - start + 1) holds a byte that is not printable ASCII: the file is damaged "
                            + "or not a key file", line: line)
                }
            }
            guard start == bytes.count else {
                throw error("the last line is not ended by a line feed: the file is truncated or was edited", line: lines.count + 1)
            }
        }

        /// The next line, or an error naming what was expected.
        private mutating func take(expecting name: String = KeyFile.magic) throws -> Range<Int> {
            guard next < lines.count else {
                throw error(
                    "the file ends after line \(lines.count), where a \"\(name)\" line was expected: the file is truncated")
            }
            next += 1
            return lines[next - 1]
        }

        /// The name of the next line's field, if there is a next line.
        private func peekName() throws -> String? {
            guard next < lines.count else { return nil }
            let line = bytes[lines[next]]
            guard let colon = line.firstIndex(of: 0x3A) else { return nil }
            return String(decoding: bytes[line.startIndex..<colon], as: UTF8.self)
        }

        /// The next line, which must be `name: value`; returns its number and the value's range.
        private mutating func field(_ name: String) throws -> (line: Int, value: Range<Int>) {
            let range = try take(expecting: "\(name): ")
            let prefix = Array((name + ": ").utf8)
            guard range.count >= prefix.count, Array(bytes[range.lowerBound..<(range.lowerBound + prefix.count)]) == prefix else {
                let foundName = bytes[range].firstIndex(of: 0x3A).map { text(range.lowerBound..<$0) }
                if foundName == name {
                    throw error("expected \"\(name): \" here: the field name, a colon, then exactly one space", line: next)
                }
                let found = foundName.map { safeName($0).map { "a \"\($0)\" line" } ?? "another line" }
                    ?? "a line without a \"name: value\" field"
                throw error("expected \"\(name): \" here, found \(found)", line: next)
            }
            return (next, (range.lowerBound + prefix.count)..<range.upperBound)
        }

        /// A `name: decimal` line: digits only, no leading zero.
        private mutating func decimal(_ name: String) throws -> (line: Int, value: UInt64) {
            let (line, range) = try field(name)
            let digits = bytes[range]
            guard !digits.isEmpty, digits.count <= 19, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                digits.first != 0x30 || digits.count == 1, let value = UInt64(text(range))
            else {
                throw error("\(name) must be a decimal number without leading zeros", line: line)
            }
            return (line, value)
        }

        /// Exactly `count` bytes of lowercase hex. Never echoes the value.
        private func hex(_ range: Range<Int>, count: Int, name: String, line: Int) throws -> [UInt8] {
            guard range.count == count * 2 else {
                throw error("\(name) must be \(count * 2) lowercase hex digits (\(count) bytes); found \(range.count) characters", line: line)
            }
            var out = [UInt8](repeating: 0, count: count)
            for index in 0..<count {
                guard let high = nibble(bytes[range.lowerBound + 2 * index]),
                    let low = nibble(bytes[range.lowerBound + 2 * index + 1])
                else {
                    KeyFile.wipe(&out)
                    throw error("\(name) must be \(count * 2) lowercase hex digits (0-9, a-f)", line: line)
                }
                out[index] = high << 4 | low
            }
            return out
        }

        private func nibble(_ digit: UInt8) -> UInt8? {
            switch digit {
            case 0x30...0x39: digit - 0x30
            case 0x61...0x66: digit - 0x61 + 10
            default: nil
            }
        }

        /// No further line.
        private func end() throws {
            guard next == lines.count else {
                throw error("unexpected line after the last field: a key file ends here", line: next + 1)
            }
        }

        private func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

        /// `value` if it may be quoted in a message: at most 24 characters of `a-z`, `0-9`, `-`, `_`
        /// and `.`, so that no secret (64 or 96 hex digits) is ever quoted, even from a garbled file.
        private func safeName(_ value: String) -> String? {
            guard !value.isEmpty, value.utf8.count <= 24,
                value.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E })
            else { return nil }
            return value
        }

        /// A value quoted for a message if ``safeName(_:)`` allows it.
        private func quoted(_ range: Range<Int>) -> String {
            safeName(text(range)).map { "\"\($0)\"" } ?? "(not shown)"
        }
    }
}

// MARK: - Files

extension KeyFile {
    /// The POSIX side: reading with the file checks, and the atomic write.
    enum FileAccess {
        static func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

        /// `path` quoted for a shell command if it needs quoting.
        static func shellQuoted(_ path: String) -> String {
            let safe = path.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2F || byte == 0x2E || byte == 0x2D || byte == 0x5F
            }
            if safe && !path.isEmpty { return path }
            return "'" + path.replacingAll("'", with: "'\\''") + "'"
        }

        static func isType(_ mode: mode_t, _ type: mode_t) -> Bool { mode & S_IFMT == type }

        static func kindName(_ mode: mode_t) -> String {
            switch mode & S_IFMT {
            case S_IFDIR: "a directory"
            case S_IFLNK: "a symbolic link"
            case S_IFIFO: "a FIFO"
            case S_IFSOCK: "a socket"
            case S_IFCHR: "a character device"
            case S_IFBLK: "a block device"
            default: "not a regular file"
            }
        }

        /// The file's bytes, once it has passed every check of Protocol/KEYS.md section 4.
        static func readPrivateFile(_ path: String) throws -> [UInt8] {
            guard !path.isEmpty else { throw failure("no key file path was given") }
            var status = stat()
            guard lstat(path, &status) == 0 else {
                let code = errno
                switch code {
                case ENOENT: throw failure("\(path) does not exist")
                case EACCES: throw failure("cannot read \(path): permission denied (it belongs to another user?)")
                default: throw failure("cannot read \(path): \(errnoText(code))")
                }
            }
            try checkKind(status.st_mode, path: path)

            // O_NOFOLLOW: a link swapped in after the lstat fails with ELOOP; O_NONBLOCK: a FIFO swapped
            // in does not block the open (fstat below refuses it).
            let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard descriptor >= 0 else {
                let code = errno
                if code == ELOOP { throw symbolicLink(path) }
                throw failure("cannot open \(path): \(errnoText(code))")
            }
            defer { close(descriptor) }
            // What counts is the file that was opened.
            guard fstat(descriptor, &status) == 0 else { throw failure("cannot stat \(path): \(errnoText(errno))") }
            try checkKind(status.st_mode, path: path)
            let permissions = status.st_mode & 0o7777
            guard permissions & 0o077 == 0 else {
                let who =
                    switch (permissions & 0o070 != 0, permissions & 0o007 != 0) {
                    case (true, true): "its group and others"
                    case (true, false): "its group"
                    default: "others"
                    }
                throw failure(
                    "\(path) has mode \(octal(permissions)), so \(who) may read or change it; a key file must be "
                        + "private to its owner. Fix it with: chmod 600 \(shellQuoted(path))"
                        + " (if others could read it, treat the key as exposed)")
            }
            guard status.st_size <= KeyFile.maximumFileSize else {
                throw failure(
                    "\(path) is \(status.st_size) bytes; a key file is at most \(KeyFile.maximumFileSize): this is not a key file")
            }

            var contents = [UInt8](repeating: 0, count: KeyFile.maximumFileSize + 1)
            var total = 0
            while total < contents.count {
                let count = contents.withUnsafeMutableBytes { buffer in
                    posixRead(descriptor, buffer.baseAddress! + total, buffer.count - total)
                }
                if count < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    KeyFile.wipe(&contents)
                    throw failure("cannot read \(path): \(errnoText(code))")
                }
                if count == 0 { break }
                total += count
            }
            guard total <= KeyFile.maximumFileSize else {
                KeyFile.wipe(&contents)
                throw failure("\(path) is larger than \(KeyFile.maximumFileSize) bytes: this is not a key file")
            }
            let result = Array(contents[0..<total])
            KeyFile.wipe(&contents)
            return result
        }

        static func checkKind(_ mode: mode_t, path: String) throws {
            if isType(mode, S_IFREG) { return }
            if isType(mode, S_IFLNK) { throw symbolicLink(path) }
            throw failure("\(path) is \(kindName(mode)), not a key file: give the path of the key file itself")
        }

        static func symbolicLink(_ path: String) -> CryptoError {
            var target = [CChar](repeating: 0, count: 4096)
            let count = readlink(path, &target, target.count - 1)
            let pointsTo = count > 0
                ? " (it points to \(String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)))" : ""
            return failure(
                "\(path) is a symbolic link\(pointsTo); key files are read only directly, never through a link "
                    + "that someone could repoint: give the path of the key file itself")
        }

        static func octal(_ mode: mode_t) -> String {
            let digits = String(mode, radix: 8)
            return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }

        /// Splits `path` into its directory (`.` when it has none) and its last component.
        static func split(_ path: String) -> (directory: String, name: String) {
            guard let slash = path.lastIndex(of: "/") else { return (".", path) }
            let directory = String(path[..<slash])
            return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
        }

        /// Protocol/KEYS.md section 5: temporary file with O_CREAT | O_EXCL and mode 0600, write,
        /// fsync, then link (no overwrite) or rename (overwrite) into place, then fsync the directory.
        static func writeAtomically(_ contents: SecureBytes, to path: String, overwrite: Bool) throws {
            let (directory, name) = split(path)
            guard !name.isEmpty, name != ".", name != ".." else {
                throw failure("\(path) is not a file name: give the path of the key file to write")
            }
            var existing = stat()
            if lstat(path, &existing) == 0 {
                if !isType(existing.st_mode, S_IFREG) {
                    throw failure("\(path) exists and is \(kindName(existing.st_mode)): refusing to write a key file there")
                }
                if !overwrite {
                    throw failure(
                        "\(path) already exists: refusing to replace a key, which cannot be made again. Move the old "
                            + "file away first (or, if you mean to replace it, ask for overwriting)")
                }
            }

            let suffix = lowercaseHex(secureRandomBytes(8))
            let temporary = (directory == "/" ? "" : directory) + "/." + name + ".tmp-" + suffix
            let descriptor = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard descriptor >= 0 else {
                let code = errno
                switch code {
                case ENOENT, ENOTDIR: throw failure("cannot write \(path): the directory \(directory) does not exist")
                case EACCES: throw failure("cannot write \(path): permission denied in \(directory)")
                default: throw failure("cannot write \(path): creating a temporary file in \(directory): \(errnoText(code))")
                }
            }
            var placed = false
            defer {
                if !placed { unlink(temporary) }
            }
            do {
                defer { close(descriptor) }
                try contents.withUnsafeBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        let count = posixWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                        if count < 0 {
                            let code = errno
                            if code == EINTR { continue }
                            throw failure("cannot write \(path): \(errnoText(code))")
                        }
                        offset += count
                    }
                }
                guard fsync(descriptor) == 0 else { throw failure("cannot write \(path): fsync: \(errnoText(errno))") }
            }

            if overwrite {
                guard rename(temporary, path) == 0 else {
                    throw failure("cannot move the new key file into place at \(path): \(errnoText(errno))")
                }
                placed = true
            } else if link(temporary, path) == 0 {
                // link(2) never replaces an existing name, so a file that appeared meanwhile is kept.
                placed = true
                unlink(temporary)
            } else {
                let code = errno
                if code == EEXIST {
                    throw failure("\(path) already exists: refusing to replace a key, which cannot be made again")
                }
                // A file system without hard links: check, then rename.
                guard code == EPERM || code == EOPNOTSUPP || code == ENOTSUP || code == EMLINK || code == ENOSYS else {
                    throw failure("cannot move the new key file into place at \(path): \(errnoText(code))")
                }
                guard lstat(path, &existing) != 0 else {
                    throw failure("\(path) already exists: refusing to replace a key, which cannot be made again")
                }
                guard rename(temporary, path) == 0 else {
                    throw failure("cannot move the new key file into place at \(path): \(errnoText(errno))")
                }
                placed = true
            }

            // Make the new name durable. Some file systems cannot sync a directory (EINVAL): nothing more can be done there.
            let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard directoryDescriptor >= 0 else {
                throw failure("wrote \(path), but cannot open \(directory) to make the new name durable: \(errnoText(errno))")
            }
            defer { close(directoryDescriptor) }
            if fsync(directoryDescriptor) != 0 {
                let code = errno
                if code != EINVAL && code != EROFS {
                    throw failure("wrote \(path), but syncing \(directory) failed: \(errnoText(code))")
                }
            }
        }
    }
}

/// read(2), out of reach of `KeyFile.read` inside the enum.
private func posixRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

/// write(2), out of reach of `KeyFile.write` inside the enum.
private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}

// MARK: - Typed conveniences

extension Ed25519.PrivateKey {
    /// Reads an Ed25519 key file (see ``KeyFile/read(from:passphrase:)``); refuses one holding another type of key.
    public init(keyFile path: String, passphrase: SecureBytes? = nil) throws {
        switch try KeyFile.read(from: path, passphrase: passphrase) {
        case .ed25519(let key): self = key
        case .x25519: throw KeyFile.failure("\(path): line 2: this file holds an x25519 key; an ed25519 key is needed here")
        }
    }

    /// Writes this key to a key file (see ``KeyFile/write(_:to:protection:comment:overwrite:)``).
    public func write(
        toKeyFile path: String, protection: KeyFile.Protection = .none, comment: String? = nil, overwrite: Bool = false
    ) throws {
        try KeyFile.write(.ed25519(self), to: path, protection: protection, comment: comment, overwrite: overwrite)
    }
}

extension X25519.PrivateKey {
    /// Reads an X25519 key file (see ``KeyFile/read(from:passphrase:)``); refuses one holding another type of key.
    public init(keyFile path: String, passphrase: SecureBytes? = nil) throws {
        switch try KeyFile.read(from: path, passphrase: passphrase) {
        case .x25519(let key): self = key
        case .ed25519: throw KeyFile.failure("\(path): line 2: this file holds an ed25519 key; an x25519 key is needed here")
        }
    }

    /// Writes this key to a key file (see ``KeyFile/write(_:to:protection:comment:overwrite:)``).
    public func write(
        toKeyFile path: String, protection: KeyFile.Protection = .none, comment: String? = nil, overwrite: Bool = false
    ) throws {
        try KeyFile.write(.x25519(self), to: path, protection: protection, comment: comment, overwrite: overwrite)
    }
}
