import Foundation
import MedLedgerLedger
import MedLedgerTestSupport
import MedLedgerWire
import Testing

/// Protocol/vectors/state/proofs.json: trees, their roots, proofs that verify and proofs that do
/// not, and malformed encodings. Written from this code when MEDLEDGER_WRITE_VECTORS=1, otherwise
/// checked against it; Tools/spec-check/check_state_proofs.py checks the same file from STATE.md.
@Suite("StateTree vectors")
struct StateTreeVectorTests {
    static let file = VectorFiles.directory.appendingPathComponent("state/proofs.json")

    struct ProofCase {
        var name: String
        var key: [UInt8]
        var value: [UInt8]?
        var proof: [UInt8]
        var valid: Bool
    }

    static func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    /// The vector file's content, built from the StateTree under test.
    static func catalog() throws -> JSONValue {
        var trees: [JSONValue] = []

        func tree(_ name: String, _ entries: [([UInt8], [UInt8])], proofs: (StateTree) -> [ProofCase]) throws {
            var state = StateTree()
            for (key, value) in entries { state.set(key, value) }
            let root = state.rootHash
            let cases = proofs(state)
            var rendered: [JSONValue] = []
            for c in cases {
                // The file only records what this code decides.
                let decoded = try StateProof(canonicalBytes: c.proof)
                #expect(decoded.verify(root: root, key: c.key, value: c.value) == c.valid, "\(name)/\(c.name)")
                rendered.append(
                    .object([
                        ("name", .string(c.name)), ("key", .hex(c.key)),
                        ("value", c.value.map { .hex($0) } ?? .null), ("proof", .hex(c.proof)),
                        ("valid", .bool(c.valid)),
                    ]))
            }
            trees.append(
                .object([
                    ("name", .string(name)),
                    ("entries", .array(entries.map { .object([("key", .hex($0.0)), ("value", .hex($0.1))]) })),
                    ("root", .hex(root.bytes)), ("proofs", .array(rendered)),
                ]))
        }

        func proof(_ name: String, _ state: StateTree, _ key: [UInt8], _ value: [UInt8]?, valid: Bool = true)
            -> ProofCase
        {
            ProofCase(name: name, key: key, value: value, proof: state.proof(for: key).canonicalBytes, valid: valid)
        }

        try tree("empty", []) { state in
            [proof("absent from the empty tree", state, text("patient/0001"), nil)]
        }

        let only = (text("patient/0001"), text("registered"))
        try tree("single", [only]) { state in
            [
                proof("present at the root", state, only.0, only.1),
                proof("absent: the only leaf occupies the path", state, text("patient/0002"), nil),
                proof("wrong value", state, only.0, text("erased"), valid: false),
            ]
        }

        // Two keys whose paths share at least 12 bits, found by brute force over 4-byte integers.
        let (near1, near2) = PrefixSharingKeys.pair(sharing: 12)
        let entries: [([UInt8], [UInt8])] = [
            (text("patient/0001"), text("registered")),
            (text("patient/0002"), text("registered")),
            (text("consent/0001/0007"), text("granted:treatment")),
            (text("record/0042"), [UInt8](repeating: 0xAB, count: 40)),
            (text("nonce/facility-a"), [0, 0, 0, 0, 0, 0, 0, 9]),
            (text("empty-value"), []),
            (near1, text("near-1")),
            (near2, text("near-2")),
        ]
        try tree("small", entries) { state in
            var cases: [ProofCase] = []
            for (index, (key, value)) in entries.enumerated() {
                cases.append(proof("present \(index)", state, key, value))
            }
            // Absent keys: the first few whose path ends in an empty subtree, and in another leaf.
            var empties = 0
            var leaves = 0
            for n in 0..<1000 where empties < 2 || leaves < 2 {
                let key = text("absent/\(n)")
                if state.proof(for: key).terminal == .empty {
                    if empties < 2 { cases.append(proof("absent \(n), empty subtree", state, key, nil)) }
                    empties += 1
                } else {
                    if leaves < 2 { cases.append(proof("absent \(n), another leaf", state, key, nil)) }
                    leaves += 1
                }
            }
            // Proofs that must fail.
            cases.append(proof("wrong value", state, near1, text("near-2"), valid: false))
            cases.append(proof("present key claimed absent", state, near1, nil, valid: false))
            var other = state.proof(for: near2)
            other.siblings[other.siblings.count - 1] = Bytes32(repeating: 0x77)
            cases.append(
                ProofCase(
                    name: "deepest sibling changed", key: near2, value: text("near-2"), proof: other.canonicalBytes,
                    valid: false))
            cases.append(
                ProofCase(
                    name: "proof of another key", key: near1, value: text("near-1"),
                    proof: state.proof(for: near2).canonicalBytes, valid: false))
            return cases
        }

        let malformed: [(String, [UInt8], WireError.Code, Int)] = [
            ("truncated sibling", [0x00, 0x00, 0x01, 0x80] + [UInt8](repeating: 0x09, count: 31), .truncated, 4),
            ("trailing byte", [0x00, 0x00, 0x00, 0x00], .trailingBytes, 3),
            ("unknown terminal", [0x02, 0x00, 0x00], .unknownEnum, 0),
            ("depth 257", [0x00, 0x01, 0x01] + [UInt8](repeating: 0xFF, count: 33), .countExceedsLimit, 1),
            (
                "bitmap bit beyond depth", [0x00, 0x00, 0x01, 0xC0] + [UInt8](repeating: 0x09, count: 64),
                .nonCanonical, 3
            ),
            (
                "deepest sibling empty", [0x00, 0x00, 0x02, 0x80] + [UInt8](repeating: 0x09, count: 32), .nonCanonical,
                3
            ),
            ("zero sibling", [0x00, 0x00, 0x01, 0x80] + [UInt8](repeating: 0x00, count: 32), .nonCanonical, 4),
        ]
        var rejections: [JSONValue] = []
        for (name, bytes, code, offset) in malformed {
            var error: WireError?
            do { _ = try StateProof(canonicalBytes: bytes) } catch let caught { error = caught }
            #expect(error?.code == code, "\(name)")
            #expect(error?.offset == offset, "\(name)")
            rejections.append(
                .object([
                    ("name", .string(name)), ("proof", .hex(bytes)), ("error", .string(code.name)),
                    ("offset", .int(offset)),
                ]))
        }

        return .object([
            (
                "description",
                .string(
                    "State trie roots and proofs (Protocol/STATE.md). Checked by the Swift tests and "
                        + "Tools/spec-check/check_state_proofs.py."
                )
            ),
            ("trees", .array(trees)),
            ("malformed", .array(rejections)),
        ])
    }

    @Test func vectorFileMatchesTheCode() throws {
        let catalog = try Self.catalog()
        if VectorFiles.regenerating {
            try FileManager.default.createDirectory(
                at: Self.file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (catalog.prettyDescription + "\n").write(to: Self.file, atomically: true, encoding: .utf8)
            return
        }
        let stored = try JSONValue(parsing: String(contentsOf: Self.file, encoding: .utf8))
        #expect(
            stored == catalog, "run MEDLEDGER_WRITE_VECTORS=1 swift test --filter StateTreeVectorTests to rewrite it")
    }
}
