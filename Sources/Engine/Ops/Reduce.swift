import CKernels

extension Graph {
    /// The sum of every element, as a scalar (shape []).
    public func sum(_ x: Tensor) -> Tensor {
        let y = output([], x)
        y.data[0] = Float(ok_sum(x.data, x.count))
        record("sum", y) {
            let g = y.grad![0]
            let dx = x.gradBuffer()
            for i in 0..<x.count { dx[i] += g }
        }
        return y
    }

    /// The mean of every element, as a scalar.
    public func mean(_ x: Tensor) -> Tensor {
        let y = output([], x)
        let n = Float(max(x.count, 1))
        y.data[0] = Float(ok_sum(x.data, x.count)) / n
        record("mean", y) {
            let g = y.grad![0] / n
            let dx = x.gradBuffer()
            for i in 0..<x.count { dx[i] += g }
        }
        return y
    }

    /// Sums of the last dimension: x (..., C) -> (...).
    public func sumLast(_ x: Tensor) -> Tensor {
        let c = x.lastDimension
        let y = output(Array(x.shape.dropLast()), x)
        for r in 0..<x.rows { y.data[r] = Float(ok_sum(x.data + r * c, c)) }
        record("sumLast", y) {
            let dy = y.grad!
            let dx = x.gradBuffer()
            for r in 0..<x.rows { for i in 0..<c { dx[r * c + i] += dy[r] } }
        }
        return y
    }
}
