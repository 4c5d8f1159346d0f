import CKernels

extension Graph {
    /// LayerNorm over the last dimension with weight and optional bias (C).
    public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let (rows, c) = (x.rows, x.lastDimension)
        precondition(weight.shape == [c] && (bias == nil || bias!.shape == [c]), "layerNorm: weight/bias must be (\(c))")
        let y = bias.map { output(x.shape, x, weight, $0) } ?? output(x.shape, x, weight)
        let mean = Storage(count: rows)
        let rstd = Storage(count: rows)
        ok_layernorm_forward(y.data, mean.data, rstd.data, x.data, weight.data, bias?.data, rows, c, eps)
        record("layerNorm", y) {
            ok_layernorm_backward(
                x.requiresGrad ? x.gradBuffer() : nil, weight.requiresGrad ? weight.gradBuffer() : nil,
                bias.flatMap { $0.requiresGrad ? $0.gradBuffer() : nil }, y.grad!, x.data, weight.data,
                mean.data, rstd.data, rows, c)
        }
        return y
    }

    /// RMSNorm over the last dimension (T5's layer norm: no mean, no bias).
    public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float = 1e-6) -> Tensor {
        let (rows, c) = (x.rows, x.lastDimension)
        precondition(weight.shape == [c], "rmsNorm: weight must be (\(c)), got \(weight.shape)")
        let y = output(x.shape, x, weight)
        let rstd = Storage(count: rows)
        ok_rmsnorm_forward(y.data, rstd.data, x.data, weight.data, rows, c, eps)
        record("rmsNorm", y) {
            ok_rmsnorm_backward(
                x.requiresGrad ? x.gradBuffer() : nil, weight.requiresGrad ? weight.gradBuffer() : nil,
                y.grad!, x.data, weight.data, rstd.data, rows, c)
        }
        return y
    }
}
