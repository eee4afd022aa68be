import Foundation
import MedLedgerInspect
import MedLedgerTestSupport
import MedLedgerWire
import Testing

@Suite("medledger-inspect frame (library)")
struct FrameInspectionTests {
    func key(_ json: JSONValue) throws -> SealedFrameKey? {
        try VectorSealing(json["sealed"]).map {
            SealedFrameKey(entry: $0.entry, direction: $0.direction, sequence: $0.sequence)
        }
    }

    @Test("every positive vector inspects to the meaning in its .json")
    func positiveVectors() throws {
        let names = try VectorFiles.names().filter { !$0.hasPrefix("reject-") }
        #expect(names.count >= 20)
        for name in names {
            let json = try VectorFiles.json(name)
            let inspection = FrameInspection.inspect(try VectorFiles.hex(name), key: try key(json))
            #expect(inspection.json == json.removing("sealed"), "\(name)")
            #expect(!inspection.text.isEmpty)
        }
    }

    @Test("every rejection vector is rejected with its error, layer and offset")
    func rejectionVectors() throws {
        for name in try VectorFiles.names() where name.hasPrefix("reject-") {
            let json = try VectorFiles.json(name)
            let inspection = FrameInspection.inspect(try VectorFiles.hex(name), key: try key(json))
            #expect(inspection.isRejected, "\(name)")
            #expect(inspection.json.removing("detail") == json.removing("sealed"), "\(name)")
            #expect(inspection.text.contains("rejected: "))
        }
    }

    @Test("a sealed frame without a key shows its header and says how to open it")
    func sealedWithoutKey() throws {
        let inspection = FrameInspection.inspect(try VectorFiles.hex("auth-sealed"))
        guard case .sealed(let header) = inspection else {
            Issue.record("expected .sealed, got \(inspection.json)")
            return
        }
        #expect(header.type == .auth)
        #expect(inspection.text.contains("--key-log"))
        #expect(inspection.json["message"] == .null)
    }

    @Test("the text dump matches its golden file", arguments: ["transaction", "block"])
    func goldenText(vector: String) throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Golden/frame-\(vector).txt")
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(FrameInspection.inspect(try VectorFiles.hex(vector)).text + "\n" == expected)
    }

    @Test("text from the wire is escaped: control characters never reach the terminal")
    func controlCharactersEscaped() throws {
        let frame = Frame.plain(.disconnect(Disconnect(code: 100, reason: "bye\u{1B}[2J\nnow")))
        let text = FrameInspection.inspect(frame.bytes).text
        #expect(!text.unicodeScalars.contains("\u{1B}"))
        #expect(text.contains(#"reason: "bye\u001b[2J\nnow""#))
    }
}

@Suite("hex input")
struct HexInputTests {
    @Test("whitespace, comments, 0x and separators are accepted")
    func lenientForms() throws {
        #expect(try HexInput.parse("# comment\n4d 4C\n44:47-0x01") == [0x4D, 0x4C, 0x44, 0x47, 0x01])
    }

    @Test(
        "bad hex names the character and its position",
        arguments: [
            ("4d4g", "'g' at character 4"),
            ("4d4", "3 hex digits is an odd number"),
            ("  \n# only a comment\n", "no hex digits"),
            ("4d\u{E9}", "a non-ASCII byte at character 3"),
        ])
    func badHex(input: String, message: String) {
        #expect {
            try HexInput.parse(input)
        } throws: { error in
            (error as? InspectError)?.message.contains(message) == true
        }
    }
}

