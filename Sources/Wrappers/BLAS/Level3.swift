import COpenBLAS

/// Row-major BLAS calls with Swift labels. Buffers must hold the shapes given (the caller's contract);
/// a negative shape is a bug and traps.
extension OpenBLAS {
    /// C = alpha * op(A) @ op(B) + beta * C, all row-major.
    /// op(A) is (m,k), op(B) is (k,n), C is (m,n). A is (m,k) or, transposed, (k,m); likewise B.
    public func sgemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative shape (\(m),\(n),\(k))")
        let lda = lda ?? (transposeA ? m : k)
        let ldb = ldb ?? (transposeB ? k : n)
        let ldc = ldc ?? n
        sgemmFn(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// y = alpha * op(A) @ x + beta * y, A row-major (rows, cols).
    public func sgemv(
        transpose: Bool = false, rows: Int, cols: Int, alpha: Float = 1, a: UnsafePointer<Float>,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        sgemvFn(
            CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, blasint(rows), blasint(cols), alpha, a,
            blasint(cols), x, 1, beta, y, 1)
    }

    /// y += alpha * x, both of length n.
    public func saxpy(n: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        saxpyFn(blasint(n), alpha, x, 1, y, 1)
    }

    /// x . y, both of length n.
    public func sdot(n: Int, x: UnsafePointer<Float>, y: UnsafePointer<Float>) -> Float {
        sdotFn(blasint(n), x, 1, y, 1)
    }
}
