import Engine
import SemanticIDs
import Testing

/// `groups` planted clusters of `size` points each in `d` dimensions: centres far apart, small noise.
func planted(groups: Int, size: Int, d: Int, seed: UInt64, spread: Float = 0.05) -> (values: [Float], labels: [Int]) {
    var rng = SplitMix64(seed: seed)
    let centres = (0..<(groups * d)).map { _ in rng.nextGaussian() * 3 }
    var values: [Float] = []
    var labels: [Int] = []
    for i in 0..<(groups * size) {
        let g = (i * 7919) % groups  // interleaved, so order says nothing
        labels.append(g)
        for t in 0..<d { values.append(centres[g * d + t] + rng.nextGaussian() * spread) }
    }
    return (values, labels)
}

@Suite struct KMeansTests {
    @Test(arguments: [KMeans.Mode.balanced, .plain])
    func recoversPlantedClusters(mode: KMeans.Mode) {
        let (x, labels) = planted(groups: 8, size: 40, d: 16, seed: 1)
        let result = KMeans(clusters: 8, mode: mode, seed: 3).fit(x, rows: 320, dimension: 16)
        // Each found cluster holds exactly one planted group.
        var groupOf: [Int32: Int] = [:]
        for (i, c) in result.assignment.enumerated() {
            if let g = groupOf[c] { #expect(g == labels[i]) } else { groupOf[c] = labels[i] }
        }
        #expect(Set(groupOf.values).count == 8)
        #expect(result.sizes(clusters: 8) == [Int](repeating: 40, count: 8))
    }

    @Test func balancedSizesAreExactAndTheLastTakesTheRemainder() {
        var rng = SplitMix64(seed: 5)
        // Skewed data: most points near one spot, which plain k-means would give to few clusters.
        let x: [Float] = (0..<(103 * 4)).map { i in rng.nextGaussian() * (i < 300 ? 0.1 : 5) }
        let balanced = KMeans(clusters: 10, mode: .balanced, seed: 2).fit(x, rows: 103, dimension: 4)
        #expect(balanced.sizes(clusters: 10) == [10, 10, 10, 10, 10, 10, 10, 10, 10, 13])
        #expect(KMeans.balancedSizes(rows: 103, clusters: 10) == [10, 10, 10, 10, 10, 10, 10, 10, 10, 13])
        let plain = KMeans(clusters: 10, mode: .plain, seed: 2).fit(x, rows: 103, dimension: 4)
        #expect(plain.objective <= balanced.objective)  // balance has a price in distortion
    }

    @Test func seededRunsAreIdentical() {
        let (x, _) = planted(groups: 5, size: 30, d: 8, seed: 7, spread: 1)
        let a = KMeans(clusters: 6, seed: 11).fit(x, rows: 150, dimension: 8)
        let b = KMeans(clusters: 6, seed: 11).fit(x, rows: 150, dimension: 8)
        #expect(a.assignment == b.assignment && a.centroids == b.centroids)
    }

    @Test func balancedObjectiveNeverRisesAcrossIterations() {
        let (x, _) = planted(groups: 6, size: 50, d: 8, seed: 9, spread: 2)
        var previous = Double.infinity
        for iterations in 1...6 {
            var kmeans = KMeans(clusters: 7, seed: 4)
            kmeans.maxIterations = iterations
            kmeans.tolerance = 0
            let objective = kmeans.fit(x, rows: 300, dimension: 8).objective
            #expect(objective <= previous + 1e-6)
            previous = objective
        }
    }
}
