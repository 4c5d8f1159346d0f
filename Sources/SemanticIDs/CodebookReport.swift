import Foundation

/// The numbers that say whether a codebook is healthy: codes in use, collisions before resolution,
/// cluster-size balance, reconstruction error and token entropy level by level.
public struct CodebookReport: Sendable, CustomStringConvertible {
    public let items: Int
    public let levels: Int
    public let codesPerLevel: Int
    public let mode: KMeans.Mode
    /// Distinct codes used at each level (by the final, resolved codes).
    public let codesUsed: [Int]
    /// Items that shared a code with another item before resolution.
    public let collisionsBeforeResolution: Int
    /// Smallest and largest cluster at each level (of the training clustering).
    public let clusterSizes: [(min: Int, max: Int)]
    /// ||x - reconstruction after l levels||^2 / ||x||^2, summed over items, for l = 1...L.
    public let relativeError: [Double]
    /// Shannon entropy (bits) of each level's code tokens over the items.
    public let entropy: [Double]
    public let seconds: Double

    public init(codebook: Codebook, training: ResidualQuantizer.Training, mode: KMeans.Mode, seconds: Double) {
        let assignments = codebook.assignments
        items = assignments.count
        levels = codebook.levels
        codesPerLevel = codebook.quantizer.codesPerLevel
        self.mode = mode
        var counts = [[Int]](repeating: [Int](repeating: 0, count: codesPerLevel), count: levels)
        for (_, code) in assignments { for l in 0..<levels { counts[l][Int(code[l])] += 1 } }
        codesUsed = counts.map { $0.filter { $0 > 0 }.count }
        entropy = counts.map { level in
            let n = Double(level.reduce(0, +))
            return -level.filter { $0 > 0 }.reduce(0.0) { $0 + Double($1) / n * log2(Double($1) / n) }
        }
        collisionsBeforeResolution = codebook.collisionsBeforeResolution
        clusterSizes = training.sizes.map { ($0.min() ?? 0, $0.max() ?? 0) }
        relativeError = training.residualEnergy.map { $0 / max(training.totalEnergy, 1e-30) }
        self.seconds = seconds
    }

    public var description: String {
        var lines = [
            "items \(items), levels \(levels), codes per level \(codesPerLevel), \(mode.rawValue) k-means, built in \(String(format: "%.2f", seconds)) s",
            String(format: "collisions before resolution: %d items (%.2f%%); after: 0", collisionsBeforeResolution,
                   100 * Double(collisionsBeforeResolution) / Double(max(items, 1))),
            "level  codes used   cluster size min/max   relative error   entropy (bits)",
        ]
        for l in 0..<levels {
            lines.append(String(format: "%5d  %5d/%-5d  %9d/%-9d   %14.4f   %14.3f", l + 1, codesUsed[l], codesPerLevel,
                                clusterSizes[l].min, clusterSizes[l].max, relativeError[l], entropy[l]))
        }
        return lines.joined(separator: "\n")
    }
}
