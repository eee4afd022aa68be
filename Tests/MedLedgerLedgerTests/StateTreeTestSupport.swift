import MedLedgerCrypto
import MedLedgerLedger
import MedLedgerWire

/// SplitMix64: a small seeded generator, so a failing random test replays from its seed.
struct StateTreeRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }

    /// A map of `count` random keys (1 to 40 bytes) to random values (0 to 60 bytes).
    mutating func map(count: Int) -> [[UInt8]: [UInt8]] {
        var map: [[UInt8]: [UInt8]] = [:]
        while map.count < count {
            map[bytes(Int.random(in: 1...40, using: &self))] = bytes(Int.random(in: 0...60, using: &self))
        }
        return map
    }
}

/// The state root computed the slowest, plainest way, straight from Protocol/STATE.md section 2
/// and independent of the StateTree code: sort the leaves by path, split on one bit per level.
enum ReferenceStateRoot {
    static let zero = [UInt8](repeating: 0, count: 32)

    static func sha(_ bytes: [UInt8]) -> [UInt8] { SHA256.hash(bytes).bytes }

    static func bit(_ path: [UInt8], _ index: Int) -> Bool { (path[index / 8] >> (7 - UInt8(index % 8))) & 1 == 1 }

    static func root(_ map: [[UInt8]: [UInt8]]) -> [UInt8] {
        let leaves = map.map { key, value in
            let path = sha(key)
            return (path: path, hash: sha([0x00] + path + sha(value)))
        }
        .sorted { $0.path.lexicographicallyPrecedes($1.path) }
        return subtree(leaves[...], depth: 0)
    }

    private static func subtree(_ leaves: ArraySlice<(path: [UInt8], hash: [UInt8])>, depth: Int) -> [UInt8] {
        if leaves.isEmpty { return zero }
        if leaves.count == 1 { return leaves.first!.hash }
        // Sorted by path, so the leaves whose bit is 0 come first.
        let split = leaves.firstIndex { bit($0.path, depth) } ?? leaves.endIndex
        return sha([0x01] + subtree(leaves[..<split], depth: depth + 1) + subtree(leaves[split...], depth: depth + 1))
    }
}

/// Keys (4-byte big-endian integers) whose SHA-256 paths share long prefixes, found by brute force.
enum PrefixSharingKeys {
    static func key(_ n: UInt32) -> [UInt8] {
        [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
    }

    static func sharedBits(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let x = SHA256.hash(a).bytes
        let y = SHA256.hash(b).bytes
        for index in 0..<256 where ReferenceStateRoot.bit(x, index) != ReferenceStateRoot.bit(y, index) { return index }
        return 256
    }

    /// The first pair (in the order found) of keys among `0..<limit` whose paths share at least `bits` bits.
    static func pair(sharing bits: Int, limit: UInt32 = 1 << 16) -> ([UInt8], [UInt8]) {
        precondition(bits <= 32)
        var seen: [UInt32: UInt32] = [:]
        for n in 0..<limit {
            let digest = SHA256.hash(key(n)).bytes
            let prefix =
                (UInt32(digest[0]) << 24 | UInt32(digest[1]) << 16 | UInt32(digest[2]) << 8 | UInt32(digest[3]))
                >> UInt32(32 - bits)
            if let other = seen[prefix] { return (key(other), key(n)) }
            seen[prefix] = n
        }
        fatalError("no pair of keys below \(limit) shares \(bits) bits")
    }
}
