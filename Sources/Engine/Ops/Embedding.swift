import CKernels

extension Graph {
    /// Rows of `table` (V, C) picked by `ids`: out (ids.count, C), reshaped to `shape + [C]`.
    /// Backward scatter-adds each output row's gradient into its table row.
    public func embedding(_ table: Tensor, _ ids: [Int32], shape: [Int]? = nil) -> Tensor {
        precondition(table.shape.count == 2, "embedding table must be (V, C), got \(table.shape)")
        let (v, c) = (table.shape[0], table.shape[1])
        let outShape = (shape ?? [ids.count]) + [c]
        precondition(outShape.reduce(1, *) == ids.count * c, "embedding: \(ids.count) ids for shape \(outShape)")
        let y = output(outShape, table)
        for (r, id) in ids.enumerated() {
            precondition(id >= 0 && Int(id) < v, "embedding id \(id) outside [0, \(v))")
            (y.data + r * c).update(from: table.data + Int(id) * c, count: c)
        }
        record("embedding", y) {
            let dy = y.grad!
            let dt = table.gradBuffer()
            for (r, id) in ids.enumerated() { ok_accumulate(dt + Int(id) * c, dy + r * c, c) }
        }
        return y
    }
}
