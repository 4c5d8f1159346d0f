import CKernels

extension Graph {
    /// a + b: same shapes, or b's shape a suffix of a's (b broadcast over a's leading dimensions).
    public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        let repeats = broadcastRepeats(a, b, "add")
        let y = output(a.shape, a, b)
        if repeats == 1 {
            Compute.chunks(a.count) { s, n in ok_add(y.data + s, a.data + s, b.data + s, n) }
        } else {
            ok_add_rows(y.data, a.data, b.data, repeats, b.count)
        }
        record("add", y) {
            let dy = y.grad!
            if a.requiresGrad {
                let da = a.gradBuffer()
                Compute.chunks(a.count) { s, n in ok_accumulate(da + s, dy + s, n) }
            }
            if b.requiresGrad { ok_sum_rows_accumulate(b.gradBuffer(), dy, repeats, b.count) }
        }
        return y
    }

    /// a * b elementwise: same shapes, or b broadcast over a's leading dimensions.
    public func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
        let repeats = broadcastRepeats(a, b, "mul")
        let c = b.count
        let y = output(a.shape, a, b)
        for r in 0..<repeats { ok_mul(y.data + r * c, a.data + r * c, b.data, c) }
        record("mul", y) {
            let dy = y.grad!
            for r in 0..<repeats {
                if a.requiresGrad { ok_accumulate_mul(a.gradBuffer() + r * c, dy + r * c, b.data, c) }
                if b.requiresGrad { ok_accumulate_mul(b.gradBuffer(), dy + r * c, a.data + r * c, c) }
            }
        }
        return y
    }

    /// s * x.
    public func scale(_ x: Tensor, _ s: Float) -> Tensor {
        let y = output(x.shape, x)
        for i in 0..<x.count { y.data[i] = s * x.data[i] }
        record("scale", y) { ok_accumulate_scaled(x.gradBuffer(), y.grad!, s, x.count) }
        return y
    }

    /// How often b repeats along a; traps unless b's shape is a suffix of a's.
    private func broadcastRepeats(_ a: Tensor, _ b: Tensor, _ op: String) -> Int {
        precondition(b.shape.count <= a.shape.count && Array(a.shape.suffix(b.shape.count)) == b.shape,
                     "\(op): \(b.shape) does not broadcast over \(a.shape)")
        return b.count == 0 ? 0 : a.count / b.count
    }
}
