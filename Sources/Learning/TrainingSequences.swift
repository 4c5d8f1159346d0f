import Engine
import Generator
import Models
import SemanticIDs

/// Each user's positive items in arrival order with their times: what whole-sequence training of the
/// lazy generator learns from (`GeneratorTrainer.sequenceStep`), as `eval` trains it, adapted to a log
/// that keeps growing. A batch mixes fresh and replayed windows: up to a `freshShare` of its windows are
/// the newest windows of users with positives no batch has taken since they arrived (the newest such
/// users first, each taken once, at most `freshUsers` of them waiting), the rest are a random window (of
/// the cut `TrainingWindows.all` makes) of the user of a positive drawn from the whole log, so a user
/// weighs by their positives and every item is a target about equally often. So a live stream's new
/// positives are learned from soon after they arrive, and a log read in bulk is trained on as `eval`
/// trains (no few users' windows repeated). Windows are drawn `bucket` batches at a time and sorted by
/// length into batches, so little is padded.
struct TrainingSequences {
    /// History items the generator reads; a window is one more.
    let maxHistory: Int
    /// Items kept per user (the oldest are dropped beyond).
    let cap: Int
    private(set) var items: [UInt64: [UInt64]] = [:]
    private(set) var times: [UInt64: [Int64]] = [:]
    /// The user of each positive, in arrival order (the newest `capacity`).
    private var positives: ReplayBuffer<UInt64>
    /// Users with positives not yet taken into a batch, oldest first (at most twice `freshUsers`; the
    /// oldest beyond `freshUsers` are dropped), and the same as a set.
    private var fresh: [UInt64] = []
    private var waiting: Set<UInt64> = []
    let freshUsers: Int
    /// Batches drawn and not yet taken, by the codebook version that coded them (a rebuild's successor
    /// trains beside the serving generator).
    private var pending: [UInt32: [(sequences: [[UInt64]], gaps: [[Int32]])]] = [:]
    static let bucket = 8

    init(maxHistory: Int, cap: Int, capacity: Int, freshUsers: Int) {
        precondition(maxHistory >= 1 && cap > maxHistory, "a user keeps more items than one window")
        precondition(freshUsers >= 1, "room for one fresh user")
        (self.maxHistory, self.cap, self.freshUsers) = (maxHistory, cap, freshUsers)
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
        if waiting.insert(user).inserted { fresh.append(user) }
        if fresh.count > 2 * freshUsers {
            for dropped in fresh.prefix(fresh.count - freshUsers) { waiting.remove(dropped) }
            fresh.removeFirst(fresh.count - freshUsers)
        }
    }

    /// Users waiting for their fresh positives to be trained on.
    var freshCount: Int { fresh.count }

    /// The user's positives so far (oldest first) and their times in milliseconds.
    func history(of user: UInt64) -> (items: [UInt64], times: [Int64]) { (items[user] ?? [], times[user] ?? []) }

    /// The next batch of windows (each oldest first, at least two coded items) and their `TimeGap`
    /// buckets; empty while no user has two coded positives.
    mutating func batch(_ count: Int, freshShare: Double, codedBy tokenizer: ItemTokenizer,
                        rng: inout SplitMix64) -> (sequences: [[UInt64]], gaps: [[Int32]]) {
        let version = tokenizer.codebook.version
        if pending[version]?.isEmpty ?? true {
            pending[version] = refill(count, freshShare: freshShare, tokenizer: tokenizer, rng: &rng)
        }
        return pending[version]?.popLast() ?? ([], [])
    }

    /// Drops the batches drawn for a codebook version no generator trains with any more.
    mutating func forget(codebook version: UInt32) { pending[version] = nil }

    private mutating func refill(_ count: Int, freshShare: Double, tokenizer: ItemTokenizer,
                                 rng: inout SplitMix64) -> [(sequences: [[UInt64]], gaps: [[Int32]])] {
        guard positives.count > 0 else { return [] }
        let freshPerBatch = Int(Double(count) * freshShare)
        var drawn: [(items: [UInt64], gaps: [Int32])] = []
        for _ in 0..<(count * Self.bucket) where drawn.count < count * Self.bucket {
            var isFresh = false, user = UInt64(0)
            if drawn.count % count < freshPerBatch, let newest = fresh.popLast() {
                (isFresh, user) = (true, newest)
                waiting.remove(newest)
            } else {
                user = positives.newest(Int(rng.next() % UInt64(positives.count)))
            }
            let all = items[user]!
            let (coded, gaps) = tokenizer.coded(all, gaps: TimeGap.buckets(timestamps: times[user]!.map { $0 / 1000 }))
            guard coded.count >= 2, let gaps else { continue }
            let windows = max(1, (coded.count - 1 + maxHistory - 1) / maxHistory)
            let j = isFresh ? 0 : Int(rng.next() % UInt64(windows))
            let end = coded.count - j * maxHistory, start = max(0, end - maxHistory - 1)
            guard end - start >= 2 else { continue }
            drawn.append((Array(coded[start..<end]), Array(gaps[start..<end])))
        }
        drawn.sort { $0.items.count < $1.items.count }
        var batches = stride(from: 0, to: drawn.count, by: count).map { b in
            let part = drawn[b..<min(drawn.count, b + count)]
            return (sequences: part.map(\.items), gaps: part.map(\.gaps))
        }
        batches.shuffle(using: &rng)
        return batches
    }
}
