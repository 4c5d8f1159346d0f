/// The `capacity` best-scoring payloads offered, kept in a min-heap; on equal scores the earlier offer
/// wins, so results do not depend on anything but the order of offers. Inlinable, so callers in other
/// modules get it specialised to their payload (unspecialised, generic dispatch dominated its cost).
public struct TopK<Payload> {
    public struct Entry {
        public let score: Float
        public let payload: Payload
        @usableFromInline let order: Int

        @usableFromInline init(score: Float, payload: Payload, order: Int) { (self.score, self.payload, self.order) = (score, payload, order) }
    }

    public let capacity: Int
    @usableFromInline var heap: [Entry] = []
    @usableFromInline var offered = 0

    @inlinable public init(capacity: Int) { self.capacity = capacity }

    @inlinable public var isFull: Bool { heap.count == capacity }
    /// The lowest score kept (when full, an offer must beat it to enter).
    @inlinable public var threshold: Float { heap.first?.score ?? -.infinity }

    @inlinable func below(_ a: Entry, _ b: Entry) -> Bool { a.score < b.score || (a.score == b.score && a.order > b.order) }

    @inlinable public mutating func offer(_ score: Float, _ payload: Payload) {
        let entry = Entry(score: score, payload: payload, order: offered)
        offered += 1
        if heap.count < capacity {
            heap.append(entry)
            var i = heap.count - 1
            while i > 0, below(heap[i], heap[(i - 1) / 2]) { heap.swapAt(i, (i - 1) / 2); i = (i - 1) / 2 }
        } else if capacity > 0, below(heap[0], entry) {
            heap[0] = entry
            var i = 0
            while true {
                let (l, r) = (2 * i + 1, 2 * i + 2)
                var m = i
                if l < heap.count, below(heap[l], heap[m]) { m = l }
                if r < heap.count, below(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
    }

    /// The kept entries, best first.
    @inlinable public func sortedDescending() -> [Entry] { heap.sorted { below($1, $0) } }
}
