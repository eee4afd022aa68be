import MedLedgerWire

extension SimulatedFileSystem {
    /// The project's ``SplitMix64`` with the draws a simulated crash needs, so that a crash replays
    /// bit for bit from its seed on every platform and Swift version (no global randomness).
    struct Generator {
        var source: SplitMix64

        init(seed: UInt64) { source = SplitMix64(seed: seed) }

        mutating func next() -> UInt64 { source.next() }

        /// A number in `0..<bound` (`bound` > 0), by the high half of a 64×64-bit product.
        mutating func below(_ bound: Int) -> Int {
            precondition(bound > 0, "an empty range has no member")
            return Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
        }

        /// True with probability `p` (0 never, 1 always).
        mutating func chance(_ p: Double) -> Bool {
            if p <= 0 { return false }
            if p >= 1 { return true }
            return Self.unit(next()) < p
        }

        /// A bijective scramble of a 64-bit word (SplitMix64's first output for that seed), for
        /// choices that must depend only on their inputs, not on the order of calls.
        static func mix(_ value: UInt64) -> UInt64 {
            var generator = SplitMix64(seed: value)
            return generator.next()
        }

        /// The top 53 bits of `word` as a fraction in [0, 1).
        static func unit(_ word: UInt64) -> Double { Double(word >> 11) * 0x1p-53 }

        /// FNV-1a over a string's UTF-8: a path's hash that, unlike `Hasher`, is the same in every process.
        static func hash(_ text: String) -> UInt64 {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in text.utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
            return hash
        }
    }
}
