import MedLedgerCrypto
import MedLedgerWire

/// Evidence that a key has a given value in the state whose root is known, or that it is absent
/// (Protocol/STATE.md section 3).
///
/// A proof describes the path of `k = SHA-256(key)` from the root down to where it ends: the
/// hashes of the subtrees beside the path, one per level, and what is found at the end, which
/// is either nothing (an empty subtree) or a leaf. The leaf is the key's own when the key is
/// present; when the key is absent, a leaf of another key that occupies the path also proves
/// the absence, because a subtree holding one leaf is stored as that leaf.
///
/// A client checks a proof with ``verify(root:key:value:)`` and nothing else: no tree, no node.
public struct StateProof: Hashable, Sendable {
    /// What the path ends in.
    public enum Terminal: Hashable, Sendable {
        /// An empty subtree: no key has a path through here, so the proven key is absent.
        case empty
        /// A leaf: the key whose `SHA-256` is `keyHash`, with a value whose `SHA-256` is `valueHash`.
        case leaf(keyHash: Bytes32, valueHash: Bytes32)
    }

    /// The most levels a path can have: two different 256-bit paths part at bit 255 at the latest.
    public static let maximumDepth = 256

    /// What the path ends in.
    public var terminal: Terminal

    /// The hash of the subtree beside the path at each level, from the root down: element `i`
    /// is the child of the path's node at depth `i` that the path does not enter; nil is an
    /// empty subtree. The count is the depth at which the path ends.
    public var siblings: [Bytes32?]

    /// A proof made of these parts. Nothing is checked here; ``verify(root:key:value:)`` checks all.
    public init(terminal: Terminal, siblings: [Bytes32?]) {
        self.terminal = terminal
        self.siblings = siblings
    }

    /// The depth at which the path ends: 0 when the root itself is empty or a leaf.
    public var depth: Int { siblings.count }

    /// Whether this proof shows that `key` has `value` (or, for a nil `value`, no value) in the
    /// state whose root hash is `root`.
    ///
    /// Every rule of Protocol/STATE.md section 3.2 is checked, including the shape rules a
    /// decoder enforces, so a proof built in memory is held to the same standard as one decoded.
    public func verify(root: Bytes32, key: [UInt8], value: [UInt8]?) -> Bool {
        verify(root: StateHash(root), keyHash: .of(key), valueHash: value.map { StateHash.of($0) })
    }

    /// ``verify(root:key:value:)`` with the key and value already hashed.
    package func verify(root: StateHash, keyHash: StateHash, valueHash: StateHash?) -> Bool {
        guard let computed = computeRoot(keyHash: keyHash, valueHash: valueHash) else { return false }
        return computed == root
    }

    /// The root this proof leads to for the claim, or nil when the proof cannot support the
    /// claim whatever the root.
    package func computeRoot(keyHash: StateHash, valueHash: StateHash?) -> StateHash? {
        guard siblings.count <= Self.maximumDepth else { return nil }
        // Canonical shape: no sibling written out as zeros, and the deepest sibling non-empty
        // (otherwise the parent would hold at most one leaf and be that leaf or empty itself).
        if let last = siblings.last, last == nil { return nil }
        for sibling in siblings where sibling == Bytes32.zero { return nil }

        var hash: StateHash
        switch terminal {
        case .empty:
            guard valueHash == nil else { return nil }
            hash = .zero
        case .leaf(let leafKeyBytes, let leafValueBytes):
            let leafKey = StateHash(leafKeyBytes)
            let leafValue = StateHash(leafValueBytes)
            if let valueHash {
                guard leafKey == keyHash, leafValue == valueHash else { return nil }
            } else {
                guard leafKey != keyHash else { return nil }
            }
            // The leaf must sit on the path it claims to end.
            guard leafKey.commonPrefixLength(with: keyHash) >= siblings.count else { return nil }
            hash = .leaf(keyHash: leafKey, valueHash: leafValue)
        }
        var level = siblings.count - 1
        while level >= 0 {
            let sibling = siblings[level].map { StateHash($0) } ?? .zero
            hash = keyHash.bit(level) ? .branch(left: sibling, right: hash) : .branch(left: hash, right: sibling)
            level -= 1
        }
        return hash
    }
}

extension StateTree {
    /// A proof of `key`'s value in this tree, or of its absence, against ``rootHash``.
    ///
    /// Costs one SHA-256 per level when the tree is hashed; taken while writes are pending, it
    /// hashes (and caches) the dirty subtrees beside its path first.
    public func proof(for key: [UInt8]) -> StateProof {
        let keyHash = StateHash.of(key)
        var siblings: [Bytes32?] = []
        var node = root
        var depth = 0
        while let current = node, !current.isLeaf {
            let branch = unsafeDowncast(current, to: StateTrieBranch.self)
            let (next, beside) = keyHash.bit(depth) ? (branch.right, branch.left) : (branch.left, branch.right)
            siblings.append(beside.map { StateTrie.hash(of: $0).bytes32 })
            node = next
            depth += 1
        }
        guard let node else { return StateProof(terminal: .empty, siblings: siblings) }
        let leaf = unsafeDowncast(node, to: StateTrieLeaf.self)
        return StateProof(
            terminal: .leaf(keyHash: leaf.keyHash.bytes32, valueHash: StateHash.of(leaf.value).bytes32),
            siblings: siblings)
    }
}
