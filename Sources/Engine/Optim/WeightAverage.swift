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

    /// Folds the current values into the average.
    public func update() {
        // average: [count] <- decay * average + (1 - decay) * value
        for (p, a) in zip(parameters, averages) {
            let (v, s) = (p.data, a.data)
            for i in 0..<p.count { s[i] += (1 - decay) * (v[i] - s[i]) }
        }
    }

    /// Exchanges the parameters' values with the averages (twice: as before).
    public func swap() {
        for (p, a) in zip(parameters, averages) {
            let (x, y) = (p.data, a.data)
            for i in 0..<p.count { (x[i], y[i]) = (y[i], x[i]) }
        }
    }
}
