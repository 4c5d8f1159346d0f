/// Epochs of batches over sequences of different lengths, with little padding: each epoch shuffles the
/// sequences, sorts each window of `window` batches by length, cuts it into batches of similar lengths
/// and shuffles the batches. Every sequence appears once per epoch.
public struct LengthBuckets: Sendable {
    public let lengths: [Int]
    public let batch: Int
    /// Batches sorted together (a larger window pads less and mixes lengths less).
    public let window: Int
    /// The epoch the last batch came from (0 first).
    public private(set) var epoch = -1
    private var rng: SplitMix64
    private var pending: [[Int]] = []

    public init(lengths: [Int], batch: Int, window: Int = 16, seed: UInt64) {
        precondition(!lengths.isEmpty && batch >= 1 && window >= 1, "LengthBuckets needs sequences and positive sizes")
        self.lengths = lengths
        self.batch = batch
        self.window = window
        rng = SplitMix64(seed: seed &+ 0x6c65_6e67)
    }

    /// Batches in an epoch (every window but the last holds a whole number of batches).
    public var batchesPerEpoch: Int { (lengths.count + batch - 1) / batch }

    /// The next batch's sequence indices.
    public mutating func next() -> [Int] {
        if pending.isEmpty { refill() }
        return pending.removeLast()
    }

    private mutating func refill() {
        epoch += 1
        var order = Array(lengths.indices)
        order.shuffle(using: &rng)
        var batches: [[Int]] = []
        for start in stride(from: 0, to: order.count, by: batch * window) {
            let sorted = order[start..<min(order.count, start + batch * window)].sorted { lengths[$0] < lengths[$1] }
            for b in stride(from: 0, to: sorted.count, by: batch) { batches.append(Array(sorted[b..<min(sorted.count, b + batch)])) }
        }
        batches.shuffle(using: &rng)
        pending = batches
    }
}
