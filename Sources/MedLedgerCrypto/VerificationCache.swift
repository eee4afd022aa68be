import Synchronization

/// Remembers signatures that verified, so the same signature over the same bytes under the same
/// key is checked once per process: a vote reaches a node many times (gossip, relays, certificates,
/// block sync), and a transaction is checked at mempool admission and again in its block.
///
/// Only successes are kept (a failure is always re-checked), under the SHA-256 of
/// `key || signature || signed bytes`; a hit is the same answer a verification would give. Bounded:
/// 16 shards of at most 4,096 entries, a full shard starts over. Thread-safe.
public final class VerificationCache: Sendable {
    public static let shared = VerificationCache()

    static let shardCount = 16
    public static let capacity = shardCount * 4_096

    final class Shard: Sendable {
        let entries = Mutex(Set<SHA256Digest>())
    }

    private let shards: [Shard]

    public init() {
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    static func entry(key: [UInt8], signature: [UInt8], message: [UInt8]) -> SHA256Digest {
        var input = key
        input.reserveCapacity(key.count + signature.count + message.count)
        input += signature
        input += message
        return SHA256.hash(input)
    }

    private func shard(_ entry: SHA256Digest) -> Shard { shards[Int(entry.bytes[0]) % Self.shardCount] }

    func contains(_ entry: SHA256Digest) -> Bool { shard(entry).entries.withLock { $0.contains(entry) } }

    func insert(_ entry: SHA256Digest) {
        shard(entry).entries.withLock { set in
            if set.count >= Self.capacity / Self.shardCount { set.removeAll(keepingCapacity: true) }
            set.insert(entry)
        }
    }

    /// Entries held now (for tests and metrics).
    public var count: Int { shards.reduce(0) { $0 + $1.entries.withLock { $0.count } } }
}
