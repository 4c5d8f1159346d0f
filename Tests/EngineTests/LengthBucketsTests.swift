import Engine
import Testing

@Suite struct LengthBucketsTests {
    /// Every sequence once per epoch; within a window, batches of neighbouring lengths.
    @Test func everySequenceOncePerEpochInBatchesOfSimilarLength() {
        var rng = SplitMix64(seed: 5)
        let lengths = (0..<1000).map { _ in 2 + Int(rng.next() % 200) }
        var buckets = LengthBuckets(lengths: lengths, batch: 10, window: 10, seed: 1)
        #expect(buckets.batchesPerEpoch == 100 && LengthBuckets(lengths: lengths, batch: 7, window: 3, seed: 1).batchesPerEpoch == 143)
        for epoch in 0..<2 {
            var seen: [Int] = []
            var spread = 0
            for _ in 0..<100 {
                let b = buckets.next()
                #expect(buckets.epoch == epoch && b.count == 10)
                seen += b
                spread += b.map { lengths[$0] }.max()! - b.map { lengths[$0] }.min()!
            }
            #expect(seen.sorted() == Array(0..<1000))
            // Random batches of 10 would spread over about 160 lengths on average.
            #expect(spread / 100 < 40, "mean spread \(spread / 100)")
        }
        #expect(buckets.next().count == 10 && buckets.epoch == 2)
    }
}
