import Engine

/// The preference objectives OneRec's paper compares, behind one interface. Each takes summed
/// log-probabilities of whole sessions under the policy (with gradients) and under the frozen reference
/// (constants), and returns the mean loss over the pairs and the implied rewards for logging.
///
/// With Δc = log π(chosen) - log π_ref(chosen), Δr likewise for rejected, h = β (Δc - Δr):
/// - DPO (Rafailov et al. 2023): -log σ(h)
/// - IPO (Azar et al. 2023): (Δc - Δr - 1/(2β))²
/// - cDPO (label smoothing ε): -(1-ε) log σ(h) - ε log σ(-h)
/// - rDPO (Chowdhury et al. 2024, robust to a flip rate ε): (-(1-ε) log σ(h) + ε log σ(-h)) / (1 - 2ε)
/// - CPO (Xu et al. 2024, no reference): -log σ(β (log π(c) - log π(r))) - log π(c)
/// - SimPO (Meng et al. 2024, no reference): -log σ(β log π(c)/|c| - β log π(r)/|r| - γ)
/// - S-DPO (Chen et al. 2024, several rejected per chosen): -log σ(-log Σ_j exp(β (Δr_j - Δc)))
/// Implied rewards: β Δc and β Δr (β log π / |y| for SimPO, β log π for CPO).
public enum PreferenceLoss: Sendable, Equatable {
    case dpo(beta: Float)
    case ipo(beta: Float)
    case cdpo(beta: Float, epsilon: Float)
    case rdpo(beta: Float, epsilon: Float)
    case cpo(beta: Float)
    case simpo(beta: Float, gamma: Float)
    case sdpo(beta: Float)

    public var name: String {
        switch self {
        case .dpo: "DPO"
        case .ipo: "IPO"
        case .cdpo: "cDPO"
        case .rdpo: "rDPO"
        case .cpo: "CPO"
        case .simpo: "SimPO"
        case .sdpo: "S-DPO"
        }
    }
}

/// B preference pairs: policy log-probabilities (tensors with gradients) and reference ones (constants);
/// K rejected sessions per chosen one (K = 1 except for S-DPO, which uses them all; the others use the first).
public struct PreferenceBatch {
    /// (B) log π(chosen).
    public var policyChosen: Tensor
    /// (B, K) log π(rejected).
    public var policyRejected: Tensor
    /// (B) and (B * K).
    public var referenceChosen: [Float], referenceRejected: [Float]
    /// Token counts, for SimPO's length normalisation: (B) and (B * K).
    public var chosenLengths: [Float], rejectedLengths: [Float]

    public init(policyChosen: Tensor, policyRejected: Tensor, referenceChosen: [Float], referenceRejected: [Float],
                chosenLengths: [Float]? = nil, rejectedLengths: [Float]? = nil) {
        let b = policyChosen.count
        precondition(policyRejected.shape.count == 2 && policyRejected.shape[0] == b, "policyRejected must be (B, K)")
        precondition(referenceChosen.count == b && referenceRejected.count == policyRejected.count, "reference log-probabilities")
        (self.policyChosen, self.policyRejected, self.referenceChosen, self.referenceRejected) = (policyChosen, policyRejected, referenceChosen, referenceRejected)
        self.chosenLengths = chosenLengths ?? [Float](repeating: 1, count: b)
        self.rejectedLengths = rejectedLengths ?? [Float](repeating: 1, count: policyRejected.count)
    }

    var pairs: Int { policyChosen.count }
    var rejectedPerPair: Int { policyRejected.shape[1] }
}

/// The loss and what it implies, per step.
public struct PreferenceOutput {
    public let loss: Tensor
    /// (B) implied rewards of the chosen and (first) rejected sessions.
    public let chosenRewards: [Float], rejectedRewards: [Float]
    /// Share of pairs whose chosen reward beats the rejected one.
    public var accuracy: Float { Float(zip(chosenRewards, rejectedRewards).filter { $0 > $1 }.count) / Float(max(chosenRewards.count, 1)) }
    /// Mean chosen minus rejected reward.
    public var margin: Float { zip(chosenRewards, rejectedRewards).map { $0 - $1 }.reduce(0, +) / Float(max(chosenRewards.count, 1)) }
}

extension Graph {
    public func preferenceLoss(_ kind: PreferenceLoss, _ batch: PreferenceBatch) -> PreferenceOutput {
        let b = batch.pairs
        let k = batch.rejectedPerPair
        func constant(_ values: [Float], _ shape: [Int]) -> Tensor { Tensor(shape: shape, values: values) }
        let firstRejected = k == 1 ? reshape(batch.policyRejected, [b]) : slice(batch.policyRejected, axis: 1, 0..<1)
        let rejected1 = reshape(firstRejected, [b])
        let refRejected1 = (0..<b).map { batch.referenceRejected[$0 * k] }
        // Δc and Δr (first rejected), as graph tensors.
        let dc = sub(batch.policyChosen, constant(batch.referenceChosen, [b]))
        let dr = sub(rejected1, constant(refRejected1, [b]))
        let loss: Tensor
        var chosenRewards = zip(batch.policyChosen.values, batch.referenceChosen).map { $0 - $1 }
        var rejectedRewards = zip(rejected1.values, refRejected1).map { $0 - $1 }
        switch kind {
        case let .dpo(beta):
            loss = scale(mean(logSigmoid(scale(sub(dc, dr), beta))), -1)
            scaleRewards(&chosenRewards, &rejectedRewards, beta)
        case let .ipo(beta):
            let centred = sub(sub(dc, dr), constant([Float](repeating: 1 / (2 * beta), count: b), [b]))
            loss = mean(mul(centred, centred))
            scaleRewards(&chosenRewards, &rejectedRewards, beta)
        case let .cdpo(beta, epsilon):
            let h = scale(sub(dc, dr), beta)
            loss = scale(mean(add(scale(logSigmoid(h), 1 - epsilon), scale(logSigmoid(scale(h, -1)), epsilon))), -1)
            scaleRewards(&chosenRewards, &rejectedRewards, beta)
        case let .rdpo(beta, epsilon):
            precondition(epsilon < 0.5, "rDPO needs a flip rate below 0.5")
            let h = scale(sub(dc, dr), beta)
            let perPair = add(scale(logSigmoid(h), -(1 - epsilon)), scale(logSigmoid(scale(h, -1)), epsilon))
            loss = scale(mean(perPair), 1 / (1 - 2 * epsilon))
            scaleRewards(&chosenRewards, &rejectedRewards, beta)
        case let .cpo(beta):
            let preference = scale(logSigmoid(scale(sub(batch.policyChosen, rejected1), beta)), -1)
            loss = mean(sub(preference, batch.policyChosen))
            chosenRewards = batch.policyChosen.values.map { beta * $0 }
            rejectedRewards = rejected1.values.map { beta * $0 }
        case let .simpo(beta, gamma):
            let c = mul(batch.policyChosen, constant(batch.chosenLengths.map { beta / $0 }, [b]))
            let r = mul(rejected1, constant((0..<b).map { beta / batch.rejectedLengths[$0 * k] }, [b]))
            loss = scale(mean(logSigmoid(sub(sub(c, r), constant([Float](repeating: gamma, count: b), [b])))), -1)
            chosenRewards = c.values
            rejectedRewards = r.values
        case let .sdpo(beta):
            // -log σ(-logsumexp_j β (Δr_j - Δc)), over all K rejected.
            let allDr = sub(batch.policyRejected, constant(batch.referenceRejected, [b, k]))
            let dcEach = concat([Tensor](repeating: reshape(dc, [b, 1]), count: k), axis: 1)  // (B, K)
            let gap = sub(allDr, dcEach)
            loss = scale(mean(logSigmoid(scale(logSumExp(scale(gap, beta)), -1))), -1)
            scaleRewards(&chosenRewards, &rejectedRewards, beta)
        }
        return PreferenceOutput(loss: loss, chosenRewards: chosenRewards, rejectedRewards: rejectedRewards)
    }
}

private func scaleRewards(_ c: inout [Float], _ r: inout [Float], _ beta: Float) {
    c = c.map { beta * $0 }
    r = r.map { beta * $0 }
}
