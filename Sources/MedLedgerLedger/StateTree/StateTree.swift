import Dispatch
import MedLedgerCrypto
import MedLedgerWire

/// The ledger's state: an authenticated map from key bytes to value bytes whose ``rootHash``
/// goes into every block header (Protocol/STATE.md).
///
/// The root commits to the set of (key, value) pairs and nothing else: not the order they were
/// written in, not deletions along the way. ``proof(for:)`` shows any key's value, or its
/// absence, to a client that holds only a root (see ``StateProof``).
///
/// ## Snapshots
///
/// `StateTree` is a value type built from persistent, shared nodes: copying a tree is O(1), and
/// the copy and the original never see each other's writes. A write copies only the nodes on its
/// own path that are still shared (copy-on-write by path copying, the way `Array` copies its
/// buffer but at node granularity), so the node runtime can take `var speculative = committed`,
/// apply a block to the copy, and keep or drop it, paying only for the paths the block touched.
/// We chose this over a class with explicit snapshot objects because value semantics make the
/// sharing invisible and safe across threads (the type is `Sendable` like `Array`: a snapshot
/// can be handed to a query thread while the original goes on applying blocks), and over
/// copying a flat node arena because that costs O(size of the state) on the first write after
/// every snapshot.
///
/// ## Cost
///
/// ``set(_:_:)`` marks the nodes on one path dirty and hashes nothing but the key; ``rootHash``
/// hashes each dirty node once, so the upper levels are hashed once per block rather than once
/// per write. Keys are kept twice: in the trie, ordered by SHA-256 of the key, which the proofs
/// need; and in a sorted index by key bytes, which lookups and ordered iteration use.
public struct StateTree: Sendable {
    /// The trie of Protocol/STATE.md section 2; nil when the map is empty.
    var root: StateTrieNode?
    /// The same entries sorted by key bytes.
    var index = StateKeyIndex()
    /// Writes since the root was last hashed (roughly: a snapshot may have hashed shared nodes
    /// since); decides whether hashing is worth two threads.
    var pendingWrites = 0

    /// The root hash of the empty map: 32 zero bytes.
    public static let emptyRootHash = Bytes32.zero

    /// An empty map.
    public init() {}

    /// A map holding `entries`; a key that appears twice keeps its last value.
    public init<S: Sequence>(_ entries: S) where S.Element == (key: [UInt8], value: [UInt8]) {
        for (key, value) in entries { set(key, value) }
    }

    /// The number of keys.
    public var count: Int { index.count }

    /// Whether the map holds no key.
    public var isEmpty: Bool { index.count == 0 }

    /// The value of `key`, or nil when the map has none; assigning nil deletes the key.
    public subscript(key: [UInt8]) -> [UInt8]? {
        get { index.value(for: key) }
        set { set(key, newValue) }
    }

    /// Sets `key` to `value`, or deletes `key` when `value` is nil.
    ///
    /// Setting a key to the value it already has, or deleting a key that is absent, changes
    /// nothing and dirties nothing.
    public mutating func set(_ key: [UInt8], _ value: [UInt8]?) {
        // Count writes since the root was last hashed (a clean root means it just was).
        let batchWrites = hasPendingWrites ? pendingWrites : 0
        if let value {
            if let old = index.set(key, value), old == value { return }
            StateTrie.insert(&root, depth: 0, leaf: StateTrieLeaf(keyHash: .of(key), value: value))
        } else {
            guard index.remove(key) != nil else { return }
            StateTrie.remove(&root, depth: 0, keyHash: .of(key))
        }
        pendingWrites = batchWrites + 1
    }

    /// Deletes every key.
    public mutating func removeAll() {
        root = nil
        index = StateKeyIndex()
        pendingWrites = 0
    }

    /// The root hash of the map (Protocol/STATE.md section 2): 32 zero bytes when it is empty.
    ///
    /// Computed lazily: the first read after a batch of writes hashes every node those writes
    /// touched, once, and caches the hashes in the nodes; later reads cost nothing until the
    /// next write. The cache is the only thing ever written to nodes shared with snapshots, and
    /// it is written atomically with the value every reader would compute, so reading the root of
    /// snapshots on several threads at once is safe. A large batch is hashed on two threads (the
    /// two halves of the trie); the result does not depend on it.
    public var rootHash: Bytes32 {
        guard let root else { return Self.emptyRootHash }
        if let cached = root.cachedHash { return cached.bytes32 }
        if pendingWrites >= Self.parallelHashingThreshold, !root.isLeaf {
            let branch = unsafeDowncast(root, to: StateTrieBranch.self)
            DispatchQueue.concurrentPerform(iterations: 2) { half in
                _ = StateTrie.hash(of: half == 0 ? branch.left : branch.right)
            }
        }
        return StateTrie.hash(of: root).bytes32
    }

    /// From this many writes since the root was last hashed, hashing uses two threads.
    static let parallelHashingThreshold = 2048

    /// Whether writes were made since ``rootHash`` was last computed.
    public var hasPendingWrites: Bool { root?.isDirty ?? false }
}

extension StateTree {
    /// `SHA-256(key)`: the path of `key` in the trie (Protocol/STATE.md section 2).
    public static func keyHash(_ key: [UInt8]) -> Bytes32 {
        StateHash.of(key).bytes32
    }
}

extension StateTree {
    /// Whether the tree's internal invariants hold (for tests): every branch holds at least two
    /// leaves, every leaf lies on its own path, the trie and the sorted index hold the same
    /// number of keys, and the index is sorted, bounded and consistent.
    package func checkInvariants() -> Bool {
        /// The number of leaves below `node`, or nil when an invariant is broken.
        func leaves(_ node: StateTrieNode?, depth: Int, path: StateHash) -> Int? {
            guard let node else { return 0 }
            if node.isLeaf {
                let leaf = unsafeDowncast(node, to: StateTrieLeaf.self)
                return leaf.keyHash.commonPrefixLength(with: path) >= depth ? 1 : nil
            }
            guard depth < 256 else { return nil }
            let branch = unsafeDowncast(node, to: StateTrieBranch.self)
            var rightPath = path
            switch depth >> 6 {
            case 0: rightPath.w0 |= 1 << UInt64(63 - (depth & 63))
            case 1: rightPath.w1 |= 1 << UInt64(63 - (depth & 63))
            case 2: rightPath.w2 |= 1 << UInt64(63 - (depth & 63))
            default: rightPath.w3 |= 1 << UInt64(63 - (depth & 63))
            }
            guard let left = leaves(branch.left, depth: depth + 1, path: path),
                let right = leaves(branch.right, depth: depth + 1, path: rightPath),
                left + right >= 2
            else { return nil }
            return left + right
        }
        return leaves(root, depth: 0, path: .zero) == index.count && index.checkInvariants()
    }
}
