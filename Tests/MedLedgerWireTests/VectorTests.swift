import MedLedgerTestSupport
import MedLedgerWire
import Testing

/// Decodes a whole frame the way a vector describes: open it with the vector's key when sealed,
/// then inflate and decode.
func decodeVector(_ bytes: [UInt8], sealing: JSONValue?) throws -> DecodedFrame {
    let frame = try Frame.parseSingle(bytes)
    var opener = try VectorSealing(sealing)?.opener
    do {
        return try frame.decode(opener: &opener)
    } catch {
        switch error {
        case .wire(let error): throw error
        case .sealedWithoutKey: throw VectorFileError.badSealedMember("the frame is sealed and the vector has no key")
        }
    }
}

@Suite("Protocol/vectors", .serialized)
struct VectorTests {
    @Test("the vector files are exactly the catalog (MEDLEDGER_WRITE_VECTORS=1 rewrites them)")
    func filesMatchCatalog() throws {
        var expected: [String: ([UInt8], JSONValue, String)] = [:]
        for vector in VectorCatalog.positives {
            let decoded = try decodeVector(vector.bytes, sealing: vector.sealing?.json)
            var json = decoded.json
            if let sealing = vector.sealing { json = json.adding("sealed", sealing.json) }
            expected[vector.name] = (vector.bytes, json, vector.summary)
        }
        for vector in VectorCatalog.rejections {
            var json = vector.expectedJSON
            if let sealing = vector.sealing { json = json.adding("sealed", sealing.json) }
            expected["reject-" + vector.name] = (vector.bytes, json, vector.summary)
        }
        if VectorFiles.regenerating {
            for stale in try VectorFiles.names() where expected[stale] == nil { try VectorFiles.remove(stale) }
            for (name, (bytes, json, summary)) in expected {
                try VectorFiles.write(name, bytes: bytes, summary: summary, json: json)
            }
        }
        #expect(Set(try VectorFiles.names()) == Set(expected.keys), "run with MEDLEDGER_WRITE_VECTORS=1 to regenerate")
        for (name, (bytes, json, _)) in expected {
            #expect(try VectorFiles.hex(name) == bytes, "\(name).hex differs from the catalog")
            #expect(try VectorFiles.json(name) == json, "\(name).json differs from the catalog")
        }
    }

    @Test("every positive vector decodes to its .json, and re-encodes to the same bytes")
    func positiveVectorsDecode() throws {
        let names = try VectorFiles.names().filter { !$0.hasPrefix("reject-") }
        #expect(!names.isEmpty)
        for name in names {
            let bytes = try VectorFiles.hex(name)
            let json = try VectorFiles.json(name)
            let decoded = try decodeVector(bytes, sealing: json["sealed"])
            #expect(decoded.json == json.removing("sealed"), "\(name): rendering differs")
            // One value, one encoding: the message re-encodes to exactly the bytes it came from.
            #expect(decoded.message.encodePayload() == decoded.messageBytes, "\(name): not canonical")
            if decoded.header.flags.isEmpty {
                #expect(Frame.plain(decoded.message).bytes == bytes, "\(name): re-framing differs")
            }
        }
    }

    @Test("every rejection vector fails with exactly its error, layer and offset")
    func rejectionVectorsFail() throws {
        let names = try VectorFiles.names().filter { $0.hasPrefix("reject-") }
        #expect(!names.isEmpty)
        for name in names {
            let json = try VectorFiles.json(name)
            let bytes = try VectorFiles.hex(name)
            do {
                let decoded = try decodeVector(bytes, sealing: json["sealed"])
                Issue.record("\(name) decoded as \(decoded.message.type) instead of failing")
            } catch let error as WireError {
                #expect(error.json == json.removing("sealed"), "\(name): got \(error)")
            }
        }
    }

    @Test("every message type and every flag has a vector; every decoding rule a rejection vector")
    func coverage() throws {
        var types = Set<MessageType>()
        var flags = Set<UInt8>()
        var codes = Set<WireError.Code>()
        for name in try VectorFiles.names() {
            let json = try VectorFiles.json(name)
            if name.hasPrefix("reject-") {
                if case .string(let code)? = json["error"], let code = WireError.Code(name: code) { codes.insert(code) }
            } else {
                let header = try Frame.parseSingle(try VectorFiles.hex(name)).header
                types.insert(header.type)
                flags.insert(header.flags.rawValue)
            }
        }
        #expect(types == Set(MessageType.allCases))
        #expect(flags.isSuperset(of: [0x00, 0x01, 0x02, 0x03]))
        // No version 1 message has a bool field, so invalid_bool has no wire vector (the ledger's bodies have one).
        #expect(codes == Set(WireError.Code.allCases).subtracting([.invalidBool]))
    }
}
