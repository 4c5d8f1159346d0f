import CKernels

extension Graph {
    /// Softmax over the last dimension.
    public func softmax(_ x: Tensor) -> Tensor {
        let y = output(x.shape, x)
        ok_softmax_forward(y.data, x.data, x.rows, x.lastDimension)
        record("softmax", y) { ok_softmax_backward(x.gradBuffer(), y.data, y.grad!, x.rows, x.lastDimension) }
        return y
    }
}
