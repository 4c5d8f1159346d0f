import CKernels

extension Graph {
    /// Softmax over the last dimension.
    public func softmax(_ x: Tensor) -> Tensor {
        let y = output(x.shape, x)
        ok_softmax_forward(y.data, x.data, x.rows, x.lastDimension)
        record("softmax", y) { ok_softmax_backward(x.gradBuffer(), y.data, y.grad!, x.rows, x.lastDimension) }
        return y
    }

    /// Log-softmax over the last dimension, inference only (training uses the fused `crossEntropy`).
    public func logSoftmax(_ x: Tensor) -> Tensor {
        precondition(!training, "logSoftmax has no backward rule: use crossEntropy to train")
        let y = output(x.shape, x)
        ok_log_softmax_forward(y.data, x.data, x.rows, x.lastDimension)
        return y
    }
}
