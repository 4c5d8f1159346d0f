import Engine
import Generator
import Models
import Testing

/// Sequence training (lazy decoder): one context per sequence, every position's next item a target.
@Suite struct SequenceTrainingTests {
    /// The sequence batch's cross-entropy over `targetsKept` blocks only (the others' targets set to -1).
    static func loss(_ trainer: GeneratorTrainer, _ sequence: [UInt64], blocks kept: Set<Int>) -> Float {
        var batch = trainer.sequenceBatch([sequence])
        for (i, _) in batch.targets.enumerated() where !kept.contains(i / batch.blockLength) { batch.targets[i] = -1 }
        return trainer.model.sequenceLoss(Graph(training: false), batch).crossEntropy[0]
    }

    /// A tiny lazy generator's trainer (histories of up to 6 items, next-item sessions).
    static func trainer(contextLayers: Int, newestItemQuery: Bool, recencyBias: Bool) throws -> GeneratorTrainer {
        let book = try randomCodebook(items: 30, codes: 4, seed: 2)
        let (tokenizer, model) = tinyGenerator(book, architecture: .lazy, seed: 3, contextLength: 6, contextLayers: contextLayers,
                                               newestItemQuery: newestItemQuery, recencyBias: recencyBias)
        return GeneratorTrainer(model: model, tokenizer: tokenizer, maxHistory: 6, sessionItems: 1)
    }

    /// The last position's block is exactly the sampled example "whole history, then the last item"
    /// (with and without causal context layers, with the newest-item query, with the recency bias).
    @Test(arguments: [(0, false, false), (1, false, false), (0, true, false), (0, true, true)])
    func theLastBlockIsTheWholeHistoryExample(contextLayers: Int, newestItemQuery: Bool, recencyBias: Bool) throws {
        let trainer = try Self.trainer(contextLayers: contextLayers, newestItemQuery: newestItemQuery, recencyBias: recencyBias)
        let sequence: [UInt64] = [4, 11, 7, 20, 2, 9]
        let whole = Self.loss(trainer, sequence, blocks: [4])
        let example = trainer.model.loss(Graph(training: false), trainer.batch([SessionExample(history: Array(sequence.dropLast()), session: [9])])).crossEntropy[0]
        #expect(abs(whole - example) < 1e-5, "sequence \(whole), sampled \(example)")
    }

    /// A block reads the context up to its own position only: changing a later item changes nothing, also
    /// when causal context layers mix the items, the tokens add their block's newest item or the
    /// cross-attention adds a recency bias.
    @Test(arguments: [(0, false, false), (1, false, false), (0, true, false), (0, true, true)])
    func aBlockDoesNotSeeTheItemsAfterIt(contextLayers: Int, newestItemQuery: Bool, recencyBias: Bool) throws {
        let trainer = try Self.trainer(contextLayers: contextLayers, newestItemQuery: newestItemQuery, recencyBias: recencyBias)
        let before = Self.loss(trainer, [4, 11, 7, 20, 2, 9], blocks: [0, 1])
        let changedLater = Self.loss(trainer, [4, 11, 7, 25, 13, 9], blocks: [0, 1])
        let changedTarget = Self.loss(trainer, [4, 11, 8, 20, 2, 9], blocks: [0, 1])
        #expect(abs(before - changedLater) < 1e-6)
        #expect(abs(before - changedTarget) > 1e-4)
    }

    /// With time gaps, each context position reads its own item's gap, and a block still reads nothing after
    /// its position: a later item's gap changes no earlier block, an earlier one's does.
    @Test func timeGapsReachTheirPositionsAndStayCausal() throws {
        let book = try randomCodebook(items: 30, codes: 4, seed: 2)
        let (tokenizer, plain) = tinyGenerator(book, architecture: .lazy, seed: 3, contextLength: 6, newestItemQuery: true, recencyBias: true)
        var config = plain.config
        config.timeGaps = true
        let trainer = GeneratorTrainer(model: Seq2Seq(config: config, seed: 3), tokenizer: tokenizer, maxHistory: 6, sessionItems: 1)
        let batch = trainer.sequenceBatch([[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11]], gaps: [[0, 1, 2, 3, 4, 5, 6, 7], [0, 9, 30]])
        // The first: its newest 7 items, the last only a target; the second: left-padded.
        #expect(batch.contextGaps == [1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 9])
        func loss(_ gaps: [Int32]) -> Float {
            var b = trainer.sequenceBatch([[4, 11, 7, 20, 2, 9]], gaps: [gaps])
            for i in b.targets.indices where i / b.blockLength > 1 { b.targets[i] = -1 }
            return trainer.model.sequenceLoss(Graph(training: false), b).crossEntropy[0]
        }
        let before = loss([0, 5, 5, 5, 5, 5])
        #expect(abs(before - loss([0, 5, 5, 20, 1, 5])) < 1e-6)  // items 3 and 4: after blocks 0 and 1
        #expect(abs(before - loss([0, 20, 5, 5, 5, 5])) > 1e-4)  // item 1: block 1 reads it
    }

    /// Sequences of different lengths share a batch, left-padded; training on them lowers the loss.
    @Test func learnsFromPaddedSequences() throws {
        let book = try randomCodebook(items: 30, codes: 4, seed: 2)
        let (tokenizer, model) = tinyGenerator(book, architecture: .lazy, seed: 3, contextLength: 6)
        var adam = AdamW.Config()
        adam.learningRate = 1e-2
        let trainer = GeneratorTrainer(model: model, tokenizer: tokenizer, maxHistory: 6, sessionItems: 2, optimizer: adam)
        let sequences: [[UInt64]] = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11], [12, 13, 14, 15, 16]]
        let batch = trainer.sequenceBatch(sequences)
        #expect(batch.items == 6 && batch.blockLength == tokenizer.sessionLength(items: 2))
        let losses = (0..<60).map { trainer.sequenceStep(sequences, seed: UInt64($0)).loss }
        #expect(losses.last! < losses.first! / 3, "loss \(losses.first!) -> \(losses.last!)")
    }
}
