import SemanticIDs

/// The item vectors codebooks are built from and extended with: behaviour vectors of the users' positive
/// sequences (PPMI + SVD, `BehaviourVectors`, as `eval` builds them), content embeddings, or both side by
/// side; and, for items that arrive after a behaviour codebook, vectors folded in from the codes of the
/// items they co-occur with.
enum CodebookVectors {
    /// Items this close in a user's sequence co-occur (`BehaviourVectors.Config.window`).
    static let window = BehaviourVectors.Config().window

    /// Behaviour vectors of the items in `sequences` (each user's positives, oldest first); items that
    /// co-occur with no other have none.
    static func behaviour(_ sequences: [UInt64: [UInt64]], seed: UInt64) -> [UInt64: [Float]] {
        let ids = Array(Set(sequences.values.joined())).sorted()
        guard ids.count >= 2 else { return [:] }
        let index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, Int32($0)) })
        let histories = sequences.keys.sorted().map { user in sequences[user]!.map { index[$0]! } }
        var config = BehaviourVectors.Config()
        config.seed = seed
        let values = BehaviourVectors.compute(histories: histories, items: ids.count, config: config)
        let d = min(config.dimension, ids.count)
        var out: [UInt64: [Float]] = [:]
        for (i, id) in ids.enumerated() {
            let row = Array(values[(i * d)..<((i + 1) * d)])
            if row.contains(where: { $0 != 0 }) { out[id] = row }
        }
        return out
    }

    /// Content and behaviour side by side, each scaled to unit length, for the items that have both.
    static func both(content: [UInt64: [Float]], behaviour: [UInt64: [Float]]) -> [UInt64: [Float]] {
        let ids = content.keys.filter { behaviour[$0] != nil }.sorted()
        guard let first = ids.first else { return [:] }
        let (c, _) = ItemVectors.validated(ids.map { ($0, content[$0]!) }, dimension: content[first]!.count)
        let (b, _) = ItemVectors.validated(ids.map { ($0, behaviour[$0]!) }, dimension: behaviour[first]!.count)
        let joined = ItemVectors.concatenated([(c, 1), (b, 1)])
        return Dictionary(uniqueKeysWithValues: joined.ids.enumerated().map { ($1, Array(joined.row($0))) })
    }

    /// Vectors, in `codebook`'s space, for the items of `sequences` it has no code for yet and that sit
    /// within `window` of at least `minimum` coded items: the mean of those items' reconstructions (the sum
    /// of their codes' centroids), weighted by how often each co-occurs.
    static func foldIn(_ sequences: [UInt64: [UInt64]], codebook: Codebook, minimum: Int) -> [UInt64: [Float]] {
        let q = codebook.quantizer
        let zero = [Float](repeating: 0, count: q.dimension)
        var reconstructions: [UInt64: [Float]] = [:]
        func reconstruction(_ item: UInt64) -> [Float]? {
            if let r = reconstructions[item] { return r }
            guard let code = codebook.code(of: item) else { return nil }
            let r = q.residual(zero[...], code: code, upTo: q.levels).map { -$0 }
            reconstructions[item] = r
            return r
        }
        var sums: [UInt64: [Float]] = [:], counts: [UInt64: Int] = [:]
        for sequence in sequences.values {
            for (i, item) in sequence.enumerated() where codebook.code(of: item) == nil {
                let near = max(0, i - window)..<min(sequence.count, i + window + 1)
                for j in near where j != i {
                    guard let r = reconstruction(sequence[j]) else { continue }
                    var sum = sums[item] ?? zero
                    for t in sum.indices { sum[t] += r[t] }
                    sums[item] = sum
                    counts[item, default: 0] += 1
                }
            }
        }
        var out: [UInt64: [Float]] = [:]
        for (item, sum) in sums where counts[item]! >= minimum {
            let n = Float(counts[item]!)
            out[item] = sum.map { $0 / n }
        }
        return out
    }
}
