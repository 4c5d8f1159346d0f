import BLAS
import Testing

@Suite struct OpenBLASTests {
    /// Deterministic values in [-1, 1).
    func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    @Test func loadsTheSelectedKernels() throws {
        let blas = try OpenBLAS.shared()
        #expect(!blas.coreName.isEmpty)
        if let wanted = blas.selection.coreType {
            #expect(blas.coreName.lowercased() == wanted.lowercased(), "asked for \(wanted), library runs \(blas.coreName)")
        }
        #expect(blas.config.contains("OpenBLAS"))
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func sgemmMatchesTheDefinition(transposeA: Bool, transposeB: Bool) throws {
        let blas = try OpenBLAS.shared()
        let (m, n, k) = (7, 5, 9)
        let a = values(m * k, seed: 1)
        let b = values(k * n, seed: 2)
        var c = values(m * n, seed: 3)
        var expected = c
        // A is stored (m,k) or (k,m) transposed; B is (k,n) or (n,k).
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k {
                    let av = transposeA ? a[p * m + i] : a[i * k + p]
                    let bv = transposeB ? b[j * k + p] : b[p * n + j]
                    sum += Double(av) * Double(bv)
                }
                expected[i * n + j] = Float(2 * sum + 0.5 * Double(expected[i * n + j]))
            }
        }
        blas.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 2, a: a, b: b, beta: 0.5, c: &c)
        for (x, y) in zip(c, expected) { #expect(abs(x - y) < 1e-5) }
    }

    @Test func levelOneAndTwoMatchTheDefinition() throws {
        let blas = try OpenBLAS.shared()
        let a = values(12, seed: 4)  // (3,4)
        let x = values(4, seed: 5)
        var y = [Float](repeating: 1, count: 3)
        blas.sgemv(rows: 3, cols: 4, a: a, x: x, beta: 1, y: &y)
        for i in 0..<3 {
            let expected = 1 + (0..<4).reduce(Float(0)) { $0 + a[i * 4 + $1] * x[$1] }
            #expect(abs(y[i] - expected) < 1e-5)
        }
        var z = x
        blas.saxpy(n: 4, alpha: -2, x: x, y: &z)
        for (zi, xi) in zip(z, x) { #expect(abs(zi + xi) < 1e-6) }
        #expect(abs(blas.sdot(n: 4, x: x, y: x) - x.reduce(0) { $0 + $1 * $1 }) < 1e-5)
    }

    @Test func threadCountIsSettable() throws {
        let blas = try OpenBLAS.shared()
        let before = blas.threads
        blas.setThreads(1)
        #expect(blas.threads == 1)
        blas.setThreads(before)
        #expect(blas.threads == before)
    }
}
