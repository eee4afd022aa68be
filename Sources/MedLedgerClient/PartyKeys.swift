import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// A party's private keys: the Ed25519 key it signs with (its identity on the chain) and, for a
/// party that receives record keys (patients, practitioners, organisations), its X25519 key.
///
/// The description shows the public keys only.
public struct PartyKeys: Sendable, CustomStringConvertible {
    /// The signing key: the party's id on the chain.
    public let signing: Ed25519.PrivateKey
    /// The record key, for parties that receive record keys.
    public let encryption: X25519.PrivateKey?

    /// Keys from their parts.
    public init(signing: Ed25519.PrivateKey, encryption: X25519.PrivateKey?) {
        self.signing = signing
        self.encryption = encryption
    }

    /// Fresh keys of both kinds.
    public static func generate() -> PartyKeys { PartyKeys(signing: Ed25519.PrivateKey(), encryption: X25519.PrivateKey()) }

    /// The party's key on the chain (a patient's id, a practitioner's key, a signer).
    public var id: Bytes32 { signing.publicKey.wire }

    /// The public X25519 key record keys are wrapped for, if the party has one.
    public var encryptionKey: Bytes32? { encryption.map { Bytes32($0.publicKey.bytes)! } }

    public var description: String {
        "PartyKeys(signing: \(id.hex), encryption: \(encryptionKey?.hex ?? "none"))"
    }

    /// Where the X25519 key of a party whose signing key is at `signingKeyPath` is kept:
    /// `alice.key` → `alice.record.key`; a name without `.key` gets `.record.key` appended.
    public static func encryptionKeyPath(forSigningKeyAt signingKeyPath: String) -> String {
        if signingKeyPath.hasSuffix(".key") {
            return String(signingKeyPath.dropLast(4)) + ".record.key"
        }
        return signingKeyPath + ".record.key"
    }

    /// Reads a party's key files (Protocol/KEYS.md): the Ed25519 key at `signingKeyPath` and, when
    /// required or named, the X25519 key at `encryptionKeyPath` (by default
    /// ``encryptionKeyPath(forSigningKeyAt:)``). A record key that is not needed is not read.
    ///
    /// - Throws: ``ClientError/file(path:problem:)`` naming the file and the fix.
    public static func load(
        signingKeyPath: String, encryptionKeyPath: String? = nil, requireEncryption: Bool = false,
        passphrase: SecureBytes? = nil
    ) throws(LedgerClientError) -> PartyKeys {
        let signing: Ed25519.PrivateKey
        do {
            signing = try Ed25519.PrivateKey(keyFile: signingKeyPath, passphrase: passphrase)
        } catch {
            throw .file(path: signingKeyPath, problem: Self.problem(error, path: signingKeyPath, what: "signing key (ed25519)"))
        }
        let boxPath = encryptionKeyPath ?? Self.encryptionKeyPath(forSigningKeyAt: signingKeyPath)
        var encryption: X25519.PrivateKey?
        if requireEncryption || encryptionKeyPath != nil {
            do {
                encryption = try X25519.PrivateKey(keyFile: boxPath, passphrase: passphrase)
            } catch {
                throw .file(path: boxPath, problem: Self.problem(error, path: boxPath, what: "record key (x25519)"))
            }
        }
        return PartyKeys(signing: signing, encryption: encryption)
    }

    /// Writes both keys, mode 0600, never over an existing file (Protocol/KEYS.md section 5).
    /// Returns the two paths.
    @discardableResult
    public func write(signingKeyPath: String, comment: String? = nil) throws(LedgerClientError) -> (signing: String, encryption: String?) {
        let boxPath = Self.encryptionKeyPath(forSigningKeyAt: signingKeyPath)
        for path in [signingKeyPath] + (encryption == nil ? [] : [boxPath]) where fileExists(path) {
            throw .file(
                path: path,
                problem: "a file is already here; keygen never overwrites a key (a lost key cannot be made again). "
                    + "Choose another --out, or move the old key away first")
        }
        do {
            try signing.write(toKeyFile: signingKeyPath, comment: comment)
        } catch {
            throw .file(path: signingKeyPath, problem: "cannot write the key: \(Self.problem(error, path: signingKeyPath, what: "key"))")
        }
        guard let encryption else { return (signingKeyPath, nil) }
        do {
            try encryption.write(toKeyFile: boxPath, comment: comment)
        } catch {
            throw .file(path: boxPath, problem: "cannot write the key: \(Self.problem(error, path: boxPath, what: "key"))")
        }
        return (signingKeyPath, boxPath)
    }

    static func problem(_ error: any Error, path: String, what: String) -> String {
        var message = (error as? CryptoError)?.message ?? "\(error)"
        if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }
        if !fileExists(path), !isLink(path) {
            return "the \(what) file is missing. Make one with `medledger keygen --out FILE`, or give the right path"
        }
        return "cannot use the \(what): \(message)"
    }
}

func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

func isLink(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
}

#if canImport(Glibc)
    import Glibc
#endif
