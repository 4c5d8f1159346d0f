/// Item embeddings, one row per item: the input of the semantic-ID tokenizer.
public struct ItemVectors: Sendable {
    public let ids: [UInt64]
    public let dimension: Int
    /// (count, dimension), row-major.
    public let values: [Float]
    public var count: Int { ids.count }

    /// Why a vector was not accepted.
    public enum Rejection: String, Sendable, Equatable {
        case wrongDimension = "wrong-dimension"
        case notFinite = "not-finite"
        case zeroNorm = "zero-norm"
        case duplicateID = "duplicate-id"
    }

    /// Keeps the vectors that are usable and reports each one that is not, with its reason: a wrong
    /// dimension, a NaN or infinite component, a zero vector, or an id seen before in the batch.
    public static func validated(_ items: [(id: UInt64, vector: [Float])], dimension: Int) -> (vectors: ItemVectors, rejected: [(id: UInt64, reason: Rejection)]) {
        var ids: [UInt64] = []
        var values: [Float] = []
        var seen = Set<UInt64>()
        var rejected: [(UInt64, Rejection)] = []
        for (id, vector) in items {
            if let reason = problem(vector, dimension: dimension) {
                rejected.append((id, reason))
            } else if !seen.insert(id).inserted {
                rejected.append((id, .duplicateID))
            } else {
                ids.append(id)
                values += vector
            }
        }
        return (ItemVectors(ids: ids, dimension: dimension, values: values), rejected)
    }

    /// The same for vectors given as one (ids.count, dimension) row-major array.
    public static func validated(ids: [UInt64], values: [Float], dimension: Int) -> (vectors: ItemVectors, rejected: [(id: UInt64, reason: Rejection)]) {
        precondition(values.count == ids.count * dimension, "validated: \(values.count) values for \(ids.count) x \(dimension)")
        let rows: [(id: UInt64, vector: [Float])] = ids.enumerated().map { i, id in (id, Array(values[(i * dimension)..<((i + 1) * dimension)])) }
        return validated(rows, dimension: dimension)
    }

    /// The reason `vector` cannot be coded, or nil.
    public static func problem(_ vector: [Float], dimension: Int) -> Rejection? {
        guard vector.count == dimension else { return .wrongDimension }
        guard vector.allSatisfy(\.isFinite) else { return .notFinite }
        guard vector.contains(where: { $0 != 0 }) else { return .zeroNorm }
        return nil
    }

    public init(ids: [UInt64], dimension: Int, values: [Float]) {
        precondition(values.count == ids.count * dimension, "ItemVectors: \(values.count) values for \(ids.count) x \(dimension)")
        self.ids = ids
        self.dimension = dimension
        self.values = values
    }

    public func row(_ i: Int) -> ArraySlice<Float> { values[(i * dimension)..<((i + 1) * dimension)] }

    /// Content and behaviour together: for each item of the first part, the parts' vectors side by side,
    /// each scaled to unit length and then by its weight (so a part's influence is its weight, whatever
    /// its scale or dimension). An item missing from a later part gets zeros for that part.
    public static func concatenated(_ parts: [(vectors: ItemVectors, weight: Float)]) -> ItemVectors {
        precondition(!parts.isEmpty, "nothing to concatenate")
        let rowsByID = parts.map { part in Dictionary(uniqueKeysWithValues: part.vectors.ids.enumerated().map { ($1, $0) }) }
        let dimension = parts.reduce(0) { $0 + $1.vectors.dimension }
        var values: [Float] = []
        values.reserveCapacity(parts[0].vectors.count * dimension)
        for id in parts[0].vectors.ids {
            for (p, part) in parts.enumerated() {
                let d = part.vectors.dimension
                guard let row = rowsByID[p][id] else {
                    values += [Float](repeating: 0, count: d)
                    continue
                }
                let v = part.vectors.row(row)
                let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                values += v.map { norm > 0 ? $0 / norm * part.weight : 0 }
            }
        }
        return ItemVectors(ids: parts[0].vectors.ids, dimension: dimension, values: values)
    }
}
