import Engine

/// k-means over the rows of a matrix, plain or balanced.
///
/// Seeding is k-means++ (Arthur & Vassilvitskii) on a seeded random sample of at most 64 k rows, which
/// keeps seeding linear in k. Each iteration assigns rows (nearest centroid, or the balanced assignment
/// below) and moves each centroid to its rows' mean. Iteration stops when the sum of squared distances
/// improves by less than `tolerance` (relative), or after `maxIterations`.
///
/// Balanced assignment gives every cluster exactly floor(n/k) rows and the last one the remainder
/// (OneRec's balanced k-means). Rows are placed greedily in order of regret (how much they lose if
/// they do not get their nearest centroid: second-nearest minus nearest distance), each into its
/// nearest cluster that still has room. An iteration's assignment is kept only if it lowers the sum of
/// squared distances; otherwise the previous one stands and iteration stops. Together with the mean
/// update (which never raises it) the objective falls monotonically and is bounded below, and there are
/// finitely many assignments, so the procedure terminates.
public struct KMeans: Sendable {
    public enum Mode: String, Sendable { case plain, balanced }

    public var clusters: Int
    public var mode: Mode = .balanced
    public var maxIterations = 25
    public var tolerance: Float = 1e-4
    public var seed: UInt64 = 1

    public init(clusters: Int, mode: Mode = .balanced, seed: UInt64 = 1) {
        self.clusters = clusters
        self.mode = mode
        self.seed = seed
    }

    public struct Result: Sendable {
        /// (k, d) centroids.
        public let centroids: [Float]
        /// Cluster of each row.
        public let assignment: [Int32]
        /// Sum of squared distances from rows to their centroids.
        public let objective: Double
        public let iterations: Int
        /// Rows in each of `clusters` clusters.
        public func sizes(clusters: Int) -> [Int] {
            assignment.reduce(into: [Int](repeating: 0, count: clusters)) { $0[Int($1)] += 1 }
        }
    }

    /// Clusters the n rows of `x` (n, d).
    public func fit(_ x: [Float], rows n: Int, dimension d: Int) -> Result {
        precondition(x.count == n * d, "k-means: \(x.count) values for \(n) x \(d)")
        precondition(clusters >= 1 && clusters <= n, "k-means: \(clusters) clusters for \(n) rows")
        return x.withUnsafeBufferPointer { xb in
            let x = xb.baseAddress!
            var centroids = seedCentroids(x, n: n, d: d)
            var (assignment, _) = assign(x, n: n, d: d, centroids: centroids)
            var iterations = 1
            while true {
                centroids = means(x, n: n, d: d, assignment: assignment, previous: centroids)
                let current = objective(x, n: n, d: d, assignment: assignment, centroids: centroids)
                guard iterations < maxIterations else { return Result(centroids: centroids, assignment: assignment, objective: current, iterations: iterations) }
                let (candidate, value) = assign(x, n: n, d: d, centroids: centroids)
                iterations += 1
                // Keep the new assignment only if it is better (always so for the nearest-centroid one).
                guard value < current else { return Result(centroids: centroids, assignment: assignment, objective: current, iterations: iterations) }
                assignment = candidate
                if (current - value) / max(current, 1e-30) < Double(tolerance) {
                    centroids = means(x, n: n, d: d, assignment: assignment, previous: centroids)
                    let final = objective(x, n: n, d: d, assignment: assignment, centroids: centroids)
                    return Result(centroids: centroids, assignment: assignment, objective: final, iterations: iterations)
                }
            }
        }
    }

    private func assign(_ x: UnsafePointer<Float>, n: Int, d: Int, centroids: [Float]) -> ([Int32], Double) {
        mode == .balanced ? balancedAssignment(x, n: n, d: d, centroids: centroids) : nearestAssignment(x, n: n, d: d, centroids: centroids)
    }

    private func objective(_ x: UnsafePointer<Float>, n: Int, d: Int, assignment: [Int32], centroids: [Float]) -> Double {
        centroids.withUnsafeBufferPointer { c in
            var total = 0.0
            for i in 0..<n { total += Double(squaredDistance(x + i * d, c.baseAddress! + Int(assignment[i]) * d, d)) }
            return total
        }
    }

    /// The cluster sizes of a balanced assignment: floor(n/k) each, the last one with the remainder.
    public static func balancedSizes(rows n: Int, clusters k: Int) -> [Int] {
        var sizes = [Int](repeating: n / k, count: k)
        sizes[k - 1] += n - (n / k) * k
        return sizes
    }

    // MARK: Seeding

    private func seedCentroids(_ x: UnsafePointer<Float>, n: Int, d: Int) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let sampleSize = min(n, 64 * clusters)
        var sample = Array(0..<n)
        for i in 0..<sampleSize { sample.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
        sample = Array(sample.prefix(sampleSize))
        var centroids = [Float](repeating: 0, count: clusters * d)
        var nearest = [Float](repeating: .infinity, count: sampleSize)
        var chosen = sample[Int(rng.next() % UInt64(sampleSize))]
        for j in 0..<clusters {
            for t in 0..<d { centroids[j * d + t] = x[chosen * d + t] }
            centroids.withUnsafeBufferPointer { c in
                for (s, row) in sample.enumerated() { nearest[s] = min(nearest[s], squaredDistance(x + row * d, c.baseAddress! + j * d, d)) }
            }
            guard j + 1 < clusters else { break }
            let total = nearest.reduce(0.0) { $0 + Double($1) }
            if total <= 0 {
                chosen = sample[Int(rng.next() % UInt64(sampleSize))]
                continue
            }
            var target = Double(rng.nextFloat()) * total
            chosen = sample[sampleSize - 1]
            for (s, w) in nearest.enumerated() {
                target -= Double(w)
                if target <= 0 { chosen = sample[s]; break }
            }
        }
        return centroids
    }

    // MARK: Assignment

    private func nearestAssignment(_ x: UnsafePointer<Float>, n: Int, d: Int, centroids: [Float]) -> ([Int32], Double) {
        var assignment = [Int32](repeating: 0, count: n)
        var best = [Float](repeating: 0, count: n)
        assignment.withUnsafeMutableBufferPointer { a in
            best.withUnsafeMutableBufferPointer { bd in
                let (a, bd) = (UnsafeSendable(a), UnsafeSendable(bd))
                centroids.withUnsafeBufferPointer { c in
                    DistanceBlocks(x: x, n: n, d: d).forEach(centroids: c.baseAddress!, k: clusters) { start, rows, dist in
                        for r in 0..<rows {
                            var (j0, v0) = (0, dist[r * clusters])
                            for j in 1..<max(clusters, 1) where dist[r * clusters + j] < v0 { (j0, v0) = (j, dist[r * clusters + j]) }
                            a.value[start + r] = Int32(j0)
                            bd.value[start + r] = v0
                        }
                    }
                }
            }
        }
        return (assignment, best.reduce(0.0) { $0 + Double($1) })
    }

    /// Each row's `candidates` nearest clusters (nearest first) and distances; then the greedy
    /// regret-ordered placement into clusters with room; rows whose candidates are all full are placed
    /// in a second pass over all clusters.
    private func balancedAssignment(_ x: UnsafePointer<Float>, n: Int, d: Int, centroids: [Float]) -> ([Int32], Double) {
        let k = clusters
        let t = min(k, 8)
        var candidates = [Int32](repeating: 0, count: n * t)
        var distances = [Float](repeating: 0, count: n * t)
        candidates.withUnsafeMutableBufferPointer { cb in
            distances.withUnsafeMutableBufferPointer { db in
                let (cb, db) = (UnsafeSendable(cb), UnsafeSendable(db))
                centroids.withUnsafeBufferPointer { c in
                    DistanceBlocks(x: x, n: n, d: d).forEach(centroids: c.baseAddress!, k: k) { start, rows, dist in
                        for r in 0..<rows {
                            smallest(dist + r * k, count: k, t: t, indices: cb.value.baseAddress! + (start + r) * t,
                                     values: db.value.baseAddress! + (start + r) * t)
                        }
                    }
                }
            }
        }
        var order = Array(0..<n)
        let regret: [Float] = (0..<n).map { i in t > 1 ? distances[i * t + 1] - distances[i * t] : 0 }
        order.sort { regret[$0] != regret[$1] ? regret[$0] > regret[$1] : $0 < $1 }
        var room = Self.balancedSizes(rows: n, clusters: k)
        var assignment = [Int32](repeating: -1, count: n)
        var objective = 0.0
        var deferred: [Int] = []
        for i in order {
            var placed = false
            for s in 0..<t {
                let j = Int(candidates[i * t + s])
                if room[j] > 0 {
                    room[j] -= 1
                    assignment[i] = Int32(j)
                    objective += Double(distances[i * t + s])
                    placed = true
                    break
                }
            }
            if !placed { deferred.append(i) }
        }
        centroids.withUnsafeBufferPointer { c in
            for i in deferred {
                var (best, bestDistance) = (-1, Float.infinity)
                for j in 0..<k where room[j] > 0 {
                    let v = squaredDistance(x + i * d, c.baseAddress! + j * d, d)
                    if v < bestDistance { (best, bestDistance) = (j, v) }
                }
                room[best] -= 1
                assignment[i] = Int32(best)
                objective += Double(bestDistance)
            }
        }
        return (assignment, objective)
    }

    // MARK: Update

    /// Each cluster's mean; an empty cluster keeps its previous centroid.
    private func means(_ x: UnsafePointer<Float>, n: Int, d: Int, assignment: [Int32], previous: [Float]) -> [Float] {
        var sums = [Double](repeating: 0, count: clusters * d)
        var counts = [Int](repeating: 0, count: clusters)
        for i in 0..<n {
            let j = Int(assignment[i])
            counts[j] += 1
            for t in 0..<d { sums[j * d + t] += Double(x[i * d + t]) }
        }
        var centroids = previous
        for j in 0..<clusters where counts[j] > 0 {
            for t in 0..<d { centroids[j * d + t] = Float(sums[j * d + t] / Double(counts[j])) }
        }
        return centroids
    }
}

/// The t smallest of `count` values, ascending (ties by lower index).
func smallest(_ v: UnsafePointer<Float>, count: Int, t: Int, indices: UnsafeMutablePointer<Int32>, values: UnsafeMutablePointer<Float>) {
    var filled = 0
    for j in 0..<count {
        let x = v[j]
        if filled == t && x >= values[t - 1] { continue }
        var p = min(filled, t - 1)
        while p > 0 && values[p - 1] > x {
            if p < t { values[p] = values[p - 1]; indices[p] = indices[p - 1] }
            p -= 1
        }
        values[p] = x
        indices[p] = Int32(j)
        if filled < t { filled += 1 }
    }
}
