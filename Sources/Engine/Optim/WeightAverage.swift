/// An exponential moving average of a model's parameters (Polyak averaging, as in "EMA" training):
/// after each optimizer step, `average = decay * average + (1 - decay) * value`. The average starts at
/// the values it was made from; `swap()` exchanges values and averages, so the model can be measured or
/// saved with the average and swapped back to go on training.
public final class WeightAverage {
    public let parameters: [Tensor]
    /// The average's weight on its previous value, per step (0.999: about the last 1,000 steps).
    public let decay: Float
    let averages: [Tensor]

    public init(parameters: [Tensor], decay: Float) {
        precondition((0..<1).contains(decay), "WeightAverage: decay must be in [0, 1)")
        self.parameters = parameters
        self.decay = decay
        averages = parameters.map { Tensor(shape: $0.shape, values: $0.values) }
    }

    /// Updates folded in since the start (or the last `reset`).
    public private(set) var updates = 0

    /// Folds the current values into the average. Until 1 / (1 - decay) updates have been folded in, the
    /// average is their plain mean (the effective decay is 1 - 1 / (n + 1)), so early averages hold the
    /// trained weights rather than the starting ones.
    public func update() {
        let d = min(decay, 1 - 1 / Float(updates + 1))
        updates += 1
        // average: [count] <- d * average + (1 - d) * value
        for (p, a) in zip(parameters, averages) {
            let (v, s) = (p.data, a.data)
            for i in 0..<p.count { s[i] += (1 - d) * (v[i] - s[i]) }
        }
    }

    /// Starts the average again from the current values (after they were replaced: a checkpoint resumed,
    /// another version adopted).
    public func reset() {
        for (p, a) in zip(parameters, averages) { a.data.update(from: p.data, count: p.count) }
        updates = 0
    }

    /// Exchanges the parameters' values with the averages (twice: as before).
    public func swap() {
        for (p, a) in zip(parameters, averages) {
            let (x, y) = (p.data, a.data)
            for i in 0..<p.count { (x[i], y[i]) = (y[i], x[i]) }
        }
    }
}
