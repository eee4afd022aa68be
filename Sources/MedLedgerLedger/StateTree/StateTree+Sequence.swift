extension StateTree: Sequence {
    /// One entry of the map.
    public typealias Element = (key: [UInt8], value: [UInt8])

    /// Entries in ascending order of key bytes: lexicographic over unsigned bytes, a key before
    /// every longer key it is a prefix of.
    public func makeIterator() -> Iterator {
        Iterator(chunks: index.chunks, chunk: 0, position: 0, prefix: nil)
    }

    /// The number of keys: iteration yields exactly this many entries.
    public var underestimatedCount: Int { count }

    /// The entries whose key is `lowerBound` or sorts after it, in ascending order.
    public func entries(from lowerBound: [UInt8]) -> Entries {
        let (chunk, position) = index.position(ofFirstNotBelow: lowerBound)
        return Entries(iterator: Iterator(chunks: index.chunks, chunk: chunk, position: position, prefix: nil))
    }

    /// The entries whose key starts with `prefix`, in ascending order.
    public func entries(withPrefix prefix: [UInt8]) -> Entries {
        let (chunk, position) = index.position(ofFirstNotBelow: prefix)
        return Entries(iterator: Iterator(chunks: index.chunks, chunk: chunk, position: position, prefix: prefix))
    }

    /// A run of entries in key order; it shares storage with the tree it came from and is
    /// unaffected by later writes to that tree.
    public struct Entries: Sequence, Sendable {
        fileprivate let iterator: Iterator

        /// Starts at the first entry of the run.
        public func makeIterator() -> Iterator { iterator }
    }

    /// Walks entries in key order.
    public struct Iterator: IteratorProtocol, Sendable {
        fileprivate let chunks: [StateKeyChunk]
        fileprivate var chunk: Int
        fileprivate var position: Int
        /// When set, iteration stops at the first key without this prefix.
        fileprivate let prefix: [UInt8]?

        /// The next entry in key order, or nil at the end.
        public mutating func next() -> Element? {
            while chunk < chunks.count {
                let current = chunks[chunk]
                if position < current.keys.count {
                    let key = current.keys[position]
                    if let prefix, !key.starts(with: prefix) {
                        chunk = chunks.count
                        return nil
                    }
                    position += 1
                    return (key, current.values[position - 1])
                }
                chunk += 1
                position = 0
            }
            return nil
        }
    }
}
