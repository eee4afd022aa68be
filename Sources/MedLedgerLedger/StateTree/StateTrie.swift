import MedLedgerCrypto
import Synchronization

// The authenticated half of a StateTree: a binary trie over k = SHA-256(key), in which a subtree
// holding exactly one leaf is that leaf (Protocol/STATE.md section 2).
//
// Nodes are persistent and shared between trees (snapshots). The @unchecked Sendable below rests
// on two rules:
//
// - Structure (a branch's children; a leaf is immutable) is written only through an `inout` slot
//   after isKnownUniquelyReferenced said this tree is the node's only owner, so no other tree,
//   and no other thread, can be looking at it. A shared node is copied first (path copying), as
//   the standard library's copy-on-write collections copy their buffers.
// - The cached hash is the one thing written to shared nodes, by whichever reader needs it
//   first. Every reader that computes it computes the same value, and it is held in atomics
//   (words stored relaxed, then the "hashed" flag stored releasing; readers load the flag
//   acquiring), so concurrent hashing of snapshots that share unhashed nodes is race-free.
//
// Every internal node of the binary trie is stored, including those with one empty child (the
// chains above two leaves whose paths share a prefix): the hashing rule needs a hash per level
// anyway, and keeping them makes every operation a plain walk down one level at a time.

/// A trie node: a ``StateTrieLeaf`` or a ``StateTrieBranch`` (told apart by ``isLeaf``).
class StateTrieNode: @unchecked Sendable {
    private let word0 = Atomic<UInt64>(0)
    private let word1 = Atomic<UInt64>(0)
    private let word2 = Atomic<UInt64>(0)
    private let word3 = Atomic<UInt64>(0)
    /// Whether the words hold the node's hash.
    private let hashed = Atomic<Bool>(false)
    final let isLeaf: Bool

    init(isLeaf: Bool) {
        self.isLeaf = isLeaf
    }

    /// The node's hash if it has been computed since the node last changed.
    @inline(__always)
    final var cachedHash: StateHash? {
        guard hashed.load(ordering: .acquiring) else { return nil }
        return StateHash(
            w0: word0.load(ordering: .relaxed), w1: word1.load(ordering: .relaxed),
            w2: word2.load(ordering: .relaxed), w3: word3.load(ordering: .relaxed))
    }

    /// Whether the node, or a node below it, changed since its hash was last computed.
    final var isDirty: Bool { !hashed.load(ordering: .acquiring) }

    /// Records the node's hash. Safe on shared nodes: every caller stores the same value.
    @inline(__always)
    final func cache(_ hash: StateHash) {
        word0.store(hash.w0, ordering: .relaxed)
        word1.store(hash.w1, ordering: .relaxed)
        word2.store(hash.w2, ordering: .relaxed)
        word3.store(hash.w3, ordering: .relaxed)
        hashed.store(true, ordering: .releasing)
    }

    /// Forgets the hash. Only for a node this tree owns alone, about to change below.
    @inline(__always)
    final func invalidate() {
        hashed.store(false, ordering: .relaxed)
    }
}

/// One key's leaf. Immutable apart from its cached hash: a new value makes a new leaf.
final class StateTrieLeaf: StateTrieNode, @unchecked Sendable {
    let keyHash: StateHash
    let value: [UInt8]

    init(keyHash: StateHash, value: [UInt8]) {
        self.keyHash = keyHash
        self.value = value
        super.init(isLeaf: true)
    }
}

/// An internal node: at least two leaves below it, so at least one child is non-empty.
final class StateTrieBranch: StateTrieNode, @unchecked Sendable {
    var left: StateTrieNode?
    var right: StateTrieNode?

    init(left: StateTrieNode?, right: StateTrieNode?) {
        self.left = left
        self.right = right
        super.init(isLeaf: false)
    }
}

/// The trie operations, over a slot (`inout StateTrieNode?`) so that uniqueness can be checked.
enum StateTrie {
    /// Puts `leaf` where its key belongs, replacing a leaf of the same key.
    static func insert(_ slot: inout StateTrieNode?, depth: Int, leaf: StateTrieLeaf) {
        guard slot != nil else {
            slot = leaf
            return
        }
        if slot.unsafelyUnwrapped.isLeaf {
            let existing = unsafeDowncast(slot.unsafelyUnwrapped, to: StateTrieLeaf.self)
            slot = existing.keyHash == leaf.keyHash ? leaf : fork(existing, leaf, depth: depth)
            return
        }
        let branch = ownedBranch(&slot)
        if leaf.keyHash.bit(depth) {
            insert(&branch.right, depth: depth + 1, leaf: leaf)
        } else {
            insert(&branch.left, depth: depth + 1, leaf: leaf)
        }
    }

    /// The subtree at `depth` holding exactly the leaves `a` and `b`: internal nodes with one
    /// empty child down to the first bit where their paths differ, then a node with both.
    private static func fork(_ a: StateTrieLeaf, _ b: StateTrieLeaf, depth: Int) -> StateTrieNode {
        let split = a.keyHash.commonPrefixLength(with: b.keyHash)
        precondition(split >= depth && split < 256, "two leaves on one path must differ below it")
        var node: StateTrieNode =
            a.keyHash.bit(split) ? StateTrieBranch(left: b, right: a) : StateTrieBranch(left: a, right: b)
        var level = split - 1
        while level >= depth {
            node =
                a.keyHash.bit(level) ? StateTrieBranch(left: nil, right: node) : StateTrieBranch(left: node, right: nil)
            level -= 1
        }
        return node
    }

    /// Removes the leaf of `keyHash`, which the caller knows is present, and lifts a leaf left
    /// alone in a subtree up to where that subtree starts.
    static func remove(_ slot: inout StateTrieNode?, depth: Int, keyHash: StateHash) {
        if slot.unsafelyUnwrapped.isLeaf {
            precondition(unsafeDowncast(slot.unsafelyUnwrapped, to: StateTrieLeaf.self).keyHash == keyHash)
            slot = nil
            return
        }
        let branch = ownedBranch(&slot)
        if keyHash.bit(depth) {
            remove(&branch.right, depth: depth + 1, keyHash: keyHash)
        } else {
            remove(&branch.left, depth: depth + 1, keyHash: keyHash)
        }
        // A subtree that now holds one leaf is that leaf. Both children empty cannot happen: the
        // node held at least two leaves and lost one.
        if branch.left == nil, let right = branch.right, right.isLeaf {
            slot = right
        } else if branch.right == nil, let left = branch.left, left.isLeaf {
            slot = left
        }
    }

    /// The branch in `slot`, copied first unless this tree is its only owner, with its hash
    /// forgotten because something below it is about to change.
    @inline(__always)
    private static func ownedBranch(_ slot: inout StateTrieNode?) -> StateTrieBranch {
        if isKnownUniquelyReferenced(&slot) {
            let branch = unsafeDowncast(slot.unsafelyUnwrapped, to: StateTrieBranch.self)
            branch.invalidate()
            return branch
        }
        let shared = unsafeDowncast(slot.unsafelyUnwrapped, to: StateTrieBranch.self)
        let copy = StateTrieBranch(left: shared.left, right: shared.right)
        slot = copy
        return copy
    }

    // MARK: Hashing

    /// The hash of `node`'s subtree, computing and caching the hash of every dirty node below it.
    static func hash(of node: StateTrieNode?) -> StateHash {
        guard let node else { return .zero }
        if let cached = node.cachedHash { return cached }
        let hash: StateHash
        if node.isLeaf {
            let leaf = unsafeDowncast(node, to: StateTrieLeaf.self)
            hash = .leaf(keyHash: leaf.keyHash, valueHash: .of(leaf.value))
        } else {
            let branch = unsafeDowncast(node, to: StateTrieBranch.self)
            hash = .branch(left: self.hash(of: branch.left), right: self.hash(of: branch.right))
        }
        node.cache(hash)
        return hash
    }
}
