import Alignment
import Engine
import Generator
import Models

/// The models the learner trains and their optimisers: the generator (next-token loss on replayed
/// sequences or sessions, with a moving average of its weights for sequences) and the reward model (BCE on logged outcomes, one step every `rewardEvery` generator steps).
final class OnlineTrainer {
    /// What a step did, for the status page's loss charts.
    struct Step {
        /// Generator steps done, this one included.
        var done: Int
        /// The generator's loss, smoothed over about 50 steps.
        var smoothedLoss: Double
        /// The reward model's loss, when it took a step too.
        var rewardLoss: Float?
    }

    let generator: GeneratorTrainer
    /// The moving average of the generator's weights that is published (sequence training), nil to
    /// publish the weights as trained.
    let average: WeightAverage?
    let reward: RewardModel
    let rewardOptimizer: AdamW
    private let rewardEvery: Int, seed: UInt64
    /// The generator's loss, smoothed over about 50 steps (nil before the first).
    private(set) var smoothedLoss: Double?

    /// Fresh models for `tokenizer`'s items; reward-model item vectors start from the content embeddings
    /// when those have the model's width. With `sharing`, a fresh generator beside `sharing`'s reward
    /// model and its optimiser (a rebuild's successor: the reward model does not depend on the codebook).
    init(config: LearnerConfig, tokenizer: ItemTokenizer, rows: ItemRows, embeddings: [UInt64: [Float]], sharing: OnlineTrainer? = nil) {
        let mc = config.generator.fitted(to: tokenizer, maxHistory: config.maxHistory)
        var oc = AdamW.Config()
        oc.learningRate = config.learningRate
        generator = GeneratorTrainer(model: Seq2Seq(config: mc, seed: config.seed), tokenizer: tokenizer, maxHistory: config.maxHistory,
                                     sessionItems: config.targetItems, optimizer: oc)
        average = config.trainsSequences && config.recipe.average > 0
            ? WeightAverage(parameters: generator.model.parameters.tensors, decay: config.recipe.average) : nil
        (rewardEvery, seed) = (config.rewardEvery, config.seed)
        if let sharing {
            (reward, rewardOptimizer) = (sharing.reward, sharing.rewardOptimizer)
            return
        }
        var rc = RewardModel.Config()
        rc.items = config.rewardItems
        rc.sessionLength = config.sessionItems
        reward = RewardModel(config: rc, seed: config.seed &+ 1, rows: rows)
        if embeddings.first?.value.count == rc.width { reward.initializeItems(from: embeddings) }
        var ro = AdamW.Config()
        ro.learningRate = 3e-3
        rewardOptimizer = AdamW(parameters: reward.parameters.tensors, config: ro)
    }

    /// One generator step (`train` takes it with a seed and returns the loss), then, every `rewardEvery`
    /// steps, one reward-model step on `outcomes()`. Throws (nothing is published of it) when the loss is
    /// not finite.
    func step(_ train: (GeneratorTrainer, _ seed: UInt64) -> Float, outcomes: () -> [RewardExample]) throws -> Step {
        let step = generator.optimizer.step
        let loss = train(generator, seed &+ UInt64(step))
        average?.update()
        guard loss.isFinite else {
            throw LearnerError("generator loss is \(loss) at step \(step); the step's update is not published")
        }
        let smoothed = smoothedLoss.map { 0.98 * $0 + 0.02 * Double(loss) } ?? Double(loss)
        smoothedLoss = smoothed
        let done = generator.optimizer.step
        var rewardLoss: Float?
        if done % rewardEvery == 0 {
            let chunk = outcomes()
            if !chunk.isEmpty {
                let g = Graph(seed: seed &+ UInt64(done))
                let bce = reward.loss(g, RewardModel.Batch(histories: chunk.map(\.history), sessions: chunk.map(\.session), labels: chunk.flatMap(\.labels)))
                g.backward(bce)
                rewardOptimizer.update()
                rewardOptimizer.zeroGradients()
                rewardLoss = bce[0]
            }
        }
        return Step(done: done, smoothedLoss: smoothed, rewardLoss: rewardLoss)
    }
}

extension OnlineTrainer {
    /// Runs `body` with the generator holding the averaged weights (as they are published), then restores
    /// the trained ones.
    func withAveragedWeights<T>(_ body: () throws -> T) rethrows -> T {
        average?.swap()
        defer { average?.swap() }
        return try body()
    }
}
