import Engine

/// Squared Euclidean distances between rows of x (n, d) and centroids (k, d), computed block by block
/// as matrix products: ||x||^2 - 2 x.c + ||c||^2. `body` receives each block's first row, row count and
/// its (rows, k) distances; blocks run on the compute workers, so `body` must only touch its own rows.
struct DistanceBlocks {
    static let blockRows = 8192

    let x: UnsafePointer<Float>
    let n: Int, d: Int

    func forEach(centroids c: UnsafePointer<Float>, k: Int, _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        var cNorms = [Float](repeating: 0, count: k)
        for j in 0..<k { cNorms[j] = squaredNorm(c + j * d, d) }
        let blocks = (n + Self.blockRows - 1) / Self.blockRows
        cNorms.withUnsafeBufferPointer { cn in
            Compute.parallelFor(blocks) { b in
                let start = b * Self.blockRows
                let rows = min(Self.blockRows, n - start)
                let dist = UnsafeMutablePointer<Float>.allocate(capacity: rows * k)
                defer { dist.deallocate() }
                gemm(transposeB: true, m: rows, n: k, k: d, alpha: -2, a: x + start * d, b: c, c: dist, split: false)
                for r in 0..<rows {
                    let xn = squaredNorm(x + (start + r) * d, d)
                    let row = dist + r * k
                    for j in 0..<k { row[j] = max(0, row[j] + xn + cn[j]) }
                }
                body(start, rows, dist)
            }
        }
    }
}

@inline(__always)
func squaredNorm(_ v: UnsafePointer<Float>, _ d: Int) -> Float {
    var s: Float = 0
    for i in 0..<d { s += v[i] * v[i] }
    return s
}

@inline(__always)
func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ d: Int) -> Float {
    var s: Float = 0
    for i in 0..<d {
        let t = a[i] - b[i]
        s += t * t
    }
    return s
}
