import Engine
import Models

/// How the lazy generator is trained: the settings chosen on ML-1M's validation items (README, "The
/// generator and its offline evaluation"). `onerec eval` takes its defaults from here and the daemon's
/// learner trains with them, so what `eval` measures is what the daemon serves.
public struct GeneratorRecipe: Sendable, Equatable {
    /// Semantic-ID levels (2 learned as well as 3 at two thirds of the decoder tokens).
    public var levels = 2
    /// History items the generator reads (200 beat 100 and 50).
    public var maxHistory = 200
    /// Decoder layers (1 beat 2 at equal time).
    public var decoderLayers = 1
    /// Dropout (0.2 beat 0.1 and 0.3 over the longer schedule).
    public var dropout: Float = 0.2
    /// Each history item adds an embedding of its time gap to the item before it.
    public var timeGaps = true
    /// Users' sequences per step.
    public var batch = 16
    /// Items of each position's target block (1: the next item, as SASRec learns).
    public var targetItems = 1
    /// Peak learning rate, reached after `warmupSteps`, then cosine decay to `floor` of it at `decaySteps`;
    /// it stays at the floor after that (an endless run keeps learning at the floor).
    public var learningRate: Float = 4e-3
    public var warmupSteps = 700
    public var decaySteps = 14_000
    public var floor: Float = 0.1
    /// Decay per step of the exponential moving average of the weights that is measured and served (0.999:
    /// about the last 1,000 steps).
    public var average: Float = 0.999
    /// `eval`: items with at least this many training interactions get an item-ID row (the daemon gives
    /// rows in coding order instead, `LearnerConfig.itemIDs`).
    public var itemIDMinimum = 5

    public init() {}

    public var schedule: LearningRateSchedule {
        .warmupCosine(peak: learningRate, warmup: warmupSteps, total: decaySteps, floor: floor)
    }

    /// A lazy preset with the recipe's layers, dropout and time gaps; nil for an unknown preset.
    public func model(preset: String) -> Seq2Seq.Config? {
        guard var c = Seq2Seq.Config.preset(preset, architecture: .lazy) else { return nil }
        (c.decoderLayers, c.dropout, c.timeGaps) = (decoderLayers, dropout, timeGaps)
        return c
    }
}
