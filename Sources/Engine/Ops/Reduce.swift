import CKernels
import Foundation

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

extension Graph {
    /// log sum exp over the last dimension: x (..., K) -> (...). Backward: softmax(x) times the gradient.
    public func logSumExp(_ x: Tensor) -> Tensor {
        let (rows, k) = (x.rows, x.lastDimension)
        let y = output(Array(x.shape.dropLast()), x)
        let probs = Storage(count: x.count, zeroed: false)
        ok_softmax_forward(probs.data, x.data, rows, k)
        for r in 0..<rows {
            var mx = -Float.infinity
            for j in 0..<k { mx = max(mx, x.data[r * k + j]) }
            var sum: Double = 0
            for j in 0..<k { sum += exp(Double(x.data[r * k + j] - mx)) }
            y.data[r] = mx + Float(log(sum))
        }
        record("logSumExp", y) {
            let (dy, dx) = (y.grad!, x.gradBuffer())
            for r in 0..<rows { for j in 0..<k { dx[r * k + j] += dy[r] * probs.data[r * k + j] } }
        }
        return y
    }

    /// a - b (same shapes, or b broadcast over a's leading dimensions).
    public func sub(_ a: Tensor, _ b: Tensor) -> Tensor { add(a, scale(b, -1)) }
}
