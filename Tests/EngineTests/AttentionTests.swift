import Engine
import EngineSupport
import Testing

@Suite struct AttentionTests {
    @Test func selfAttentionGradients() {
        checkGradients([randomTensor([2, 4, 6], seed: 1), randomTensor([2, 4, 6], seed: 2), randomTensor([2, 4, 6], seed: 3)]) { g, t in
            g.attention(q: t[0], k: t[1], v: t[2], heads: 2)
        }
    }

    @Test func causalCrossAndPaddedGradients() {
        checkGradients([randomTensor([2, 4, 6], seed: 4), randomTensor([2, 4, 6], seed: 5), randomTensor([2, 4, 6], seed: 6)]) { g, t in
            g.attention(q: t[0], k: t[1], v: t[2], heads: 3, mask: AttentionMask(causal: true))
        }
        // Cross-attention: 3 queries over 5 keys, the second sequence padded after 2 keys.
        let valid: [UInt8] = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
        checkGradients([randomTensor([2, 3, 4], seed: 7), randomTensor([2, 5, 4], seed: 8), randomTensor([2, 5, 4], seed: 9)]) { g, t in
            g.attention(q: t[0], k: t[1], v: t[2], heads: 2, mask: AttentionMask(keyValid: valid))
        }
    }

    /// Sequence training's cross-attention: 6 queries in blocks of 2 over 3 context keys, the first key of
    /// the second row padded; block n sees keys 0...n.
    @Test func blockCausalGradientsAndVisibility() {
        let valid: [UInt8] = [1, 1, 1, 0, 1, 1]
        let mask = AttentionMask(keyValid: valid, queryBlock: 2)
        checkGradients([randomTensor([2, 6, 4], seed: 17), randomTensor([2, 3, 4], seed: 18), randomTensor([2, 3, 4], seed: 19)]) { g, t in
            g.attention(q: t[0], k: t[1], v: t[2], heads: 2, mask: mask)
        }
        // With a score bias (the lazy decoder's recency bias), its gradient too.
        checkGradients([randomTensor([2, 6, 4], seed: 23), randomTensor([2, 3, 4], seed: 24), randomTensor([2, 3, 4], seed: 25),
                        randomTensor([2, 6, 3], seed: 26)]) { g, t in
            g.attention(q: t[0], k: t[1], v: t[2], heads: 2, mask: mask, bias: t[3])
        }
        // A query of block n reads exactly what it reads with the context cut after key n.
        let g = Graph(training: false)
        let q = randomTensor([1, 6, 4], seed: 20), k = randomTensor([1, 3, 4], seed: 21), v = randomTensor([1, 3, 4], seed: 22)
        let blocked = g.attention(q: q, k: k, v: v, heads: 2, mask: AttentionMask(queryBlock: 2)).values
        for n in 0..<3 {
            let cut = g.attention(q: g.slice(q, axis: 1, (2 * n)..<(2 * n + 2)), k: g.slice(k, axis: 1, 0..<(n + 1)),
                                  v: g.slice(v, axis: 1, 0..<(n + 1)), heads: 2).values
            for (a, b) in zip(blocked[(8 * n)..<(8 * n + 8)], cut) { #expect(abs(a - b) < 1e-6) }
        }
    }

    @Test func relativePositionBiasGradients() {
        let ids = relativePositionBuckets(queries: 4, keys: 4, bidirectional: true, buckets: 8, maxDistance: 16)
        checkGradients([randomTensor([1, 4, 4], seed: 10), randomTensor([1, 4, 4], seed: 11), randomTensor([1, 4, 4], seed: 12),
                        randomTensor([8, 2], seed: 13)]) { g, t in
            let bias = g.relativePositionBias(t[3], buckets: ids, queries: 4, keys: 4)
            return g.attention(q: t[0], k: t[1], v: t[2], heads: 2, mask: AttentionMask(causal: true), bias: bias)
        }
    }

    @Test func paddedKeysGetNoWeightAndMatchAShorterSequence() {
        let g = Graph(training: false)
        let q = randomTensor([1, 2, 4], seed: 14)
        let k = randomTensor([1, 3, 4], seed: 15)
        let v = randomTensor([1, 3, 4], seed: 16)
        let padded = g.attention(q: q, k: k, v: v, heads: 1, mask: AttentionMask(keyValid: [1, 1, 0])).values
        let shorter = g.attention(q: q, k: g.slice(k, axis: 1, 0..<2), v: g.slice(v, axis: 1, 0..<2), heads: 1).values
        for (a, b) in zip(padded, shorter) { #expect(abs(a - b) < 1e-6) }
    }

    @Test func bucketsFollowT5() {
        // Bidirectional, 32 buckets, max distance 128, as in T5's _relative_position_bucket.
        let row = relativePositionBuckets(queries: 1, keys: 200, queryOffset: 100, bidirectional: true)
        #expect(row[100] == 0)           // same position
        #expect(row[101] == 17)          // one to the right: second half of the buckets
        #expect(row[99] == 1)            // one to the left
        // 100 to the left: 8 + floor(log(100/8) / log(128/8) * 8) = 8 + 7 = 15.
        #expect(row[0] == 15)
        // 99 to the right: 16 + 8 + floor(log(99/8) / log(16) * 8) = 31.
        #expect(row[199] == 31)
        #expect(row[100 - 7] == 7 && row[100 - 8] == 8)  // exact up to 7, logarithmic from 8
        let decoder = relativePositionBuckets(queries: 3, keys: 3, bidirectional: false)
        #expect(decoder == [0, 0, 0, 1, 0, 0, 2, 1, 0])
    }
}
