import Engine
import Glibc

/// L levels of centroids: level 1 clusters the vectors, level l clusters what is left after subtracting
/// the centroids chosen at the levels before it (residual k-means). Each level is a `KMeans`, balanced
/// by default.
public struct ResidualQuantizer: Sendable {
    public struct Config: Sendable, Equatable {
        /// Code tokens per item (the paper: 3).
        public var levels = 3
        /// Codes per level; nil picks `defaultCodes(items:levels:)`.
        public var codesPerLevel: Int?
        public var mode: KMeans.Mode = .balanced
        public var maxIterations = 25
        public var seed: UInt64 = 1
        public init() {}
    }

    /// Codes per level for a catalog: about twice the L-th root of its size (so about 8n codes in all,
    /// room for collisions to be resolved), between 2 and 8192 (the paper's K).
    public static func defaultCodes(items: Int, levels: Int) -> Int {
        min(8192, max(2, Int((2 * pow(Double(max(items, 1)), 1 / Double(levels))).rounded(.up))))
    }

    public let dimension: Int
    public let codesPerLevel: Int
    /// Per level: (K, d) centroids.
    public let centroids: [[Float]]
    public var levels: Int { centroids.count }

    public init(dimension: Int, codesPerLevel: Int, centroids: [[Float]]) {
        precondition(centroids.allSatisfy { $0.count == codesPerLevel * dimension }, "ResidualQuantizer: centroid shapes")
        (self.dimension, self.codesPerLevel, self.centroids) = (dimension, codesPerLevel, centroids)
    }

    /// What training produced besides the centroids: each item's code (from the clustering of each
    /// level) and, per level, the final residuals' squared norms and the cluster sizes.
    public struct Training: Sendable {
        /// (items, levels) codes.
        public let codes: [Int32]
        /// Per level: the sum over items of ||residual after this level||^2.
        public let residualEnergy: [Double]
        /// Sum over items of ||x||^2.
        public let totalEnergy: Double
        /// Per level: items in each cluster.
        public let sizes: [[Int]]
        /// Items' residuals after the last level (n, d): of the items sharing a code, the resolver keeps
        /// the one with the smallest.
        let lastResiduals: [Float]
    }

    /// Trains on `vectors`; `progress(level)` is called as each level finishes.
    public static func train(_ vectors: ItemVectors, config: Config, progress: (Int) -> Void = { _ in }) -> (ResidualQuantizer, Training) {
        let (n, d) = (vectors.count, vectors.dimension)
        let k = min(config.codesPerLevel ?? defaultCodes(items: n, levels: config.levels), n)
        var residual = vectors.values
        var centroids: [[Float]] = []
        var codes = [Int32](repeating: 0, count: n * config.levels)
        var energy: [Double] = []
        var sizes: [[Int]] = []
        let total = residual.reduce(0.0) { $0 + Double($1 * $1) }
        for level in 0..<config.levels {
            var kmeans = KMeans(clusters: k, mode: config.mode, seed: config.seed &+ UInt64(level))
            kmeans.maxIterations = config.maxIterations
            let result = kmeans.fit(residual, rows: n, dimension: d)
            var e = 0.0
            for i in 0..<n {
                let c = Int(result.assignment[i])
                codes[i * config.levels + level] = Int32(c)
                for t in 0..<d {
                    residual[i * d + t] -= result.centroids[c * d + t]
                    e += Double(residual[i * d + t] * residual[i * d + t])
                }
            }
            centroids.append(result.centroids)
            energy.append(e)
            sizes.append(result.sizes(clusters: k))
            progress(level)
        }
        let quantizer = ResidualQuantizer(dimension: d, codesPerLevel: k, centroids: centroids)
        return (quantizer, Training(codes: codes, residualEnergy: energy, totalEnergy: total, sizes: sizes,
                                    lastResiduals: residual))
    }

    /// The nearest-centroid code of a vector, level by level (how items that arrive later are coded).
    public func encode(_ vector: ArraySlice<Float>) -> [Int32] {
        var residual = Array(vector)
        var code: [Int32] = []
        for level in 0..<levels {
            let c = nearest(residual, level: level)
            code.append(Int32(c))
            for t in 0..<dimension { residual[t] -= centroids[level][c * dimension + t] }
        }
        return code
    }

    /// The residual left after the first `upTo` levels of `code`.
    public func residual(_ vector: ArraySlice<Float>, code: [Int32], upTo: Int) -> [Float] {
        var r = Array(vector)
        for level in 0..<upTo {
            for t in 0..<dimension { r[t] -= centroids[level][Int(code[level]) * dimension + t] }
        }
        return r
    }

    /// The centroid indices of `level`, nearest to `residual` first.
    public func ranked(_ residual: [Float], level: Int) -> [Int] {
        let distances = (0..<codesPerLevel).map { c in
            residual.withUnsafeBufferPointer { r in centroids[level].withUnsafeBufferPointer { squaredDistance(r.baseAddress!, $0.baseAddress! + c * dimension, dimension) } }
        }
        return (0..<codesPerLevel).sorted { distances[$0] != distances[$1] ? distances[$0] < distances[$1] : $0 < $1 }
    }

    private func nearest(_ residual: [Float], level: Int) -> Int {
        var (best, bestDistance) = (0, Float.infinity)
        residual.withUnsafeBufferPointer { r in
            centroids[level].withUnsafeBufferPointer { c in
                for j in 0..<codesPerLevel {
                    let v = squaredDistance(r.baseAddress!, c.baseAddress! + j * dimension, dimension)
                    if v < bestDistance { (best, bestDistance) = (j, v) }
                }
            }
        }
        return best
    }
}
