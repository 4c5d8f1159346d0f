import Engine

/// The named parameters of a model, in creation order, initialised from one seed.
public final class ParameterStore {
    public private(set) var tensors: [Tensor] = []
    private var rng: SplitMix64

    public init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// A parameter drawn from N(0, std^2).
    public func normal(_ name: String, _ shape: [Int], std: Float) -> Tensor {
        let t = Tensor(shape: shape, requiresGrad: true, name: name)
        for i in 0..<t.count { t[i] = rng.nextGaussian() * std }
        tensors.append(t)
        return t
    }

    /// A parameter filled with `value` (norm weights start at 1).
    public func constant(_ name: String, _ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor(shape: shape, requiresGrad: true, name: name)
        t.fill(value)
        tensors.append(t)
        return t
    }

    public var count: Int { tensors.reduce(0) { $0 + $1.count } }

    /// The parameters by name (what `load` and `check` take), sharing storage with the model.
    public var named: [String: Tensor] { Dictionary(uniqueKeysWithValues: tensors.map { ($0.name!, $0) }) }

    /// Throws unless `loaded` holds every parameter with its shape.
    public func check(_ loaded: [String: Tensor]) throws(CheckpointError) {
        for t in tensors {
            guard let name = t.name, let source = loaded[name] else { throw CheckpointError("checkpoint has no parameter \(t.name ?? "?")") }
            guard source.shape == t.shape else { throw CheckpointError("parameter \(name) has shape \(source.shape) in the checkpoint, \(t.shape) in the model") }
        }
    }

    /// Copies values from loaded tensors, matched by name; all or nothing.
    public func load(_ loaded: [String: Tensor]) throws(CheckpointError) {
        try check(loaded)
        for t in tensors { t.data.update(from: loaded[t.name!]!.data, count: t.count) }
    }

    /// Parameters and the optimiser's moments and step from one checkpoint's tensors. Everything is
    /// checked before anything is copied, so a refused checkpoint changes nothing.
    public func restore(_ loaded: [String: Tensor], optimizer: AdamW, step: Int) throws {
        try check(loaded)
        try optimizer.check(loaded)
        try load(loaded)
        try optimizer.restore(step: step, tensors: loaded)
    }
}
