import Engine
import Testing

/// A tensor of values drawn uniformly from [-scale, scale) with a fixed seed.
public func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1, requiresGrad: Bool = true) -> Tensor {
    var rng = SplitMix64(seed: seed)
    let t = Tensor(shape: shape, requiresGrad: requiresGrad)
    for i in 0..<t.count { t[i] = (rng.nextFloat() * 2 - 1) * scale }
    return t
}

/// Compares the gradients `f` back-propagates into `inputs` with central finite differences of the
/// projection L = sum(out * R) for a fixed random R, in Double. For each input the relative error
/// ||analytic - numeric|| / max(||analytic||, ||numeric||) over up to `samples` coordinates must stay
/// under `tolerance`. `f` must be deterministic (a fresh graph with the same seed is used each time).
public func checkGradients(
    _ inputs: [Tensor], eps: Float = 1e-2, tolerance: Double = 1e-2, samples: Int = 48,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: (Graph, [Tensor]) -> Tensor
) {
    let graph = Graph(training: true, seed: 7)
    let out = f(graph, inputs)
    var rng = SplitMix64(seed: 99)
    let projection = (0..<out.count).map { _ in rng.nextFloat() * 2 - 1 }
    for x in inputs { x.releaseGrad() }
    graph.backward(out, seed: projection)

    func loss() -> Double {
        let g = Graph(training: true, seed: 7)
        let y = f(g, inputs)
        var s = 0.0
        for i in 0..<y.count { s += Double(y[i]) * Double(projection[i]) }
        return s
    }

    for (which, x) in inputs.enumerated() where x.requiresGrad {
        let analytic = x.gradValues
        var pick = SplitMix64(seed: UInt64(which) + 1)
        let indices = x.count <= samples ? Array(0..<x.count) : (0..<samples).map { _ in Int(pick.next() % UInt64(x.count)) }
        var diff = 0.0, normA = 0.0, normN = 0.0
        var worst = (index: -1, analytic: 0.0, numeric: 0.0)
        for i in indices {
            let saved = x[i]
            x[i] = saved + eps
            let plus = loss()
            x[i] = saved - eps
            let minus = loss()
            x[i] = saved
            let numeric = (plus - minus) / (2 * Double(eps))
            let a = Double(analytic[i])
            diff += (a - numeric) * (a - numeric)
            normA += a * a
            normN += numeric * numeric
            if worst.index < 0 || abs(a - numeric) > abs(worst.analytic - worst.numeric) { worst = (i, a, numeric) }
        }
        let relative = diff.squareRoot() / max(normA.squareRoot(), normN.squareRoot(), 1e-8)
        #expect(relative < tolerance,
                "input \(which) \(x.shape): relative error \(relative); worst at \(worst.index): analytic \(worst.analytic) numeric \(worst.numeric)",
                sourceLocation: sourceLocation)
    }
}
