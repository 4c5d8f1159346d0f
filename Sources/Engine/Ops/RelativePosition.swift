import Glibc

/// T5's relative position buckets: half the buckets for exact small distances, the rest spaced
/// logarithmically up to `maxDistance`; bidirectional (encoder) uses separate buckets for keys before
/// and after the query, unidirectional (decoder) only looks back. Returns (Tq * Tk) bucket ids, where
/// query i sits at position i + queryOffset.
public func relativePositionBuckets(queries tq: Int, keys tk: Int, queryOffset: Int = 0, bidirectional: Bool,
                                    buckets: Int = 32, maxDistance: Int = 128) -> [Int32] {
    var ids = [Int32](repeating: 0, count: tq * tk)
    for i in 0..<tq {
        for j in 0..<tk {
            var relative = j - (i + queryOffset)  // key minus query
            var n = buckets
            var bucket = 0
            if bidirectional {
                n /= 2
                if relative > 0 { bucket += n }
                relative = abs(relative)
            } else {
                relative = max(-relative, 0)
            }
            let exact = n / 2
            if relative < exact {
                bucket += relative
            } else {
                let scaled = log(Double(relative) / Double(exact)) / log(Double(maxDistance) / Double(exact)) * Double(n - exact)
                bucket += min(exact + Int(scaled), n - 1)
            }
            ids[i * tk + j] = Int32(bucket)
        }
    }
    return ids
}

extension Graph {
    /// The (H, Tq, Tk) score bias from a (buckets, H) table of learned per-head biases:
    /// out[h, p] = table[ids[p], h]; backward scatter-adds into the table.
    public func relativePositionBias(_ table: Tensor, buckets ids: [Int32], queries tq: Int, keys tk: Int) -> Tensor {
        let (buckets, heads) = (table.shape[0], table.shape[1])
        let pairs = tq * tk
        precondition(ids.count == pairs && ids.allSatisfy { $0 >= 0 && Int($0) < buckets }, "relativePositionBias: \(ids.count) ids for \(tq)x\(tk), \(buckets) buckets")
        let y = output([heads, tq, tk], table)
        for h in 0..<heads {
            let row = y.data + h * pairs
            for (p, id) in ids.enumerated() { row[p] = table.data[Int(id) * heads + h] }
        }
        record("relativePositionBias", y) {
            let (dy, dt) = (y.grad!, table.gradBuffer())
            for h in 0..<heads {
                for (p, id) in ids.enumerated() { dt[Int(id) * heads + h] += dy[h * pairs + p] }
            }
        }
        return y
    }
}
