import Engine
import EngineSupport
import Testing

@Suite struct MixtureOfExpertsTests {
    /// Logits whose top-2 margins are wide, so finite differences never change the routing.
    func separatedLogits(_ n: Int, _ e: Int, seed: UInt64) -> Tensor {
        let t = randomTensor([n, e], seed: seed, scale: 0.2)
        for r in 0..<n { t[r * e + (r % e)] += 3; t[r * e + ((r + 1) % e)] += 1.5 }
        return t
    }

    @Test func gradientsThroughExpertsGatesAndRouter() {
        let (n, c, f, e) = (6, 4, 5, 3)
        checkGradients([randomTensor([n, c], seed: 1), separatedLogits(n, e, seed: 2), randomTensor([e, f, c], seed: 3),
                        randomTensor([e, c, f], seed: 4)]) { g, t in
            g.mixtureOfExperts(t[0], logits: t[1], w1: t[2], w2: t[3], routing: Routing(topK: 2)).out
        }
    }

    @Test func gradientsWithARouterLayerAndTheBalanceLoss() {
        let (n, c, f, e) = (5, 4, 3, 4)
        let router = randomTensor([e, c], seed: 5, scale: 0.1)
        checkGradients([randomTensor([n, c], seed: 6), router, randomTensor([e, f, c], seed: 7), randomTensor([e, c, f], seed: 8)]) { g, t in
            let logits = g.linear(t[0], t[1])
            let (out, table) = g.mixtureOfExperts(t[0], logits: logits, w1: t[2], w2: t[3], routing: Routing(topK: 2))
            return g.add(g.sum(out), g.scale(g.balanceLoss(logits: logits, table: table), 3))
        }
    }

    @Test func tiesGoToTheLowerExpertAndStillDifferentiate() {
        // A zero router gives every expert the same logit for every token: experts 0 and 1 win.
        let (n, c, f, e) = (4, 3, 2, 4)
        let router = Tensor(shape: [e, c], requiresGrad: false)
        let g = Graph(training: false)
        let x = randomTensor([n, c], seed: 9)
        let (_, table) = g.mixtureOfExperts(x, logits: g.linear(x, router), w1: randomTensor([e, f, c], seed: 10),
                                            w2: randomTensor([e, c, f], seed: 11), routing: Routing(topK: 2))
        #expect(table.chosen == [0, 1, 0, 1, 0, 1, 0, 1])
        #expect(table.load == [4, 4, 0, 0])
        checkGradients([x, randomTensor([e, f, c], seed: 12), randomTensor([e, c, f], seed: 13)]) { g, t in
            g.mixtureOfExperts(t[0], logits: g.linear(t[0], router), w1: t[1], w2: t[2], routing: Routing(topK: 2)).out
        }
    }

    @Test func capacityDropsLateAssignments() {
        let (n, c, f, e) = (8, 3, 2, 2)
        let g = Graph(training: false)
        let logits = Tensor(shape: [n, e], values: (0..<n).flatMap { _ in [Float(1), 0] })  // every token prefers expert 0
        let (_, table) = g.mixtureOfExperts(randomTensor([n, c], seed: 14), logits: logits, w1: randomTensor([e, f, c], seed: 15),
                                            w2: randomTensor([e, c, f], seed: 16), routing: Routing(topK: 1, capacityFactor: 1))
        #expect(table.load == [4, 0])  // capacity ceil(1 * 8 * 1 / 2) = 4
        #expect(table.chosen == [0, 0, 0, 0, -1, -1, -1, -1])
        checkGradients([randomTensor([n, c], seed: 17), separatedLogits(n, e, seed: 18), randomTensor([e, f, c], seed: 19),
                        randomTensor([e, c, f], seed: 20)]) { g, t in
            g.mixtureOfExperts(t[0], logits: t[1], w1: t[2], w2: t[3], routing: Routing(topK: 2, capacityFactor: 0.75)).out
        }
    }

    @Test func selectionBiasSteersRoutingButNotGates() {
        let g = Graph(training: false)
        let logits = Tensor(shape: [1, 3], values: [2, 1, 0])
        let x = randomTensor([1, 2], seed: 21)
        let (w1, w2) = (randomTensor([3, 2, 2], seed: 22), randomTensor([3, 2, 2], seed: 23))
        let plain = g.mixtureOfExperts(x, logits: logits, w1: w1, w2: w2, routing: Routing(topK: 1))
        let biased = g.mixtureOfExperts(x, logits: logits, w1: w1, w2: w2, routing: Routing(topK: 1, selectionBias: [0, 0, 5]))
        #expect(plain.table.chosen == [0])
        #expect(biased.table.chosen == [2])
    }

    @Test func balanceLossIsOneWhenRoutingIsUniform() {
        let g = Graph(training: false)
        // Tokens alternate between the experts: each takes half the tokens and half the probability mass.
        let logits = Tensor(shape: [4, 2], values: [1, 0, 0, 1, 1, 0, 0, 1])
        let x = randomTensor([4, 3], seed: 24)
        let (_, table) = g.mixtureOfExperts(x, logits: logits, w1: randomTensor([2, 2, 3], seed: 25), w2: randomTensor([2, 3, 2], seed: 26),
                                            routing: Routing(topK: 1))
        #expect(table.load == [2, 2])
        #expect(abs(g.balanceLoss(logits: logits, table: table).values[0] - 1) < 1e-6)
    }
}
