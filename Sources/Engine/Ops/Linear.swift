import CKernels

extension Graph {
    /// y (..., N) = x (..., K) @ w^T + b, with w (N, K) laid out as PyTorch's nn.Linear and b (N).
    public func linear(_ x: Tensor, _ w: Tensor, _ b: Tensor? = nil) -> Tensor {
        precondition(w.shape.count == 2 && x.lastDimension == w.shape[1], "linear: x \(x.shape) by w \(w.shape)")
        let (m, k, n) = (x.rows, w.shape[1], w.shape[0])
        if let b { precondition(b.shape == [n], "linear: bias \(b.shape) for \(n) outputs") }
        let y = b.map { output(Array(x.shape.dropLast()) + [n], x, w, $0) } ?? output(Array(x.shape.dropLast()) + [n], x, w)
        linearForward(y.data, x.data, w.data, b?.data, m: m, k: k, n: n)
        record("linear", y) {
            let dy = y.grad!
            if x.requiresGrad { gemm(m: m, n: k, k: n, a: dy, b: w.data, beta: 1, c: x.gradBuffer()) }
            if w.requiresGrad { gemm(transposeA: true, m: n, n: k, k: m, a: dy, b: x.data, beta: 1, c: w.gradBuffer()) }
            if let b, b.requiresGrad { ok_sum_rows_accumulate(b.gradBuffer(), dy, m, n) }
        }
        return y
    }

    /// y (..., N) = x (..., K) @ wT + b with the weight already transposed, wT (K, N): the layout that
    /// multiplies fastest when x has few rows (decoding), kept by inference snapshots of a model.
    public func linear(_ x: Tensor, transposedWeight wT: Tensor, _ b: Tensor? = nil) -> Tensor {
        precondition(wT.shape.count == 2 && x.lastDimension == wT.shape[0], "linear: x \(x.shape) by wT \(wT.shape)")
        let (m, k, n) = (x.rows, wT.shape[0], wT.shape[1])
        let y = b.map { output(Array(x.shape.dropLast()) + [n], x, wT, $0) } ?? output(Array(x.shape.dropLast()) + [n], x, wT)
        if let b {
            precondition(b.shape == [n], "linear: bias \(b.shape) for \(n) outputs")
            for r in 0..<m { (y.data + r * n).update(from: b.data, count: n) }
        }
        gemm(m: m, n: n, k: k, a: x.data, b: wT.data, beta: b == nil ? 0 : 1, c: y.data)
        record("linearTransposed", y) {
            let dy = y.grad!
            if x.requiresGrad { gemm(transposeB: true, m: m, n: k, k: n, a: dy, b: wT.data, beta: 1, c: x.gradBuffer()) }
            if wT.requiresGrad { gemm(transposeA: true, m: k, n: n, k: m, a: x.data, b: dy, beta: 1, c: wT.gradBuffer()) }
            if let b, b.requiresGrad { ok_sum_rows_accumulate(b.gradBuffer(), dy, m, n) }
        }
        return y
    }

    /// Batched c = op(a) @ op(b): a (..., M, K) (or (..., K, M) with transposeA), b (..., K, N) (or (..., N, K)
    /// with transposeB), or b 2-D and shared by every batch.
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.shape.count >= 2 && b.shape.count >= 2, "matmul needs matrices: \(a.shape) \(b.shape)")
        let ar = a.shape.count
        let (m, k) = transposeA ? (a.shape[ar - 1], a.shape[ar - 2]) : (a.shape[ar - 2], a.shape[ar - 1])
        let br = b.shape.count
        let (kb, n) = transposeB ? (b.shape[br - 1], b.shape[br - 2]) : (b.shape[br - 2], b.shape[br - 1])
        precondition(k == kb, "matmul: inner dimensions \(k) and \(kb) differ (\(a.shape) \(b.shape))")
        let batch = a.count / (m * k)
        let sharedB = br == 2
        precondition(sharedB || b.count / (k * n) == batch, "matmul: batch of \(a.shape) and \(b.shape) differ")
        let c = output(Array(a.shape.dropLast(2)) + [m, n], a, b)
        let (sa, sb, sc) = (m * k, sharedB ? 0 : k * n, m * n)
        for i in 0..<batch {
            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                       a: a.data + i * sa, b: b.data + i * sb, c: c.data + i * sc)
        }
        record("matmul", c) {
            let dc = c.grad!
            for i in 0..<batch {
                let dci = dc + i * sc
                if a.requiresGrad {
                    // dA = dC @ op(B)^T, laid out as A is.
                    if transposeA {
                        gemm(transposeA: transposeB, transposeB: true, m: k, n: m, k: n, a: b.data + i * sb, b: dci, beta: 1, c: a.gradBuffer() + i * sa)
                    } else {
                        gemm(transposeB: !transposeB, m: m, n: k, k: n, a: dci, b: b.data + i * sb, beta: 1, c: a.gradBuffer() + i * sa)
                    }
                }
                if b.requiresGrad {
                    // dB = op(A)^T @ dC, laid out as B is.
                    if transposeB {
                        gemm(transposeA: true, transposeB: transposeA, m: n, n: k, k: m, a: dci, b: a.data + i * sa, beta: 1, c: b.gradBuffer() + i * sb)
                    } else {
                        gemm(transposeA: !transposeA, m: k, n: n, k: m, a: a.data + i * sa, b: dci, beta: 1, c: b.gradBuffer() + i * sb)
                    }
                }
            }
        }
        return c
    }
}

/// y (m, n) = x (m, k) @ w (n, k)^T + b (n): the forward of `linear`, shared with the tape-free inference path.
func linearForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                   _ b: UnsafePointer<Float>?, m: Int, k: Int, n: Int) {
    if let b {
        for r in 0..<m { (y + r * n).update(from: b, count: n) }
    }
    gemm(transposeB: true, m: m, n: n, k: k, a: x, b: w, beta: b == nil ? 0 : 1, c: y)
}
