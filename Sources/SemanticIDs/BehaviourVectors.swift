import Engine
import Glibc

/// Item vectors from behaviour alone, for deployments without content embeddings: items that appear
/// near each other in users' histories get similar vectors. Co-occurrences within a window are turned
/// into positive pointwise mutual information (with the context distribution smoothed by alpha = 0.75,
/// Levy & Goldberg 2014) and factorised by a randomised SVD (Halko, Martinsson & Tropp 2011: a Gaussian
/// sketch, power iterations, then an exact SVD of the small projected matrix); an item's vector is
/// its row of U * sqrt(Sigma).
public enum BehaviourVectors {
    public struct Config: Sendable {
        public var dimension = 64
        /// Items up to this many positions apart in a history count as co-occurring.
        public var window = 10
        public var oversampling = 10
        public var powerIterations = 3
        public var seed: UInt64 = 1
        public init() {}
    }

    /// Vectors for `items` items from the histories (item indices in time order); rows of items that never
    /// co-occur with another are zero (the codebook rejects them as zero-norm).
    public static func compute(histories: [[Int32]], items n: Int, config: Config = Config()) -> [Float] {
        let ppmi = SparseSymmetric.ppmi(histories: histories, items: n, window: config.window)
        let k = min(config.dimension, n)
        let sketch = min(n, k + config.oversampling)
        var rng = SplitMix64(seed: config.seed)
        var y = (0..<(n * sketch)).map { _ in rng.nextGaussian() }  // (n, sketch)
        y = ppmi.multiply(y, columns: sketch)
        orthonormalize(&y, rows: n, columns: sketch)
        for _ in 0..<config.powerIterations {
            y = ppmi.multiply(y, columns: sketch)  // A is symmetric: A^T A y = A (A y)
            orthonormalize(&y, rows: n, columns: sketch)
            y = ppmi.multiply(y, columns: sketch)
            orthonormalize(&y, rows: n, columns: sketch)
        }
        // B = Q^T A, (sketch, n); its SVD from the eigenvectors of B B^T (sketch x sketch).
        let aq = ppmi.multiply(y, columns: sketch)  // A Q = (Q^T A)^T, (n, sketch)
        var bbt = [Float](repeating: 0, count: sketch * sketch)
        aq.withUnsafeBufferPointer { a in
            bbt.withUnsafeMutableBufferPointer { c in
                gemm(transposeA: true, m: sketch, n: sketch, k: n, a: a.baseAddress!, b: a.baseAddress!, c: c.baseAddress!)
            }
        }
        let (values, vectors) = symmetricEigen(bbt.map(Double.init), size: sketch)
        let order = (0..<sketch).sorted { values[$0] > values[$1] }
        // U = Q Ub; U sqrt(Sigma) with Sigma = sqrt(eigenvalue): each column scaled by eigenvalue^(1/4).
        var out = [Float](repeating: 0, count: n * k)
        for (col, e) in order.prefix(k).enumerated() {
            let scale = Float(pow(max(values[e], 0), 0.25))
            for i in 0..<n {
                var s: Double = 0
                for j in 0..<sketch { s += Double(y[i * sketch + j]) * vectors[j * sketch + e] }
                out[i * k + col] = Float(s) * scale
            }
        }
        return out
    }

    /// Modified Gram-Schmidt on the columns of x (rows, columns), in place.
    static func orthonormalize(_ x: inout [Float], rows: Int, columns: Int) {
        for j in 0..<columns {
            for p in 0..<j {
                var dot: Double = 0
                for i in 0..<rows { dot += Double(x[i * columns + j]) * Double(x[i * columns + p]) }
                for i in 0..<rows { x[i * columns + j] -= Float(dot) * x[i * columns + p] }
            }
            var norm: Double = 0
            for i in 0..<rows { norm += Double(x[i * columns + j] * x[i * columns + j]) }
            let inv = norm > 1e-20 ? Float(1 / norm.squareRoot()) : 0
            for i in 0..<rows { x[i * columns + j] *= inv }
        }
    }

    /// Eigenvalues and eigenvectors (as columns of a row-major matrix) of a symmetric matrix, by cyclic
    /// Jacobi rotations until the off-diagonal mass is negligible.
    static func symmetricEigen(_ matrix: [Double], size n: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] } }
            if off < 1e-22 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where abs(a[p * n + q]) > 1e-300 {
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let (akp, akq) = (a[k * n + p], a[k * n + q])
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let (apk, aqk) = (a[p * n + k], a[q * n + k])
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let (vkp, vkq) = (v[k * n + p], v[k * n + q])
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }
}

/// A symmetric sparse matrix in compressed rows.
struct SparseSymmetric {
    let n: Int
    let rowStart: [Int]
    let columns: [Int32]
    let values: [Float]

    /// PPMI of windowed co-occurrence counts; the diagonal is left out.
    static func ppmi(histories: [[Int32]], items n: Int, window: Int) -> SparseSymmetric {
        var pairs: [UInt64] = []
        for h in histories {
            for i in 0..<h.count {
                for j in (i + 1)..<min(h.count, i + 1 + window) where h[i] != h[j] {
                    let (a, b) = (UInt64(UInt32(h[i])), UInt64(UInt32(h[j])))
                    pairs.append(a << 32 | b)
                    pairs.append(b << 32 | a)
                }
            }
        }
        pairs.sort()
        var rowStart = [Int](repeating: 0, count: n + 1)
        var columns: [Int32] = [], counts: [Float] = []
        var i = 0
        while i < pairs.count {
            var j = i
            while j < pairs.count && pairs[j] == pairs[i] { j += 1 }
            let row = Int(pairs[i] >> 32)
            rowStart[row + 1] += 1
            columns.append(Int32(truncatingIfNeeded: pairs[i] & 0xFFFF_FFFF))
            counts.append(Float(j - i))
            i = j
        }
        for r in 0..<n { rowStart[r + 1] += rowStart[r] }
        // PMI(i, j) = log(P(i, j) / (P(i) P_0.75(j))) = log(c_ij Z / (c_i c_j^0.75)), Z = sum of c^0.75.
        var rowTotal = [Double](repeating: 0, count: n)
        for r in 0..<n { for e in rowStart[r]..<rowStart[r + 1] { rowTotal[r] += Double(counts[e]) } }
        let smoothed = rowTotal.map { pow($0, 0.75) }
        let smoothedTotal = smoothed.reduce(0, +)
        var values = [Float](repeating: 0, count: counts.count)
        for r in 0..<n {
            for e in rowStart[r]..<rowStart[r + 1] {
                let c = Int(columns[e])
                let pmi = log(Double(counts[e]) * smoothedTotal / (rowTotal[r] * smoothed[c]))
                values[e] = Float(max(0, pmi))
            }
        }
        return SparseSymmetric(n: n, rowStart: rowStart, columns: columns, values: values)
    }

    /// A (n, n) times x (n, k).
    func multiply(_ x: [Float], columns k: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * k)
        out.withUnsafeMutableBufferPointer { o in
            x.withUnsafeBufferPointer { xb in
                let (o, xb) = (UnsafeSendable(o), UnsafeSendable(xb))
                Compute.parallelFor(n, parallel: n * k > 1 << 16) { r in
                    let row = o.value.baseAddress! + r * k
                    for e in rowStart[r]..<rowStart[r + 1] {
                        let w = values[e]
                        guard w != 0 else { continue }
                        let src = xb.value.baseAddress! + Int(columns[e]) * k
                        for t in 0..<k { row[t] += w * src[t] }
                    }
                }
            }
        }
        return out
    }
}
