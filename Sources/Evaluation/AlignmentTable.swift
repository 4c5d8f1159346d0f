import Alignment
import Foundation

/// The alignment report's text: the results of several seeds, each figure averaged over them, with the
/// per-seed gains over the base generator so the spread is visible.
public struct AlignmentTable {
    public typealias Row = AlignmentExperiment.Row
    public let results: [AlignmentExperiment.Result]

    /// Rows averaged over seeds, position by position (every seed has the same rows).
    public let rows: [Row]

    public init(results: [AlignmentExperiment.Result]) {
        precondition(!results.isEmpty, "no results")
        self.results = results
        rows = results[0].rows.indices.map { i in Self.average(results.map { $0.rows[i] }) }
    }

    public var lines: [String] {
        let seeds = results.map { String($0.seed) }.joined(separator: ", ")
        var out = ["reward model on held-out users' logged sessions (mean over seeds \(seeds)):",
                   "  tower  AUC     ceiling  predicted  observed  calibration error"]
        for k in RewardModel.towers.indices {
            let auc = results.compactMap { $0.rewardQuality[k].auc }, oracle = results.compactMap { $0.oracleAUC[k] }
            out.append("  " + RewardModel.towers[k].padding(toLength: 7, withPad: " ", startingAt: 0)
                       + (auc.isEmpty ? "-      " : String(format: "%.3f  ", mean(auc)))
                       + (oracle.isEmpty ? "  -    " : String(format: "  %.3f  ", mean(oracle)))
                       + String(format: "%.4f     %.4f    %.4f", mean(results.map { $0.rewardQuality[k].predicted }),
                                mean(results.map { $0.rewardQuality[k].observed }), mean(results.map { $0.rewardQuality[k].calibrationError })))
        }
        out += ["", "Table 1 (mean over seeds \(seeds)):", Self.header] + rows.map(Self.describe)
        out += ["", "gain over the base generator (mean; per seed):"]
        let base = rows.firstIndex { $0.name == "base generator" }!
        for i in results[0].rows.indices where i != base {
            let swt = results.map { gain($0.rows[i].max[0], $0.rows[base].max[0]) }
            let watch = results.map { gain($0.rows[i].trueWatchSeconds, $0.rows[base].trueWatchSeconds) }
            out.append("  " + results[0].rows[i].name.padding(toLength: 26, withPad: " ", startingAt: 0)
                       + "max swt " + Self.gains(swt) + "   true watch " + Self.gains(watch))
        }
        out += ["", "gain per round (mean over seeds): max swt, true watch, and how often the simulator agrees with the reward model's chosen-over-rejected"]
        let objectives = results[0].rounds.reduce(into: [String]()) { if !$0.contains($1.objective) { $0.append($1.objective) } }
        for objective in objectives {
            let count = results[0].rounds.filter { $0.objective == objective }.count
            let cells = (1...max(count, 1)).map { r -> String in
                let rounds = results.compactMap { $0.rounds.first { $0.objective == objective && $0.round == r } }
                return String(format: "%d: %.4f %.1f s %.0f%%", r, mean(rounds.map { $0.row.max[0] }), mean(rounds.map(\.row.trueWatchSeconds)),
                              100 * mean(rounds.map(\.agreement)))
            }
            out.append("  " + objective.padding(toLength: 20, withPad: " ", startingAt: 0) + cells.joined(separator: "   "))
        }
        return out
    }

    /// The r_DPO ablation's lines: per share, the last round's gains over the base and the seconds a round took.
    public static func ablationLines(_ runs: [(seed: UInt64, base: Row, rounds: [Double: [AlignmentExperiment.Round]])]) -> [String] {
        var out = ["r_DPO ablation (DPO; gains after the last round over the base generator, mean; per seed):",
                   "  share  pairs/round  max swt                      true watch                   seconds/round"]
        for share in runs[0].rounds.keys.sorted() {
            let last = runs.map { ($0.base, $0.rounds[share]!.last!) }
            out.append(String(format: "  %4.1f%%  %11.0f  ", 100 * share, mean(runs.map { Double($0.rounds[share]!.map(\.pairs).reduce(0, +)) / Double($0.rounds[share]!.count) }))
                       + gains(last.map { gain($0.1.row.max[0], $0.0.max[0]) }).padding(toLength: 29, withPad: " ", startingAt: 0)
                       + gains(last.map { gain($0.1.row.trueWatchSeconds, $0.0.trueWatchSeconds) }).padding(toLength: 29, withPad: " ", startingAt: 0)
                       + String(format: "%.1f", mean(runs.flatMap { $0.rounds[share]!.map(\.seconds) })))
        }
        return out
    }

    public static let header = "model".padding(toLength: 26, withPad: " ", startingAt: 0)
        + "swt mean/max    vtr mean/max    wtr mean/max    ltr mean/max    true watch  invalid"

    public static func describe(_ r: Row) -> String {
        r.name.padding(toLength: 26, withPad: " ", startingAt: 0)
            + (0..<4).map { String(format: "%.4f %.4f  ", r.mean[$0], r.max[$0]) }.joined()
            + String(format: "%7.1f s   %d", r.trueWatchSeconds, r.invalid)
    }

    static func average(_ rows: [Row]) -> Row {
        Row(name: rows[0].name, mean: (0..<4).map { k in mean(rows.map { $0.mean[k] }) }, max: (0..<4).map { k in mean(rows.map { $0.max[k] }) },
            trueWatchSeconds: mean(rows.map(\.trueWatchSeconds)), invalid: rows.map(\.invalid).reduce(0, +))
    }

    /// "+12% (+10%, +15%)": the mean relative gain, then each seed's when there are several.
    static func gains(_ values: [Double]) -> String {
        let each = values.map { String(format: "%+.0f%%", 100 * $0) }.joined(separator: ", ")
        return String(format: "%+.0f%%", 100 * mean(values)) + (values.count > 1 ? " (\(each))" : "")
    }
}

/// Relative change of `value` over `base`.
func gain(_ value: Double, _ base: Double) -> Double { base > 0 ? value / base - 1 : 0 }
