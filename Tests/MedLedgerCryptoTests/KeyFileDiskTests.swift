import Foundation
import MedLedgerCrypto
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Key files on disk (Protocol/KEYS.md sections 4 and 5): atomic writes with mode 0600, and the
/// checks a reader makes before it parses anything.
@Suite("Key files: on disk")
struct KeyFileDiskTests {
    typealias Support = KeyFileTestSupport

    struct Case: CustomTestStringConvertible, Sendable {
        let type: KeyFile.KeyType
        let sealed: Bool
        var testDescription: String { "\(type), \(sealed ? "sealed" : "plain")" }
    }

    static let cases = KeyFile.KeyType.allCases.flatMap { type in [false, true].map { Case(type: type, sealed: $0) } }

    @Test("Write then read, plain and sealed, both key types; the file's mode is 0600", arguments: cases)
    func roundTrip(_ testCase: Case) throws {
        try Support.withScratchDirectory { directory in
            let path = directory + "/\(testCase.type).key"
            let key = try Support.key(testCase.type)
            let protection: KeyFile.Protection = testCase.sealed ? .passphrase(Support.passphrase, parameters: Support.light) : .none
            try KeyFile.write(key, to: path, protection: protection, comment: "test key")
            #expect(Support.mode(path) == 0o600)
            let read = try KeyFile.read(from: path, passphrase: testCase.sealed ? Support.passphrase : nil)
            #expect(read.type == testCase.type)
            #expect(Support.secretHex(read) == Support.secretHex(key))
            let header = try KeyFile.readHeader(from: path)
            #expect(header.publicKey == key.publicKeyBytes && header.comment == "test key" && header.isEncrypted == testCase.sealed)
            // Nothing else was left in the directory.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["\(testCase.type).key"])
        }
    }

    @Test("Typed conveniences read and write their own type and refuse the other")
    func typedConveniences() throws {
        try Support.withScratchDirectory { directory in
            let signing = try Support.ed25519Key()
            let agreement = try Support.x25519Key()
            try signing.write(toKeyFile: directory + "/node.key")
            try agreement.write(toKeyFile: directory + "/record.key", protection: .passphrase(Support.passphrase, parameters: Support.light))
            #expect(try Ed25519.PrivateKey(keyFile: directory + "/node.key").publicKey == signing.publicKey)
            #expect(try X25519.PrivateKey(keyFile: directory + "/record.key", passphrase: Support.passphrase).publicKey == agreement.publicKey)
            let wrongType = Support.keyFileError { _ = try X25519.PrivateKey(keyFile: directory + "/node.key") }
            #expect(wrongType?.message.contains("holds an ed25519 key; an x25519 key is needed") == true)
            let wrongType2 = Support.keyFileError { _ = try Ed25519.PrivateKey(keyFile: directory + "/record.key", passphrase: Support.passphrase) }
            #expect(wrongType2?.message.contains("holds an x25519 key; an ed25519 key is needed") == true)
        }
    }

    @Test("A key file is never replaced unless overwriting is asked for")
    func noAccidentalOverwrite() throws {
        try Support.withScratchDirectory { directory in
            let path = directory + "/validator.key"
            let first = Ed25519.PrivateKey()
            try first.write(toKeyFile: path)
            let before = Support.contents(path)
            let error = Support.keyFileError { try Ed25519.PrivateKey().write(toKeyFile: path) }
            #expect(error?.message.contains("already exists: refusing to replace a key") == true)
            #expect(Support.contents(path) == before)
            #expect(try Ed25519.PrivateKey(keyFile: path).publicKey == first.publicKey)

            let second = Ed25519.PrivateKey()
            try second.write(toKeyFile: path, overwrite: true)
            #expect(try Ed25519.PrivateKey(keyFile: path).publicKey == second.publicKey)
            #expect(Support.mode(path) == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["validator.key"])
        }
    }

    @Test("Writing into a missing directory, or over a directory, fails clearly")
    func writeFailures() throws {
        try Support.withScratchDirectory { directory in
            let missing = Support.keyFileError { try Ed25519.PrivateKey().write(toKeyFile: directory + "/no/such/dir/a.key") }
            #expect(missing?.message.contains("does not exist") == true)
            try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: false)
            let overDirectory = Support.keyFileError { try Ed25519.PrivateKey().write(toKeyFile: directory + "/sub", overwrite: true) }
            #expect(overDirectory?.message.contains("is a directory") == true)
            let noName = Support.keyFileError { try Ed25519.PrivateKey().write(toKeyFile: directory + "/") }
            #expect(noName?.message.contains("not a file name") == true)
        }
    }

    // MARK: What a reader refuses

    struct Mode: CustomTestStringConvertible, Sendable {
        let mode: mode_t
        var testDescription: String { String(mode, radix: 8) }
    }

    @Test(
        "Files that group or others may read, write or execute are refused, with the chmod that fixes them",
        arguments: [0o644, 0o640, 0o604, 0o660, 0o606, 0o620, 0o602, 0o610, 0o601, 0o666, 0o777].map { Mode(mode: mode_t($0)) })
    func loosePermissions(_ mode: Mode) throws {
        try Support.withScratchDirectory { directory in
            let path = directory + "/node.key"
            try Ed25519.PrivateKey().write(toKeyFile: path)
            #expect(chmod(path, mode.mode) == 0)
            let error = Support.keyFileError { _ = try KeyFile.read(from: path) }
            let message = error?.message ?? ""
            #expect(message.contains("Fix it with: chmod 600 \(path)"), "\(message)")
            #expect(message.contains("has mode 0\(String(mode.mode, radix: 8))"), "\(message)")
            // The header is refused too: the same checks guard every read.
            #expect(Support.keyFileError { _ = try KeyFile.readHeader(from: path) } != nil)
            #expect(chmod(path, 0o600) == 0)
            _ = try KeyFile.read(from: path)
        }
    }

    @Test("Mode 0400 (read-only for the owner) is accepted")
    func readOnlyOwner() throws {
        try Support.withScratchDirectory { directory in
            let path = directory + "/node.key"
            let key = Ed25519.PrivateKey()
            try key.write(toKeyFile: path)
            #expect(chmod(path, 0o400) == 0)
            #expect(try Ed25519.PrivateKey(keyFile: path).publicKey == key.publicKey)
        }
    }

    @Test("The chmod advice quotes a path with spaces or quotes for the shell")
    func shellQuoting() throws {
        try Support.withScratchDirectory { directory in
            let path = directory + "/St Mary's node.key"
            try Ed25519.PrivateKey().write(toKeyFile: path)
            #expect(chmod(path, 0o644) == 0)
            let message = Support.keyFileError { _ = try KeyFile.read(from: path) }?.message ?? ""
            #expect(message.contains("chmod 600 '\(directory)/St Mary'\\''s node.key'"), "\(message)")
        }
    }

    @Test("A symbolic link to a key file is refused, naming its target")
    func symbolicLink() throws {
        try Support.withScratchDirectory { directory in
            let target = directory + "/real.key"
            try Ed25519.PrivateKey().write(toKeyFile: target)
            try FileManager.default.createSymbolicLink(atPath: directory + "/link.key", withDestinationPath: target)
            let error = Support.keyFileError { _ = try KeyFile.read(from: directory + "/link.key") }
            #expect(error?.message.contains("is a symbolic link (it points to \(target))") == true, "\(String(describing: error))")
            // A dangling link too.
            try FileManager.default.createSymbolicLink(atPath: directory + "/dangling.key", withDestinationPath: directory + "/nothing")
            #expect(Support.keyFileError { _ = try KeyFile.read(from: directory + "/dangling.key") }?.message.contains("symbolic link") == true)
        }
    }

    @Test("A directory, a FIFO and a device are refused; a missing file is named")
    func notRegularFiles() throws {
        try Support.withScratchDirectory { directory in
            let directoryError = Support.keyFileError { _ = try KeyFile.read(from: directory) }
            #expect(directoryError?.message.contains("is a directory, not a key file") == true)

            let fifo = directory + "/fifo.key"
            #expect(mkfifo(fifo, 0o600) == 0)
            let fifoError = Support.keyFileError { _ = try KeyFile.read(from: fifo) }
            #expect(fifoError?.message.contains("is a FIFO") == true)

            let deviceError = Support.keyFileError { _ = try KeyFile.read(from: "/dev/null") }
            #expect(deviceError?.message.contains("is a character device") == true)

            let missing = Support.keyFileError { _ = try KeyFile.read(from: directory + "/absent.key") }
            #expect(missing?.message == "\(directory)/absent.key does not exist")
        }
    }

    @Test("A truncated file on disk is refused with what is missing")
    func truncatedOnDisk() throws {
        try Support.withScratchDirectory { directory in
            let path = directory + "/cut.key"
            let whole = try KeyFile.encode(Support.key(.x25519), protection: .passphrase(Support.passphrase, parameters: Support.light))
                .unprotectedBytes
            let lines = whole.split(separator: 0x0A, omittingEmptySubsequences: false)
            let cut = Array(lines.prefix(7).joined(separator: [0x0A])) + [0x0A]
            Support.writeRaw(cut, to: path)
            let error = Support.keyFileError { _ = try KeyFile.read(from: path, passphrase: Support.passphrase) }
            #expect(error?.message == "\(path): the file ends after line 7, where a \"salt: \" line was expected: the file is truncated")

            let empty = directory + "/empty.key"
            Support.writeRaw([], to: empty)
            #expect(Support.keyFileError { _ = try KeyFile.read(from: empty) }?.message.contains("is empty") == true)
        }
    }

    @Test("A large file is refused before it is read")
    func largeFile() throws {
        try Support.withScratchDirectory { directory in
            let path = directory + "/big.key"
            Support.writeRaw([UInt8](repeating: 0x41, count: 100_000), to: path)
            let error = Support.keyFileError { _ = try KeyFile.read(from: path) }
            #expect(error?.message == "\(path) is 100000 bytes; a key file is at most 4096: this is not a key file")
        }
    }

    @Test("A wrong passphrase and a tampered public key are caught on disk too")
    func wrongPassphraseOnDisk() throws {
        try Support.withScratchDirectory { directory in
            let path = directory + "/patient.key"
            try KeyFile.write(
                Support.key(.ed25519), to: path, protection: .passphrase(Support.passphrase, parameters: Support.light))
            let error = Support.keyFileError { _ = try KeyFile.read(from: path, passphrase: SecureBytes(Array("guess".utf8))) }
            #expect(error?.message.hasPrefix("\(path): wrong passphrase") == true)

            let plain = directory + "/plain.key"
            let bytes = try KeyFile.encode(Support.key(.ed25519)).unprotectedBytes
            let other = Ed25519.PrivateKey().publicKey.bytes.map { String(format: "%02x", $0) }.joined()
            Support.writeRaw(KeyFileFormatTests.replacing("public", with: other, in: bytes), to: plain)
            let mismatch = Support.keyFileError { _ = try KeyFile.read(from: plain) }
            #expect(mismatch?.message.contains("the public key does not belong to the private key") == true)
        }
    }
}
