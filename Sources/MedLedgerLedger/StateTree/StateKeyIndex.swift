// The ordered half of a StateTree: every (key, value) sorted by key bytes, for lookups and for
// the ordered iteration queries need. The trie is ordered by SHA-256(key), which is no use to
// a query such as "every consent of this patient".
//
// A two-level B-tree: a sorted array of chunks, each a sorted run of at most `maximumChunk`
// entries. Chunks are shared between snapshots and copied on first write (path copying, as in
// the trie), so a snapshot costs one array retain and a write after it copies the chunk array
// once and each touched chunk once.

/// Lexicographic order of unsigned bytes; a proper prefix sorts first.
@inline(__always)
func stateKeyOrder(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
    lhs.withUnsafeBufferPointer { a in
        rhs.withUnsafeBufferPointer { b in
            let shared = min(a.count, b.count)
            var index = 0
            while index < shared {
                let x = a[index]
                let y = b[index]
                if x != y { return x < y ? -1 : 1 }
                index += 1
            }
            return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
        }
    }
}

/// A sorted run of entries. Written only while uniquely referenced (see StateTrie.swift).
final class StateKeyChunk: @unchecked Sendable {
    var keys: [[UInt8]]
    var values: [[UInt8]]

    init(keys: [[UInt8]], values: [[UInt8]]) {
        self.keys = keys
        self.values = values
    }

    /// The first position whose key is not below `key`, and whether it holds `key`.
    @inline(__always)
    func search(_ key: [UInt8]) -> (index: Int, found: Bool) {
        var low = 0
        var high = keys.count
        while low < high {
            let middle = (low + high) / 2
            let order = stateKeyOrder(keys[middle], key)
            if order == 0 { return (middle, true) }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }
}

struct StateKeyIndex: Sendable {
    /// Split a chunk that grows past this many entries.
    static let maximumChunk = 512
    /// Merge a chunk that shrinks below this many with a neighbour, when both fit in one.
    static let minimumChunk = 64

    /// Non-empty chunks, ordered: every key of chunk i sorts before every key of chunk i + 1.
    private(set) var chunks: [StateKeyChunk] = []
    /// `chunks[i].keys[0]` for every i, kept apart so the search among chunks stays in one array.
    private var firstKeys: [[UInt8]] = []
    private(set) var count = 0

    /// The chunk that holds `key`, or would: the last whose first key is not above it.
    @inline(__always)
    private func chunkIndex(for key: [UInt8]) -> Int {
        firstKeys.withUnsafeBufferPointer { firsts in
            var low = 0
            var high = firsts.count
            while low < high {
                let middle = (low + high) / 2
                if stateKeyOrder(firsts[middle], key) <= 0 { low = middle + 1 } else { high = middle }
            }
            return max(low - 1, 0)
        }
    }

    /// Checks the invariants (tests only): chunks non-empty, bounded, sorted, first keys in step.
    func checkInvariants() -> Bool {
        guard firstKeys.count == chunks.count, chunks.reduce(0, { $0 + $1.keys.count }) == count else { return false }
        var previous: [UInt8]?
        for (chunk, first) in zip(chunks, firstKeys) {
            guard !chunk.keys.isEmpty, chunk.keys.count <= Self.maximumChunk, chunk.keys[0] == first,
                chunk.keys.count == chunk.values.count
            else { return false }
            for key in chunk.keys {
                if let previous, stateKeyOrder(previous, key) >= 0 { return false }
                previous = key
            }
        }
        return true
    }

    func value(for key: [UInt8]) -> [UInt8]? {
        guard !chunks.isEmpty else { return nil }
        let chunk = chunks[chunkIndex(for: key)]
        let (index, found) = chunk.search(key)
        return found ? chunk.values[index] : nil
    }

    /// Sets `key` to `value`; returns the value it replaced.
    mutating func set(_ key: [UInt8], _ value: [UInt8]) -> [UInt8]? {
        guard !chunks.isEmpty else {
            chunks = [StateKeyChunk(keys: [key], values: [value])]
            firstKeys = [key]
            count = 1
            return nil
        }
        let c = chunkIndex(for: key)
        let (index, found) = chunks[c].search(key)
        if found, chunks[c].values[index] == value { return value }
        let chunk = uniqueChunk(c)
        if found {
            let old = chunk.values[index]
            chunk.values[index] = value
            return old
        }
        chunk.keys.insert(key, at: index)
        chunk.values.insert(value, at: index)
        if index == 0 { firstKeys[c] = key }
        count += 1
        if chunk.keys.count > Self.maximumChunk {
            let half = chunk.keys.count / 2
            let upper = StateKeyChunk(keys: Array(chunk.keys[half...]), values: Array(chunk.values[half...]))
            chunk.keys.removeSubrange(half...)
            chunk.values.removeSubrange(half...)
            chunks.insert(upper, at: c + 1)
            firstKeys.insert(upper.keys[0], at: c + 1)
        }
        return nil
    }

    /// Removes `key`; returns the value it had.
    mutating func remove(_ key: [UInt8]) -> [UInt8]? {
        guard !chunks.isEmpty else { return nil }
        let c = chunkIndex(for: key)
        let (index, found) = chunks[c].search(key)
        guard found else { return nil }
        let chunk = uniqueChunk(c)
        chunk.keys.remove(at: index)
        let old = chunk.values.remove(at: index)
        count -= 1
        if chunk.keys.isEmpty {
            chunks.remove(at: c)
            firstKeys.remove(at: c)
            return old
        }
        if index == 0 { firstKeys[c] = chunk.keys[0] }
        if chunk.keys.count < Self.minimumChunk {
            mergeIfSmall(c)
        }
        return old
    }

    /// Joins chunk `c` with a neighbour when the two fit comfortably in one.
    private mutating func mergeIfSmall(_ c: Int) {
        let limit = Self.maximumChunk / 2
        if c + 1 < chunks.count, chunks[c].keys.count + chunks[c + 1].keys.count <= limit {
            let next = chunks.remove(at: c + 1)
            firstKeys.remove(at: c + 1)
            let chunk = uniqueChunk(c)
            chunk.keys.append(contentsOf: next.keys)
            chunk.values.append(contentsOf: next.values)
        } else if c > 0, chunks[c - 1].keys.count + chunks[c].keys.count <= limit {
            let this = chunks.remove(at: c)
            firstKeys.remove(at: c)
            let previous = uniqueChunk(c - 1)
            previous.keys.append(contentsOf: this.keys)
            previous.values.append(contentsOf: this.values)
        }
    }

    /// Chunk `c`, copied first unless this index is its only owner.
    @inline(__always)
    private mutating func uniqueChunk(_ c: Int) -> StateKeyChunk {
        if !isKnownUniquelyReferenced(&chunks[c]) {
            chunks[c] = StateKeyChunk(keys: chunks[c].keys, values: chunks[c].values)
        }
        return chunks[c]
    }

    /// The position of the first entry whose key is not below `key`.
    func position(ofFirstNotBelow key: [UInt8]) -> (chunk: Int, index: Int) {
        guard !chunks.isEmpty else { return (0, 0) }
        let c = chunkIndex(for: key)
        let (index, _) = chunks[c].search(key)
        if index == chunks[c].keys.count { return (c + 1, 0) }
        return (c, index)
    }
}
