import Foundation
import Engine
import EngineSupport
import Testing

@Suite struct LayerOpTests {
    @Test func norms() {
        checkGradients([randomTensor([3, 8], seed: 1), randomTensor([8], seed: 2), randomTensor([8], seed: 3)]) { g, t in
            g.layerNorm(t[0], weight: t[1], bias: t[2])
        }
        checkGradients([randomTensor([3, 8], seed: 4), randomTensor([8], seed: 5)]) { g, t in g.rmsNorm(t[0], weight: t[1]) }
    }

    @Test func activations() {
        checkGradients([randomTensor([20], seed: 6, scale: 3)]) { g, t in g.gelu(t[0]) }
        checkGradients([randomTensor([20], seed: 7, scale: 3)]) { g, t in g.silu(t[0]) }
        checkGradients([randomTensor([20], seed: 8, scale: 3)]) { g, t in g.sigmoid(t[0]) }
        checkGradients([randomTensor([20], seed: 9, scale: 8)]) { g, t in g.logSigmoid(t[0]) }
        // ReLU away from its kink, where finite differences are exact.
        let x = randomTensor([20], seed: 10)
        for i in 0..<x.count { x[i] = x[i] < 0 ? x[i] - 0.1 : x[i] + 0.1 }
        checkGradients([x]) { g, t in g.relu(t[0]) }
    }

    @Test func activationValues() {
        let g = Graph(training: false)
        let x = Tensor(shape: [3], values: [-1, 0, 2])
        let gelu = g.gelu(x).values
        #expect(abs(gelu[0] - -0.158808) < 1e-5 && gelu[1] == 0 && abs(gelu[2] - 1.954597) < 1e-5)
        #expect(abs(g.logSigmoid(Tensor(shape: [1], values: [-100])).values[0] - -100) < 1e-4)
        #expect(abs(g.sigmoid(x).values[2] - 0.880797) < 1e-6)
    }

    @Test func softmax() {
        checkGradients([randomTensor([3, 7], seed: 11, scale: 3)]) { g, t in g.softmax(t[0]) }
        let p = Graph(training: false).softmax(Tensor(shape: [1, 3], values: [1000, 1000, -1000])).values
        #expect(abs(p[0] - 0.5) < 1e-6 && p[2] < 1e-30)
    }

    @Test func logSoftmaxIsTheLogOfSoftmax() {
        let g = Graph(training: false)
        let x = randomTensor([3, 7], seed: 19, scale: 5)
        for (l, p) in zip(g.logSoftmax(x).values, g.softmax(x).values) { #expect(abs(exp(l) - p) < 1e-6) }
    }

    @Test func dropoutIsSeededAndScaled() {
        let x = randomTensor([1000], seed: 12)
        checkGradients([randomTensor([30], seed: 13)]) { g, t in g.dropout(t[0], 0.3) }
        let a = Graph(seed: 5).dropout(x, 0.3).values
        let b = Graph(seed: 5).dropout(x, 0.3).values
        #expect(a == b)
        let dropped = a.filter { $0 == 0 }.count
        #expect(dropped > 240 && dropped < 360)
        #expect(Graph(training: false).dropout(x, 0.3) === x)
    }

    @Test func crossEntropyWithMasksAndSmoothing() {
        let targets: [Int32] = [2, -1, 0, 4]
        checkGradients([randomTensor([4, 5], seed: 14, scale: 2)]) { g, t in g.crossEntropy(t[0], targets: targets) }
        checkGradients([randomTensor([4, 5], seed: 15, scale: 2)]) { g, t in
            g.crossEntropy(t[0], targets: targets, weights: [1, 1, 0, 0.5], labelSmoothing: 0.1)
        }
        checkGradients([randomTensor([4, 5], seed: 16, scale: 2)]) { g, t in g.crossEntropy(t[0], targets: [1, 3, 3, 9], ignoreIndex: 9) }
        // Hand-computed: logits [0, ln 3] -> p = [1/4, 3/4]; -log(3/4) for target 1, -log(1/4) for target 0.
        let logits = Tensor(shape: [2, 2], values: [0, Float(3).log(), 0, Float(3).log()])
        let loss = Graph(training: false).crossEntropy(logits, targets: [1, 0]).values[0]
        #expect(abs(loss - (Float(4.0 / 3).log() + Float(4).log()) / 2) < 1e-6)
    }

    @Test func binaryCrossEntropy() {
        let labels: [Float] = [1, 0, 1, 0.3, 0, 1]
        checkGradients([randomTensor([6], seed: 17, scale: 4)]) { g, t in g.binaryCrossEntropy(t[0], labels: labels) }
        checkGradients([randomTensor([6], seed: 18, scale: 4)]) { g, t in
            g.binaryCrossEntropy(t[0], labels: labels, weights: [1, 2, 0, 1, 1, 0.5])
        }
        let loss = Graph(training: false).binaryCrossEntropy(Tensor(shape: [2], values: [0, 0]), labels: [1, 0]).values[0]
        #expect(abs(loss - Float(2).log()) < 1e-6)
    }
}

extension Float {
    func log() -> Float { Float(Foundation.log(Double(self))) }
}

@Suite struct TargetLogProbabilityTests {
    @Test func valuesAndGradients() {
        let logits = Tensor(shape: [2, 2], values: [0, Float(3).log(), 0, 0])
        let lp = Graph(training: false).targetLogProbabilities(logits, targets: [1, -1]).values
        #expect(abs(lp[0] - Float(0.75).log()) < 1e-6 && lp[1] == 0)
        checkGradients([randomTensor([4, 6], seed: 40, scale: 2)]) { g, t in g.targetLogProbabilities(t[0], targets: [5, -1, 0, 2]) }
    }
}
