import CKernels

extension Graph {
    /// The same values with another shape (a view: no copy).
    public func reshape(_ x: Tensor, _ shape: [Int]) -> Tensor {
        precondition(shape.reduce(1, *) == x.count, "reshape \(x.shape) to \(shape)")
        let y = Tensor(shape: shape, storage: x.storage, requiresGrad: training && x.requiresGrad)
        record("reshape", y) { ok_accumulate(x.gradBuffer(), y.grad!, x.count) }
        return y
    }

    /// Swaps dimensions `d0` and `d1` (a copy).
    public func transpose(_ x: Tensor, _ d0: Int, _ d1: Int) -> Tensor {
        var shape = x.shape
        shape.swapAt(d0, d1)
        let y = output(shape, x)
        let map = TransposeMap(shape: x.shape, d0: d0, d1: d1)
        map.forEach { src, dst in y.data[dst] = x.data[src] }
        record("transpose", y) {
            let dy = y.grad!
            let dx = x.gradBuffer()
            map.forEach { src, dst in dx[src] += dy[dst] }
        }
        return y
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public func concat(_ xs: [Tensor], axis: Int) -> Tensor {
        precondition(!xs.isEmpty, "concat of nothing")
        let first = xs[0].shape
        for x in xs {
            precondition(x.shape.count == first.count && (0..<first.count).allSatisfy { $0 == axis || x.shape[$0] == first[$0] },
                         "concat: \(x.shape) does not fit \(first) along axis \(axis)")
        }
        var shape = first
        shape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        let outer = first[..<axis].reduce(1, *)
        let inner = first[(axis + 1)...].reduce(1, *)
        let y = Tensor(shape: shape, requiresGrad: training && xs.contains { $0.requiresGrad })
        let rowOut = shape[axis] * inner
        var offset = 0
        for x in xs {
            let chunk = x.shape[axis] * inner
            for o in 0..<outer { (y.data + o * rowOut + offset).update(from: x.data + o * chunk, count: chunk) }
            offset += chunk
        }
        record("concat", y) {
            let dy = y.grad!
            var offset = 0
            for x in xs {
                let chunk = x.shape[axis] * inner
                if x.requiresGrad {
                    for o in 0..<outer { ok_accumulate(x.gradBuffer() + o * chunk, dy + o * rowOut + offset, chunk) }
                }
                offset += chunk
            }
        }
        return y
    }

    /// The part of x with index in `range` along `axis` (a copy).
    public func slice(_ x: Tensor, axis: Int, _ range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= x.shape[axis], "slice \(range) of axis \(axis) in \(x.shape)")
        var shape = x.shape
        shape[axis] = range.count
        let outer = x.shape[..<axis].reduce(1, *)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let rowIn = x.shape[axis] * inner
        let chunk = range.count * inner
        let start = range.lowerBound * inner
        let y = output(shape, x)
        for o in 0..<outer { (y.data + o * chunk).update(from: x.data + o * rowIn + start, count: chunk) }
        record("slice", y) {
            let dy = y.grad!
            let dx = x.gradBuffer()
            for o in 0..<outer { ok_accumulate(dx + o * rowIn + start, dy + o * chunk, chunk) }
        }
        return y
    }
}

/// Index pairs (source, destination) of a two-dimension swap, visited in source order.
struct TransposeMap {
    let shape: [Int]
    let d0: Int
    let d1: Int

    func forEach(_ body: (Int, Int) -> Void) {
        let rank = shape.count
        var outStrides = [Int](repeating: 1, count: rank)
        var outShape = shape
        outShape.swapAt(d0, d1)
        for i in stride(from: rank - 2, through: 0, by: -1) { outStrides[i] = outStrides[i + 1] * outShape[i + 1] }
        var index = [Int](repeating: 0, count: rank)
        let count = shape.reduce(1, *)
        for src in 0..<count {
            var dst = 0
            for d in 0..<rank {
                let od = d == d0 ? d1 : (d == d1 ? d0 : d)
                dst += index[d] * outStrides[od]
            }
            body(src, dst)
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
    }
}
