/// A binary min-heap of events ordered by (time, sequence): the simulator's agenda. The sequence
/// number breaks ties in insertion order, so a run is a function of its seed alone.
struct EventQueue<Payload> {
    struct Entry {
        var time: UInt64
        var sequence: UInt64
        /// Boxed: the heap moves entries around, and a payload (a proposal carries a block) is
        /// large.
        var box: Box

        var payload: Payload { box.payload }

        func precedes(_ other: Entry) -> Bool { (time, sequence) < (other.time, other.sequence) }
    }

    final class Box {
        let payload: Payload
        init(_ payload: Payload) { self.payload = payload }
    }

    private var heap: [Entry] = []
    private var sequence: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func push(_ payload: Payload, at time: UInt64) {
        sequence += 1
        heap.append(Entry(time: time, sequence: sequence, box: Box(payload)))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let first = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].precedes(heap[smallest]) { smallest = left }
            if right < heap.count, heap[right].precedes(heap[smallest]) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }

    /// Removes every entry `predicate` selects (a crash forgets a node's pending inputs).
    mutating func removeAll(where predicate: (Payload) -> Bool) {
        let kept = heap.filter { !predicate($0.payload) }
        guard kept.count != heap.count else { return }
        heap = []
        for entry in kept.sorted(by: { $0.precedes($1) }) { heap.append(entry) }
    }
}
