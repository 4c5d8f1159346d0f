import Foundation

/// Test-then-train accuracy of the daemon's own answers (prequential evaluation, Vinagre, Jorge and Gama,
/// arXiv 1504.08175): a sample of arriving positive interactions, each ranked before anything learns
/// from it against what the daemon would have answered that user just before (`served`: the serving
/// version's items for a user with history, popular items otherwise) and against popular items alone.
/// A hit is the item among the top 10; NDCG@10 is 1 / log2(rank + 1) with one relevant item. Kept per
/// window of event time (the curve), per serving version, and in total.
public struct OnlineAccuracy: Codable, Sendable, Equatable {
    public static let cutoff = 10

    /// Tested interactions, hits in the top 10 and the sum of their NDCG@10.
    public struct Tally: Codable, Sendable, Equatable {
        public var tested = 0
        public var hits = 0
        public var ndcgSum = 0.0
        public init() {}

        public var hitRate: Double { tested > 0 ? Double(hits) / Double(tested) : 0 }
        public var ndcg: Double { tested > 0 ? ndcgSum / Double(tested) : 0 }

        /// Adds one tested interaction whose item had `rank` (1-based) in the answer, nil if absent.
        public mutating func add(rank: Int?) {
            tested += 1
            guard let rank, rank <= OnlineAccuracy.cutoff else { return }
            hits += 1
            ndcgSum += 1 / log2(Double(rank) + 1)
        }

        public mutating func merge(_ other: Tally) {
            (tested, hits, ndcgSum) = (tested + other.tested, hits + other.hits, ndcgSum + other.ndcgSum)
        }
    }

    /// One window of event time.
    public struct Window: Codable, Sendable, Equatable {
        /// Its start, seconds since the epoch of the events' own clock.
        public var start: Double
        public var served = Tally()
        public var popular = Tally()
    }

    /// A serving version's answers (users with history only) beside popular items on the same events.
    public struct Version: Codable, Sendable, Equatable {
        public var version: UInt32
        public var model = Tally()
        public var popular = Tally()
    }

    /// Seconds of event time per window; doubled (windows merged in pairs) when more than `maxWindows`.
    public private(set) var windowSeconds: Double
    public static let maxWindows = 200
    public private(set) var windows: [Window] = []
    /// The newest versions tested, oldest first (at most 20).
    public private(set) var versions: [Version] = []
    public private(set) var served = Tally()
    public private(set) var popular = Tally()
    /// Sampled interactions not tested because the serving version had already learned from them (a
    /// version of another node's store, or the log read again after a restart).
    public var skipped = 0

    public init(windowSeconds: Double) {
        precondition(windowSeconds > 0, "windows need a width")
        self.windowSeconds = windowSeconds
    }

    /// Records one tested interaction at `timeMs` (event time): the rank of its item in the served answer
    /// (`version`: the generator version that answered, nil for popular items) and among popular items.
    public mutating func add(timeMs: Int64, served servedRank: Int?, version: UInt32?, popular popularRank: Int?) {
        let start = (Double(timeMs) / 1000 / windowSeconds).rounded(.down) * windowSeconds
        if windows.last.map({ $0.start < start }) ?? true {
            windows.append(Window(start: start))
        }
        // Events may arrive a little out of time order: they join the window they belong to.
        let w = windows.lastIndex { $0.start <= start } ?? 0
        windows[w].served.add(rank: servedRank)
        windows[w].popular.add(rank: popularRank)
        served.add(rank: servedRank)
        popular.add(rank: popularRank)
        if let version {
            if versions.last?.version != version {
                versions.append(Version(version: version))
                if versions.count > 20 { versions.removeFirst() }
            }
            versions[versions.count - 1].model.add(rank: servedRank)
            versions[versions.count - 1].popular.add(rank: popularRank)
        }
        if windows.count > Self.maxWindows { coarsen() }
    }

    /// Served answers and popular items on the newest windows that hold at least `share` of the tests.
    public func newest(share: Double) -> (served: Tally, popular: Tally) {
        var (s, p) = (Tally(), Tally())
        for w in windows.reversed() where Double(s.tested) < share * Double(served.tested) {
            s.merge(w.served)
            p.merge(w.popular)
        }
        return (s, p)
    }

    /// Doubles the window width, merging windows that now fall together.
    private mutating func coarsen() {
        windowSeconds *= 2
        var merged: [Window] = []
        for w in windows {
            let start = (w.start / windowSeconds).rounded(.down) * windowSeconds
            if merged.last?.start == start {
                merged[merged.count - 1].served.merge(w.served)
                merged[merged.count - 1].popular.merge(w.popular)
            } else {
                merged.append(Window(start: start, served: w.served, popular: w.popular))
            }
        }
        windows = merged
    }
}
