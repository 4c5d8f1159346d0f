import Synchronization

/// Recently popular items: positive interactions counted with exponential decay (every `halfLife`
/// observations halve the older counts), for users the generator knows nothing about.
public final class PopularItems: Sendable {
    private struct State {
        var counts: [UInt64: Double] = [:]
        var observed = 0
        var ranked: [UInt64] = []
    }
    private let state = Mutex(State())
    let halfLife: Int
    /// Items kept in the ranked list.
    let depth: Int

    public init(halfLife: Int = 50_000, depth: Int = 1000) {
        precondition(halfLife > 0 && depth > 0, "popularity needs a positive half-life and depth")
        self.halfLife = halfLife
        self.depth = depth
    }

    /// Counts positive interactions with these items and re-ranks.
    public func observe(_ items: [UInt64]) {
        guard !items.isEmpty else { return }
        state.withLock { s in
            for item in items {
                s.counts[item, default: 0] += 1
                s.observed += 1
                if s.observed >= halfLife {
                    s.observed = 0
                    s.counts = s.counts.compactMapValues { $0 / 2 >= 0.01 ? $0 / 2 : nil }
                }
            }
            s.ranked = s.counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(depth).map(\.key)
        }
    }

    /// The `count` most popular items not in `excluded`.
    public func top(_ count: Int, excluding excluded: Set<UInt64> = []) -> [UInt64] {
        state.withLock { s in Array(s.ranked.lazy.filter { !excluded.contains($0) }.prefix(count)) }
    }
}
