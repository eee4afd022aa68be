/// A persistent, append-only sequence: copies share everything but the last few elements, so
/// appending to a copy costs at most ``chunkSize`` element copies however long the list is.
///
/// The ledger keeps lists that only grow (a patient's audit trail, consents and records) inside
/// a state that is copied for every block it checks: the mempool's pending state, a proposal's
/// scratch state, the validated state of each proposed block. An `Array` there is shared with the
/// committed state, so the first append in each copy copied the whole list, a cost that grew with
/// the patient's history (the audit trail's appends were 5-6% of a node under load). Here full
/// chunks are immutable and shared; only the tail, shorter than a chunk, is copied on write.
public struct AppendOnlyList<Element> {
    /// Elements per shared chunk.
    public static var chunkSize: Int { 32 }

    final class Chunk {
        let elements: [Element]
        init(_ elements: [Element]) { self.elements = elements }
    }

    /// Full chunks, oldest first. Appending a chunk copies this array of references (when
    /// shared), once every ``chunkSize`` appends.
    private var chunks: [Chunk] = []
    /// The newest elements, fewer than ``chunkSize``.
    private var tail: [Element] = []

    public init() {}

    public init<S: Sequence>(_ elements: S) where S.Element == Element {
        for element in elements { append(element) }
    }

    public mutating func append(_ element: Element) {
        if tail.isEmpty { tail.reserveCapacity(Self.chunkSize) }
        tail.append(element)
        if tail.count == Self.chunkSize {
            chunks.append(Chunk(tail))
            tail = []
        }
    }
}

extension AppendOnlyList: RandomAccessCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { chunks.count * Self.chunkSize + tail.count }

    public subscript(position: Int) -> Element {
        precondition(position >= 0 && position < endIndex, "AppendOnlyList index \(position) out of range 0..<\(endIndex)")
        let (chunk, offset) = position.quotientAndRemainder(dividingBy: Self.chunkSize)
        return chunk < chunks.count ? chunks[chunk].elements[offset] : tail[offset]
    }
}

extension AppendOnlyList: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: Element...) { self.init(elements) }
}

extension AppendOnlyList: Equatable where Element: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.elementsEqual(rhs) }
}

extension AppendOnlyList: Hashable where Element: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for element in self { hasher.combine(element) }
    }
}

// Chunks are immutable once made (their one stored property is a `let`), so sharing them across
// threads is as safe as sharing their elements.
extension AppendOnlyList.Chunk: @unchecked Sendable where Element: Sendable {}
extension AppendOnlyList: Sendable where Element: Sendable {}

extension AppendOnlyList: CustomStringConvertible {
    public var description: String { Array(self).description }
}
