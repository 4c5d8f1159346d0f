import Alignment
import Engine
import EngineSupport
import Foundation
import Testing

@Suite struct PreferenceLossTests {
    /// One pair: log π(c) = -2, log π(r) = [-3, -4], reference -2.5 for both; so Δc = 0.5, Δr = -0.5.
    func batch(rejected: [Float] = [-3]) -> PreferenceBatch {
        PreferenceBatch(policyChosen: Tensor(shape: [1], values: [-2], requiresGrad: true),
                        policyRejected: Tensor(shape: [1, rejected.count], values: rejected, requiresGrad: true),
                        referenceChosen: [-2.5], referenceRejected: [Float](repeating: -2.5, count: rejected.count),
                        chosenLengths: [4], rejectedLengths: [Float](repeating: 4, count: rejected.count))
    }

    func value(_ kind: PreferenceLoss, rejected: [Float] = [-3]) -> Double {
        Double(Graph(training: false).preferenceLoss(kind, batch(rejected: rejected)).loss[0])
    }

    func softplus(_ x: Double) -> Double { log(1 + exp(x)) }  // -log σ(-x)

    @Test func valuesMatchHandComputation() {
        // h = β (Δc - Δr) = 0.5 * 1.
        #expect(abs(value(.dpo(beta: 0.5)) - softplus(-0.5)) < 1e-6)                                     // 0.474077
        #expect(abs(value(.ipo(beta: 0.25)) - 1) < 1e-6)                                                  // (1 - 1/0.5)^2
        #expect(abs(value(.cdpo(beta: 0.5, epsilon: 0.1)) - (0.9 * softplus(-0.5) + 0.1 * softplus(0.5))) < 1e-6)
        #expect(abs(value(.rdpo(beta: 0.5, epsilon: 0.1)) - (0.9 * softplus(-0.5) - 0.1 * softplus(0.5)) / 0.8) < 1e-6)
        #expect(abs(value(.cpo(beta: 0.5)) - (softplus(-0.5) + 2)) < 1e-6)                              // preference + NLL
        #expect(abs(value(.simpo(beta: 0.5, gamma: 0.2)) - softplus(0.075)) < 1e-6)                     // -0.25 + 0.375 - 0.2
        // S-DPO with two rejected: β(Δr - Δc) = [-0.5, -1].
        #expect(abs(value(.sdpo(beta: 0.5), rejected: [-3, -4]) - softplus(log(exp(-0.5) + exp(-1.0)))) < 1e-6)
        // With one rejected, S-DPO is DPO.
        #expect(abs(value(.sdpo(beta: 0.5)) - value(.dpo(beta: 0.5))) < 1e-6)
    }

    @Test func impliedRewardsAndAccuracy() {
        let out = Graph(training: false).preferenceLoss(.dpo(beta: 0.5), batch())
        #expect(out.chosenRewards == [0.25] && out.rejectedRewards == [-0.25])
        #expect(out.accuracy == 1 && out.margin == 0.5)
    }

    @Test(arguments: [PreferenceLoss.dpo(beta: 0.3), .ipo(beta: 0.3), .cdpo(beta: 0.3, epsilon: 0.1), .rdpo(beta: 0.3, epsilon: 0.2),
                      .cpo(beta: 0.3), .simpo(beta: 2, gamma: 0.5), .sdpo(beta: 0.3)])
    func gradientsPassTheFiniteDifferenceCheck(kind: PreferenceLoss) {
        let k = kind == .sdpo(beta: 0.3) ? 3 : 1
        let chosen = randomTensor([4], seed: 1, scale: 3)
        let rejected = randomTensor([4, k], seed: 2, scale: 3)
        for i in 0..<4 { chosen[i] -= 5 }
        for i in 0..<(4 * k) { rejected[i] -= 6 }
        let refC: [Float] = [-5, -4, -6, -5.5], refR = (0..<(4 * k)).map { Float(-6 + $0 % 3) }
        checkGradients([chosen, rejected]) { g, t in
            g.preferenceLoss(kind, PreferenceBatch(policyChosen: t[0], policyRejected: t[1], referenceChosen: refC, referenceRejected: refR,
                                                   chosenLengths: [4, 5, 4, 6], rejectedLengths: [Float](repeating: 5, count: 4 * k))).loss
        }
    }
}
