/// The lazy context's time feature: each history item's gap to the item before it, in log2 buckets, so the
/// context tells a burst of items rated within a minute from a return after weeks.
public enum TimeGap {
    /// Rows of the gap embedding: 0 for an item with no earlier one, 1 for the same second (or a clock that
    /// went back), 2 + floor(log2(gap)) for gaps from 1 s, the last row for 2^29 s (17 years) and more.
    public static let buckets = 32

    /// The bucket of a gap in seconds.
    public static func bucket(seconds gap: Int64) -> Int32 {
        guard gap > 0 else { return 1 }
        return Int32(min(buckets - 1, 2 + (63 - gap.leadingZeroBitCount)))
    }

    /// Each item's bucket in a history's timestamps (seconds, oldest first).
    public static func buckets(timestamps: [Int64]) -> [Int32] {
        timestamps.indices.map { $0 == 0 ? 0 : bucket(seconds: timestamps[$0] - timestamps[$0 - 1]) }
    }
}
