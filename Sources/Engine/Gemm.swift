import BLAS

/// Row-major C = alpha op(A) op(B) + beta C, split over the compute workers when it is large enough:
/// along the rows of C when m >= n, else along its columns. `split: false` keeps it on this thread
/// (inside an already-parallel region).
public func gemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
          a: UnsafePointer<Float>, lda: Int? = nil, b: UnsafePointer<Float>, ldb: Int? = nil,
          beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil, split: Bool = true) {
    let lda = lda ?? (transposeA ? m : k)
    let ldb = ldb ?? (transposeB ? k : n)
    let ldc = ldc ?? n
    let blas = Compute.blas
    let flops: Double = Double(m) * Double(n) * Double(k)
    let workers = split && flops >= 2_000_000 ? Compute.threads : 1
    if workers <= 1 {
        blas.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                   b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    if m >= n {
        let chunk = (m + workers - 1) / workers
        Compute.parallelFor(workers) { w in
            let m0 = w * chunk, rows = min(chunk, m - m0)
            guard rows > 0 else { return }
            blas.sgemm(transposeA: transposeA, transposeB: transposeB, m: rows, n: n, k: k, alpha: alpha,
                       a: transposeA ? a + m0 : a + m0 * lda, lda: lda, b: b, ldb: ldb, beta: beta, c: c + m0 * ldc, ldc: ldc)
        }
    } else {
        let chunk = (n + workers - 1) / workers
        Compute.parallelFor(workers) { w in
            let n0 = w * chunk, cols = min(chunk, n - n0)
            guard cols > 0 else { return }
            blas.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: cols, k: k, alpha: alpha, a: a, lda: lda,
                       b: transposeB ? b + n0 * ldb : b + n0, ldb: ldb, beta: beta, c: c + n0, ldc: ldc)
        }
    }
}
