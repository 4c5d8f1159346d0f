import Engine
@testable import SemanticIDs
import Testing

@Suite struct BehaviourVectorsTests {
    func cosine(_ v: [Float], _ a: Int, _ b: Int, _ d: Int) -> Float {
        var (dot, na, nb): (Float, Float, Float) = (0, 0, 0)
        for t in 0..<d {
            dot += v[a * d + t] * v[b * d + t]
            na += v[a * d + t] * v[a * d + t]
            nb += v[b * d + t] * v[b * d + t]
        }
        return dot / (na * nb).squareRoot()
    }

    @Test func itemsWatchedTogetherGetSimilarVectors() {
        // Two audiences: users of the first watch items 0-14 in random order, of the second 15-29.
        var rng = SplitMix64(seed: 3)
        let histories: [[Int32]] = (0..<200).map { u in
            let base: Int32 = u % 2 == 0 ? 0 : 15
            return (0..<12).map { _ in base + Int32(rng.next() % 15) }
        }
        var config = BehaviourVectors.Config()
        config.dimension = 8
        let v = BehaviourVectors.compute(histories: histories, items: 30, config: config)
        var within: Float = 0, across: Float = 0
        for a in 0..<30 {
            for b in 0..<30 where a != b {
                if (a < 15) == (b < 15) { within += cosine(v, a, b, 8) } else { across += cosine(v, a, b, 8) }
            }
        }
        within /= Float(2 * 15 * 14)
        across /= Float(2 * 15 * 15)
        #expect(within > 0.5 && within > across + 0.5, "within \(within), across \(across)")
    }

    @Test func jacobiFindsTheEigenpairs() {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1.
        let (values, vectors) = BehaviourVectors.symmetricEigen([2, 1, 1, 2], size: 2)
        #expect(Set(values.map { ($0 * 1e6).rounded() / 1e6 }) == [3, 1])
        let i = values[0] > values[1] ? 0 : 1
        #expect(abs(abs(vectors[0 * 2 + i]) - 0.5.squareRoot()) < 1e-9)
    }

    @Test func gramSchmidtGivesOrthonormalColumns() {
        var rng = SplitMix64(seed: 1)
        var x = (0..<(50 * 4)).map { _ in rng.nextGaussian() }
        BehaviourVectors.orthonormalize(&x, rows: 50, columns: 4)
        for p in 0..<4 {
            for q in 0..<4 {
                var dot: Float = 0
                for i in 0..<50 { dot += x[i * 4 + p] * x[i * 4 + q] }
                #expect(abs(dot - (p == q ? 1 : 0)) < 1e-4)
            }
        }
    }
}
