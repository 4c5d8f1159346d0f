import Engine

/// Items scattered around 4096 random centres (a few thousand "topics"), for benchmarks.
public enum SyntheticVectors {
    public static func make(count: Int, dimension d: Int, seed: UInt64) -> ItemVectors {
        var rng = SplitMix64(seed: seed)
        let centres = (0..<(4096 * d)).map { _ in rng.nextGaussian() }
        var values = [Float](repeating: 0, count: count * d)
        for i in 0..<count {
            let c = Int(rng.next() % 4096)
            for t in 0..<d { values[i * d + t] = centres[c * d + t] + 0.5 * rng.nextGaussian() }
        }
        return ItemVectors(ids: (0..<UInt64(count)).map { $0 }, dimension: d, values: values)
    }
}
