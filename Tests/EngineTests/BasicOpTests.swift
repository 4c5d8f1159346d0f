import Engine
import Foundation
import EngineSupport
import Testing

@Suite struct BasicOpTests {
    @Test func linear() {
        checkGradients([randomTensor([2, 3, 5], seed: 1), randomTensor([4, 5], seed: 2), randomTensor([4], seed: 3)]) { g, t in
            g.linear(t[0], t[1], t[2])
        }
        checkGradients([randomTensor([6, 5], seed: 1), randomTensor([4, 5], seed: 2)]) { g, t in g.linear(t[0], t[1]) }
        // The decoding layout: the weight stored transposed, (in, out).
        checkGradients([randomTensor([2, 3, 5], seed: 1), randomTensor([5, 4], seed: 2), randomTensor([4], seed: 3)]) { g, t in
            g.linear(t[0], transposedWeight: t[1], t[2])
        }
        let g = Graph(training: false)
        let x = randomTensor([3, 5], seed: 4), w = randomTensor([4, 5], seed: 5)
        let plain = g.linear(x, w).values, transposed = g.linear(x, transposedWeight: g.transpose(w, 0, 1)).values
        for (a, b) in zip(plain, transposed) { #expect(abs(a - b) < 1e-6) }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func batchedMatmul(transposeA: Bool, transposeB: Bool) {
        let a = randomTensor(transposeA ? [2, 4, 3] : [2, 3, 4], seed: 4)
        let b = randomTensor(transposeB ? [2, 5, 4] : [2, 4, 5], seed: 5)
        checkGradients([a, b]) { g, t in g.matmul(t[0], t[1], transposeA: transposeA, transposeB: transposeB) }
        // A 2-D right operand shared by every batch.
        checkGradients([a, randomTensor(transposeB ? [5, 4] : [4, 5], seed: 6)]) { g, t in
            g.matmul(t[0], t[1], transposeA: transposeA, transposeB: transposeB)
        }
    }

    @Test func matmulMatchesTheDefinition() {
        let g = Graph(training: false)
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], values: [7, 8, 9, 10, 11, 12])
        #expect(g.matmul(a, b).values == [58, 64, 139, 154])
        let w = Tensor(shape: [2, 3], values: [7, 9, 11, 8, 10, 12])  // b transposed, as nn.Linear stores it
        #expect(g.linear(a, w, Tensor(shape: [2], values: [1, -1])).values == [59, 63, 140, 153])
    }

    @Test func broadcastingAddAndMul() {
        checkGradients([randomTensor([3, 4], seed: 7), randomTensor([3, 4], seed: 8)]) { g, t in g.add(t[0], t[1]) }
        checkGradients([randomTensor([2, 3, 4], seed: 9), randomTensor([4], seed: 10)]) { g, t in g.add(t[0], t[1]) }
        checkGradients([randomTensor([2, 3, 4], seed: 11), randomTensor([3, 4], seed: 12)]) { g, t in g.mul(t[0], t[1]) }
        checkGradients([randomTensor([5], seed: 13)]) { g, t in g.scale(t[0], -2.5) }
    }

    @Test func reductions() {
        checkGradients([randomTensor([3, 4], seed: 14)]) { g, t in g.sum(g.mul(t[0], t[0])) }
        checkGradients([randomTensor([3, 4], seed: 15)]) { g, t in g.mean(g.mul(t[0], t[0])) }
        checkGradients([randomTensor([2, 3, 4], seed: 16)]) { g, t in g.sumLast(t[0]) }
    }

    @Test func shapeOps() {
        checkGradients([randomTensor([2, 3, 4], seed: 17)]) { g, t in g.transpose(g.reshape(t[0], [6, 4]), 0, 1) }
        checkGradients([randomTensor([2, 3, 4], seed: 18)]) { g, t in g.transpose(t[0], 0, 2) }
        checkGradients([randomTensor([2, 3, 4], seed: 19), randomTensor([2, 2, 4], seed: 20)]) { g, t in g.concat([t[0], t[1]], axis: 1) }
        checkGradients([randomTensor([2, 5, 3], seed: 21)]) { g, t in g.slice(t[0], axis: 1, 1..<4) }
        let g = Graph(training: false)
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(g.transpose(x, 0, 1).values == [1, 4, 2, 5, 3, 6])
        #expect(g.slice(x, axis: 1, 1..<3).values == [2, 3, 5, 6])
        #expect(g.concat([x, x], axis: 0).shape == [4, 3])
    }

    @Test func embeddingScatterAddsRepeatedIds() {
        checkGradients([randomTensor([5, 3], seed: 22)]) { g, t in g.embedding(t[0], [4, 1, 1, 0, 4, 4], shape: [2, 3]) }
        let g = Graph()
        let table = randomTensor([5, 3], seed: 23)
        let y = g.embedding(table, [2, 2, 2])
        g.backward(g.sum(y))
        #expect(Array(table.gradValues[6..<9]) == [3, 3, 3])
        #expect(table.gradValues[0] == 0)
    }

    @Test func backwardThroughAnOpWithoutARuleStopsWithItsName() {
        // Documented behaviour; the trap itself cannot be caught in-process, so check the recording.
        let g = Graph()
        let x = randomTensor([2, 2], seed: 24)
        _ = g.relu(x)
        #expect(g.recordedOps == ["relu"])
        let inference = Graph(training: false)
        _ = inference.relu(x)
        #expect(inference.recordedOps.isEmpty)
    }
}

@Suite struct LogSumExpTests {
    @Test func logSumExpValueAndGradient() {
        let x = Tensor(shape: [1, 3], values: [1, 2, 3])
        let y = Graph(training: false).logSumExp(x)[0]
        #expect(abs(Double(y) - log(exp(1.0) + exp(2.0) + exp(3.0))) < 1e-5)
        checkGradients([randomTensor([3, 4], seed: 30, scale: 3)]) { g, t in g.logSumExp(t[0]) }
        checkGradients([randomTensor([3, 4], seed: 31), randomTensor([3, 4], seed: 32)]) { g, t in g.sub(t[0], t[1]) }
    }
}
