import CKernels

extension Graph {
    public func gelu(_ x: Tensor) -> Tensor { unary("gelu", x, ok_gelu_forward) { ok_gelu_backward($0, x.data, $1, x.count) } }
    public func relu(_ x: Tensor) -> Tensor { unary("relu", x, ok_relu_forward) { ok_relu_backward($0, x.data, $1, x.count) } }
    public func silu(_ x: Tensor) -> Tensor { unary("silu", x, ok_silu_forward) { ok_silu_backward($0, x.data, $1, x.count) } }
    public func logSigmoid(_ x: Tensor) -> Tensor {
        unary("logSigmoid", x, ok_log_sigmoid_forward) { ok_log_sigmoid_backward($0, x.data, $1, x.count) }
    }

    public func sigmoid(_ x: Tensor) -> Tensor {
        let y = output(x.shape, x)
        ok_sigmoid_forward(y.data, x.data, x.count)
        record("sigmoid", y) { ok_sigmoid_backward(x.gradBuffer(), y.data, y.grad!, x.count) }
        return y
    }

    /// Inverted dropout: in training, zeroes each element with probability p and scales the rest by
    /// 1/(1-p), drawing from the graph's seeded generator; identity in inference.
    public func dropout(_ x: Tensor, _ p: Float) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout probability \(p) outside [0, 1)")
        guard training, p > 0 else { return x }
        let keep = Storage(count: x.count)
        let s = 1 / (1 - p)
        for i in 0..<x.count { keep.data[i] = random.nextFloat() < p ? 0 : s }
        let y = output(x.shape, x)
        ok_mul(y.data, x.data, keep.data, x.count)
        record("dropout", y) { ok_accumulate_mul(x.gradBuffer(), y.grad!, keep.data, x.count) }
        return y
    }

    private func unary(
        _ op: String, _ x: Tensor, _ forward: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
        backward: @escaping (UnsafeMutablePointer<Float>, UnsafePointer<Float>) -> Void
    ) -> Tensor {
        let y = output(x.shape, x)
        forward(y.data, x.data, x.count)
        record(op, y) { backward(x.gradBuffer(), y.grad!) }
        return y
    }
}
