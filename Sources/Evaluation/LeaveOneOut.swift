import Foundation
import Models

/// Leave-one-out split of each user's time-ordered history: the last item is the test target, the one
/// before it the validation target, the rest is training. Users with fewer than 3 items are left out.
public struct LeaveOneOut: Sendable {
    public struct User: Sendable {
        /// Index of the user in the log.
        public let index: Int
        public let train: [Int32]
        public let validation: Int32
        public let test: Int32
        /// Each item's `TimeGap` bucket, over the whole history (training items, validation, test); empty
        /// without timestamps.
        public let gaps: [Int32]

        /// The gap buckets of the first `count` items (a history of this user's), nil without timestamps.
        public func gaps(ofFirst count: Int) -> [Int32]? { gaps.isEmpty ? nil : Array(gaps.prefix(count)) }
    }

    public let users: [User]

    /// `timestamps` (seconds, one per item of each history) give the users' gaps.
    public init(histories: [[Int32]], timestamps: [[Int64]]? = nil) {
        precondition(timestamps.map { $0.count == histories.count && zip($0, histories).allSatisfy { $0.count == $1.count } } ?? true,
                     "one timestamp per item")
        users = histories.enumerated().filter { $0.element.count >= 3 }.map { i, h in
            User(index: i, train: Array(h.dropLast(2)), validation: h[h.count - 2], test: h[h.count - 1],
                 gaps: timestamps.map { TimeGap.buckets(timestamps: $0[i]) } ?? [])
        }
    }
}

/// Hit rate and NDCG at several cut-offs, accumulated over users from the rank (1-based) of each
/// user's target among all items, or nil if it was not ranked at all.
public struct RankingMetrics: Sendable, CustomStringConvertible {
    public static let cutoffs = [1, 5, 10, 50]
    public private(set) var users = 0
    private var hits = [Int: Int]()
    private var dcg = [Int: Double]()

    public init() {}

    public mutating func add(rank: Int?) {
        users += 1
        guard let rank else { return }
        for k in Self.cutoffs where rank <= k {
            hits[k, default: 0] += 1
            dcg[k, default: 0] += 1 / log2(Double(rank) + 1)
        }
    }

    /// Adds another set of users' ranks.
    public mutating func merge(_ other: RankingMetrics) {
        users += other.users
        hits.merge(other.hits, uniquingKeysWith: +)
        dcg.merge(other.dcg, uniquingKeysWith: +)
    }

    public func hitRate(_ k: Int) -> Double { Double(hits[k] ?? 0) / Double(max(users, 1)) }
    /// With one relevant item, the ideal DCG is 1, so NDCG is the mean DCG.
    public func ndcg(_ k: Int) -> Double { (dcg[k] ?? 0) / Double(max(users, 1)) }

    public var description: String {
        String(format: "HR@1 %.4f  HR@5 %.4f  HR@10 %.4f  HR@50 %.4f  NDCG@5 %.4f  NDCG@10 %.4f  NDCG@50 %.4f",
               hitRate(1), hitRate(5), hitRate(10), hitRate(50), ndcg(5), ndcg(10), ndcg(50))
    }
}
