import CKernels

extension Graph {
    public func gelu(_ x: Tensor) -> Tensor { unary("gelu", x, ok_gelu_forward, ok_gelu_backward) }
    public func relu(_ x: Tensor) -> Tensor { unary("relu", x, ok_relu_forward, ok_relu_backward) }
    public func silu(_ x: Tensor) -> Tensor { unary("silu", x, ok_silu_forward, ok_silu_backward) }
    public func logSigmoid(_ x: Tensor) -> Tensor { unary("logSigmoid", x, ok_log_sigmoid_forward, ok_log_sigmoid_backward) }

    public func sigmoid(_ x: Tensor) -> Tensor {
        let y = output(x.shape, x)
        Compute.chunks(x.count) { s, n in ok_sigmoid_forward(y.data + s, x.data + s, n) }
        // sigmoid's backward reads its output, not its input.
        record("sigmoid", y) {
            let (dx, dy) = (x.gradBuffer(), y.grad!)
            Compute.chunks(x.count) { s, n in ok_sigmoid_backward(dx + s, y.data + s, dy + s, n) }
        }
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

    /// An elementwise op whose backward reads its input: forward(out, x, n), backward(dx, x, dout, n).
    private func unary(
        _ op: String, _ x: Tensor, _ forward: @escaping (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
        _ backward: @escaping (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Void
    ) -> Tensor {
        let y = output(x.shape, x)
        Compute.chunks(x.count) { s, n in forward(y.data + s, x.data + s, n) }
        record(op, y) {
            let (dx, dy) = (x.gradBuffer(), y.grad!)
            Compute.chunks(x.count) { s, n in backward(dx + s, x.data + s, dy + s, n) }
        }
        return y
    }
}
