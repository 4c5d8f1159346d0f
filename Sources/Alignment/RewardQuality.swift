/// How well a reward-model tower predicts held-out logged sessions.
public struct TowerQuality: Sendable {
    public let tower: String
    /// Area under the ROC curve; for the continuous labels (swt, vtr) a session counts as positive when
    /// its label is above the median. Nil when the sessions have one class only.
    public let auc: Double?
    /// Mean predicted probability and mean label.
    public let predicted: Double, observed: Double
    /// Expected calibration error: |mean prediction - mean label| per tenth of [0, 1], weighted by the
    /// sessions in it.
    public let calibrationError: Double
}

extension TowerQuality {
    /// The figures of one tower's predictions against its labels (0/1, or in [0, 1] for swt and vtr).
    public init(tower: String, predictions p: [Float], labels y: [Float]) {
        precondition(p.count == y.count && !p.isEmpty, "one prediction per label")
        let median = y.sorted()[y.count / 2]
        let binary = Set(y).isSubset(of: [0, 1])
        var bins = [(p: Double, y: Double)](repeating: (0, 0), count: 10)
        for (pi, yi) in zip(p, y) {
            let b = min(9, max(0, Int(pi * 10)))
            bins[b] = (bins[b].p + Double(pi), bins[b].y + Double(yi))
        }
        self.init(tower: tower, auc: areaUnderCurve(scores: p, positives: y.map { binary ? $0 == 1 : $0 > median }),
                  predicted: p.reduce(0.0) { $0 + Double($1) } / Double(p.count), observed: y.reduce(0.0) { $0 + Double($1) } / Double(y.count),
                  calibrationError: bins.reduce(0.0) { $0 + abs($1.p - $1.y) } / Double(p.count))
    }
}

extension RewardModel {
    /// Per-tower AUC and calibration on logged sessions the model did not train on.
    public func quality(on examples: [RewardExample], batchSize: Int = 256) -> [TowerQuality] {
        precondition(!examples.isEmpty, "no held-out sessions")
        var predictions: [[Float]] = []
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let chunk = examples[start..<min(examples.count, start + batchSize)]
            predictions += predict(Batch(histories: chunk.map(\.history), sessions: chunk.map(\.session)))
        }
        return Self.towers.indices.map { k in
            TowerQuality(tower: Self.towers[k], predictions: predictions.map { $0[k] }, labels: examples.map { $0.labels[k] })
        }
    }
}

/// Area under the ROC curve of scores against binary outcomes (ties count half); nil without both classes.
public func areaUnderCurve(scores: [Float], positives: [Bool]) -> Double? {
    let ranked = zip(scores, positives).sorted { $0.0 < $1.0 }
    let p = positives.filter { $0 }.count, n = positives.count - p
    guard p > 0 && n > 0 else { return nil }
    var rankSum = 0.0
    var i = 0
    while i < ranked.count {
        var j = i
        while j < ranked.count && ranked[j].0 == ranked[i].0 { j += 1 }
        let meanRank = Double(i + j + 1) / 2  // ranks i+1 ... j
        rankSum += meanRank * Double(ranked[i..<j].filter { $0.1 }.count)
        i = j
    }
    return (rankSum - Double(p * (p + 1)) / 2) / Double(p * n)
}
