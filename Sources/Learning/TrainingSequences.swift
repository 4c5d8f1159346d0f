import Engine
import Generator
import Models

/// Each user's positive items in arrival order with their times: what whole-sequence training of the
/// lazy generator learns from (`GeneratorTrainer.sequenceStep`), as `eval` trains it, adapted to a log
/// that keeps growing. A batch mixes fresh and replayed windows: a `freshShare` of its windows are the
/// newest windows of users whose positives arrived most recently, the rest are a random window (of the
/// cut `TrainingWindows.all` makes) of the user of a positive drawn from the whole log, so a user weighs
/// by their positives and every item is a target about equally often. Windows are drawn `bucket` batches
/// at a time and sorted by length into batches, so little is padded.
struct TrainingSequences {
    /// History items the generator reads; a window is one more.
    let maxHistory: Int
    /// Items kept per user (the oldest are dropped beyond).
    let cap: Int
    private(set) var items: [UInt64: [UInt64]] = [:]
    private(set) var times: [UInt64: [Int64]] = [:]
    /// The user of each positive, in arrival order (the newest `capacity`).
    private var positives: ReplayBuffer<UInt64>
    private var pending: [[[UInt64]]] = []
    private var pendingGaps: [[[Int32]]] = []
    static let bucket = 8

    init(maxHistory: Int, cap: Int, capacity: Int) {
        precondition(maxHistory >= 1 && cap > maxHistory, "a user keeps more items than one window")
        (self.maxHistory, self.cap) = (maxHistory, cap)
        positives = ReplayBuffer(capacity: capacity)
    }

    /// Positives seen (the ones dropped from the buffer included).
    var positiveCount: Int { positives.added }

    /// Adds a positive of `user` (arrival order).
    mutating func append(user: UInt64, item: UInt64, timeMs: Int64) {
        items[user, default: []].append(item)
        times[user, default: []].append(timeMs)
        if items[user]!.count > cap + cap / 4 {
            items[user]!.removeFirst(items[user]!.count - cap)
            times[user]!.removeFirst(times[user]!.count - cap)
        }
        positives.append(user)
    }

    /// The user's positives so far (oldest first) and their times in milliseconds.
    func history(of user: UInt64) -> (items: [UInt64], times: [Int64]) { (items[user] ?? [], times[user] ?? []) }

    /// The next batch of windows (each oldest first, at least two coded items) and their `TimeGap`
    /// buckets; empty while no user has two coded positives.
    mutating func batch(_ count: Int, freshShare: Double, freshWindow: Int, codedBy tokenizer: ItemTokenizer,
                        rng: inout SplitMix64) -> (sequences: [[UInt64]], gaps: [[Int32]]) {
        if pending.isEmpty { refill(count, freshShare: freshShare, freshWindow: freshWindow, tokenizer: tokenizer, rng: &rng) }
        guard !pending.isEmpty else { return ([], []) }
        return (pending.removeLast(), pendingGaps.removeLast())
    }

    private mutating func refill(_ count: Int, freshShare: Double, freshWindow: Int, tokenizer: ItemTokenizer, rng: inout SplitMix64) {
        guard positives.count > 0 else { return }
        let fresh = Int(Double(count) * freshShare)
        var drawn: [(items: [UInt64], gaps: [Int32])] = []
        for _ in 0..<(count * Self.bucket) where drawn.count < count * Self.bucket {
            let isFresh = drawn.count % count < fresh
            let user = isFresh ? positives.newest(Int(rng.next() % UInt64(min(freshWindow, positives.count))))
                : positives.newest(Int(rng.next() % UInt64(positives.count)))
            let all = items[user]!
            let (coded, gaps) = tokenizer.coded(all, gaps: TimeGap.buckets(timestamps: times[user]!.map { $0 / 1000 }))
            guard coded.count >= 2, let gaps else { continue }
            let windows = max(1, (coded.count - 1 + maxHistory - 1) / maxHistory)
            let j = isFresh ? 0 : Int(rng.next() % UInt64(windows))
            let end = coded.count - j * maxHistory, start = max(0, end - maxHistory - 1)
            guard end - start >= 2 else { continue }
            drawn.append((Array(coded[start..<end]), Array(gaps[start..<end])))
        }
        guard !drawn.isEmpty else { return }
        drawn.sort { $0.items.count < $1.items.count }
        var batches: [([[UInt64]], [[Int32]])] = stride(from: 0, to: drawn.count, by: count).map { b in
            let part = drawn[b..<min(drawn.count, b + count)]
            return (part.map(\.items), part.map(\.gaps))
        }
        batches.shuffle(using: &rng)
        (pending, pendingGaps) = (batches.map(\.0), batches.map(\.1))
    }
}
