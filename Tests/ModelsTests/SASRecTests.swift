import Engine
import Models
import Testing

@Suite struct SASRecTests {
    static var config: SASRec.Config {
        var c = SASRec.Config()
        (c.items, c.width, c.heads, c.layers, c.maxLength, c.dropout) = (20, 16, 2, 1, 8, 0)
        return c
    }

    /// Left-padded sequences of different lengths, targets -1 at the padding.
    static let sequences: [Int32] = [0, 0, 0, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8]
    static let targets: [Int32] = [-1, -1, -1, 4, 5, 6, 7, 8, -1, -1, -1, -1, -1, -1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9]

    /// Scoring only the positions with a target gives the loss and gradients of scoring every position.
    @Test func theLossScoresOnlyPositionsWithATarget() {
        let model = SASRec(config: Self.config, seed: 3)
        let g = Graph(seed: 1)  // no dropout in this model: the same as inference
        let loss = model.loss(g, sequences: Self.sequences, targets: Self.targets, batch: 3, length: 8)
        g.backward(loss)
        let fast = model.parameters.tensors.map { $0.gradValues }
        model.parameters.tensors.forEach { $0.zeroGrad() }

        let full = Graph(seed: 1)
        let h = full.reshape(model.hidden(full, sequences: Self.sequences, batch: 3, length: 8), [24, 16])
        let items = model.parameters.tensors.first { $0.name == "items" }!
        let reference = full.crossEntropy(full.linear(h, items), targets: Self.targets)
        full.backward(reference)
        #expect(abs(loss[0] - reference[0]) < 1e-5, "\(loss[0]) against \(reference[0])")
        for (a, b) in zip(fast, model.parameters.tensors.map { $0.gradValues }) {
            #expect(a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }

    /// Items follow each other in a fixed cycle; after training, the next item scores highest.
    @Test func learnsTheNextItemOfACycle() {
        let model = SASRec(config: Self.config, seed: 1)
        let sequences: [[Int32]] = (0..<20).map { start in (0..<9).map { Int32((start + $0) % 20) } }
        var training = SASRec.Training()
        (training.epochs, training.batch, training.learningRate) = (60, 8, 1e-2)
        model.train(on: sequences, training)
        var correct = 0
        for start in 0..<20 {
            let history = (0..<5).map { Int32((start + $0) % 20) }
            let scores = model.itemScores(history: history)
            if scores.indices.max(by: { scores[$0] < scores[$1] }) == (start + 5) % 20 { correct += 1 }
        }
        #expect(correct >= 19, "\(correct)/20 next items right")
    }
}
