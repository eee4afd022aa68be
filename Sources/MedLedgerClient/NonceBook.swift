import MedLedgerWire

/// The nonces a client hands out, per signer (Protocol/LEDGER.md section 3.1: each signer's
/// nonces strictly increase; gaps are allowed).
///
/// A signer's first nonce is one past its last committed nonce, learnt from a verified state
/// proof; after that the book counts up locally, so that many transactions can be in flight at
/// once. A `nonce_reused` rejection means another client used the signer's nonces meanwhile: the
/// book then forgets the signer and asks the chain again, never going below what it handed out.
public struct NonceBook: Sendable, Hashable {
    struct Entry: Sendable, Hashable {
        /// The last nonce handed out, or known committed.
        var last: UInt64
        /// False after a `nonce_reused`: ask the chain before the next nonce.
        var current: Bool
    }

    private var entries: [Bytes32: Entry] = [:]

    /// An empty book.
    public init() {}

    /// Whether the book can hand out `signer`'s next nonce without asking the chain first.
    public func knows(_ signer: Bytes32) -> Bool { entries[signer]?.current ?? false }

    /// Records the signer's last committed nonce (0 if it never signed); a higher nonce the book
    /// handed out already stays (its transaction may still be in a mempool).
    public mutating func learn(_ signer: Bytes32, committed: UInt64) {
        entries[signer] = Entry(last: max(entries[signer]?.last ?? 0, committed), current: true)
    }

    /// The next nonce for `signer`: one past the last handed out or committed.
    public mutating func next(_ signer: Bytes32) -> UInt64 {
        let nonce = (entries[signer]?.last ?? 0) + 1
        entries[signer] = Entry(last: nonce, current: entries[signer]?.current ?? false)
        return nonce
    }

    /// After a `nonce_reused`: the chain must be asked again before `signer`'s next nonce.
    public mutating func invalidate(_ signer: Bytes32) {
        entries[signer]?.current = false
    }
}
