import Foundation
import MedLedgerTestSupport
import MedLedgerWire
import Testing

/// Runs the built `medledger-inspect` binary, as a network engineer would.
enum InspectBinary {
    /// Next to the test bundle in the build directory (`swift test` builds every product).
    static let url: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // With XCTest's bundle layout the binary sits one level above the bundle's inner directory.
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: directory.appendingPathComponent("medledger-inspect").path) {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("medledger-inspect")
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], stdin: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let input = Pipe()
        let output = Pipe()
        let error = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
    }
}

@Suite("medledger-inspect frame (the binary)", .serialized)
struct FrameCommandTests {
    func arguments(for json: JSONValue, keyLog: URL) throws -> [String] {
        guard let sealing = try VectorSealing(json["sealed"]) else { return [] }
        try (sealing.entry.description + "\n").write(to: keyLog, atomically: true, encoding: .utf8)
        return [
            "--key-log", keyLog.path, "--direction", sealing.direction.rawValue, "--sequence", String(sealing.sequence),
        ]
    }

    @Test("decodes every vector to its .json and rejects every rejection vector with a non-zero exit")
    func everyVector() throws {
        #expect(FileManager.default.isExecutableFile(atPath: InspectBinary.url.path), "build the products first")
        let keyLog = FileManager.default.temporaryDirectory.appendingPathComponent("medledger-inspect-test-\(getpid()).keys")
        defer { try? FileManager.default.removeItem(at: keyLog) }
        for name in try VectorFiles.names() {
            let json = try VectorFiles.json(name)
            let hexText = try String(
                contentsOf: VectorFiles.directory.appendingPathComponent(name + ".hex"), encoding: .utf8)
            let result = try InspectBinary.run(
                ["frame", "--json"] + (try arguments(for: json, keyLog: keyLog)) + ["-"], stdin: hexText)
            let printed = try JSONValue(parsing: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            if name.hasPrefix("reject-") {
                #expect(result.status == 1, "\(name) exit status")
                #expect(printed.removing("detail") == json.removing("sealed"), "\(name)")
            } else {
                #expect(result.status == 0, "\(name) exit status: \(result.stderr)")
                #expect(printed == json.removing("sealed"), "\(name)")
            }
        }
    }

    @Test("a frame given as an argument decodes too")
    func hexArgument() throws {
        let hex = Hex.encode(try VectorFiles.hex("ping"))
        let result = try InspectBinary.run(["frame", hex])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("PING (0x10)"))
        #expect(result.stdout.contains("nonce: 72623859790382856"))
    }

    @Test(
        "mistakes print what was wrong and how to fix it, with a non-zero exit",
        arguments: [
            (["frame", "4d4c44zz"], "'z' at character 7"),
            (["frame", "--direction", "sideways", "--key-log", "/nonexistent", "00"], "--direction must be i2r"),
            (["frame", "--key-log", "/nonexistent/keys.log", "00"], "cannot read the key log"),
            (["frame", "--nonce", "00", "00"], "--nonce needs --key-log"),
            (["frame"], "Missing expected argument"),
        ])
    func mistakes(arguments: [String], message: String) throws {
        let result = try InspectBinary.run(arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    @Test("--help and --version work")
    func helpAndVersion() throws {
        let help = try InspectBinary.run(["frame", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--key-log"))
        let version = try InspectBinary.run(["--version"])
        #expect(version.status == 0)
        #expect(!version.stdout.isEmpty)
    }
}
