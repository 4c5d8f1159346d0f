import Client
import Datasets
import Engine
import Foundation
import Learning

/// A daemon tried on a recorded log before going live: `onerec serve` in a temporary directory (no
/// simulator, no scheduled alignment) is sent the log in time order over `POST /v1/events`, each user's
/// last item held out (users with at least three items, as `eval`'s test split), and keeps training
/// until `minutes` after the first event. Every `measureEvery` minutes a sample of held-out users asks
/// `GET /v1/users/{id}/recommendations?count=10` (what the daemon serves is what is measured), next to
/// the log's popular items; at the end every held-out user asks. The daemon's own online test-then-train
/// curve (`OnlineAccuracy`) is read from its status.
///
/// With `content` (item id as the log names it -> vector), each item of the log that has one is first
/// sent as an item event carrying it as its embedding, so the daemon can build content (or both) codebooks.
///
/// Each row becomes an interaction the user watched whole (every row counts as a positive, as `eval`
/// counts it), liked when its rating is at least 4 (if the log has ratings); a user's rows less than 30
/// minutes apart are one session (one request id).
public struct Backtest {
    public struct Config: Sendable {
        /// Events a second sent to the daemon (0: as fast as it takes them).
        public var rate = 0.0
        /// Minutes from the first event to the final measurement.
        public var minutes = 60.0
        /// Minutes between measurements on `sampleUsers` held-out users.
        public var measureEvery = 5.0
        public var sampleUsers = 500
        public var port = 18_795
        /// More daemon settings (`ONEREC_...`), over the backtest's own.
        public var environment: [String: String] = [:]
        /// A share of the log's items (drawn with `seed`) whose rows before the log's middle time are
        /// dropped, so its second half brings items the first codebook never saw (0: none).
        public var newItems = 0.0
        public var seed: UInt64 = 1
        public init() {}
    }

    /// Held-out HR@10 and NDCG@10 of the daemon's answers and of popular items at one time.
    public struct Measurement: Sendable {
        public let minutes: Double
        public let users: Int
        public let daemon: (hitRate: Double, ndcg: Double)
        public let popular: (hitRate: Double, ndcg: Double)
        public let version: Int?
        public let steps: Int
        /// The daemon's current codebook version and the share of its newest positives on items without a code.
        public let codebook: (version: Int, uncodedShare: Double)?
    }

    public struct Report: Sendable {
        public let events: Int, heldOut: Int
        public let replaySeconds: Double
        public let measurements: [Measurement]
        /// The final measurement, on every held-out user.
        public let final: Measurement
        /// The daemon's online test-then-train measure at the end (nil if it had none).
        public let online: OnlineAccuracy?
        /// The daemon's codebook at the end: where its vectors came from, version, items coded.
        public let codebook: (source: String, version: Int, items: Int)?
        /// What became of the daemon's codebook rebuilds.
        public let rebuilds: [String]
    }

    public let config: Config
    public init(config: Config) { self.config = config }

    /// A user's events to replay and held-out item, by the log's dense indices.
    struct Split {
        /// (user, item, timestamp s, rating), in time order (ties in file order), held-out rows left out.
        var replay: [(user: Int32, item: Int32, timestamp: Int64, rating: Float)] = []
        /// user -> held-out item.
        var heldOut: [Int32: Int32] = [:]
    }

    /// `log` without the rows before its middle time of a `share` of its items (drawn with `seed`).
    static func growingCatalog(_ log: InteractionLog, share: Double, seed: UInt64) -> InteractionLog {
        var rng = SplitMix64(seed: seed)
        let late = Set(log.items.indices.shuffled(using: &rng).prefix(Int(Double(log.items.count) * share)).map { Int32($0) })
        let times = log.events.map(\.timestamp).sorted()
        let middle = times[times.count / 2]
        var out = InteractionLog()
        for e in log.events where !(late.contains(e.item) && e.timestamp < middle) {
            out.append(user: log.users[Int(e.user)], item: log.items[Int(e.item)], rating: e.rating, timestamp: e.timestamp)
        }
        return out
    }

    static func split(_ log: InteractionLog) -> Split {
        var split = Split()
        let order = log.events.indices.sorted { (log.events[$0].timestamp, $0) < (log.events[$1].timestamp, $1) }
        var count = [Int32: Int](), last = [Int32: Int]()
        for i in order {
            count[log.events[i].user, default: 0] += 1
            last[log.events[i].user] = i
        }
        let held = Set(last.filter { count[$0.key]! >= 3 }.values)
        for i in order {
            let e = log.events[i]
            if held.contains(i) { split.heldOut[e.user] = e.item } else { split.replay.append((e.user, e.item, e.timestamp, e.rating)) }
        }
        return split
    }

    /// The schema-v1 lines of the replay (user and item ids are the log's indices + 1).
    static func eventLines(_ replay: [(user: Int32, item: Int32, timestamp: Int64, rating: Float)], liked: (Float) -> Bool) -> [String] {
        var session = [Int32: (index: Int, position: Int, lastTime: Int64)]()
        return replay.enumerated().map { n, e in
            var s = session[e.user] ?? (0, -1, e.timestamp)
            if e.timestamp - s.lastTime >= 1_800 { (s.index, s.position) = (s.index + 1, -1) }
            (s.position, s.lastTime) = (s.position + 1, e.timestamp)
            session[e.user] = s
            return #"{"schema":1,"type":"interaction","event_id":"bt-\#(n)","user_id":\#(e.user + 1),"item_id":\#(e.item + 1),"#
                + #""timestamp_ms":\#(e.timestamp * 1000),"request_id":"u\#(e.user + 1)-s\#(s.index)","position":\#(s.position),"#
                + #""watch_time_ms":60000,"duration_ms":60000,"like":\#(liked(e.rating))}"#
        }
    }

    /// Item events carrying `content`'s vectors for the log's items (ids are the log's indices + 1).
    static func itemLines(_ log: InteractionLog, content: [String: [Float]], timestamp: Int64) throws -> [String] {
        let dimensions = Set(content.values.map(\.count))
        guard dimensions.count <= 1 else { throw BenchmarkError("the item vectors have different lengths: \(dimensions.sorted())") }
        return log.items.enumerated().compactMap { index, name in
            content[name].map { v in
                #"{"schema":1,"type":"item","event_id":"bt-item-\#(index)","item_id":\#(index + 1),"timestamp_ms":\#(timestamp * 1000),"#
                    + #""embedding":[\#(v.map { "\($0)" }.joined(separator: ","))]}"#
            }
        }
    }

    public func run(on original: InteractionLog, content: [String: [Float]]? = nil, say: @escaping @Sendable (String) -> Void) async throws -> Report {
        let log = config.newItems > 0 ? Self.growingCatalog(original, share: config.newItems, seed: config.seed) : original
        if config.newItems > 0 {
            say("\(Int(config.newItems * 100))% of the items appear only from the log's middle time on: \(original.events.count - log.events.count) earlier rows dropped")
        }
        let split = Self.split(log)
        let rated = log.events.contains { $0.rating != 5 }
        // The daemon takes events from 2000 on: an older log moves forward as a whole (its gaps stay).
        let shift = max(0, 946_684_800 - (split.replay.map(\.timestamp).min() ?? 946_684_800))
        if shift > 0 { say("the log starts before 2000, which the daemon refuses: its times move \(shift / 86_400) days forward") }
        let items = try content.map { try Self.itemLines(log, content: $0, timestamp: (split.replay.first?.timestamp ?? 0) + shift) } ?? []
        if content != nil {
            say("\(items.count) of \(log.items.count) items carry content vectors of \(content?.values.first?.count ?? 0) dimensions, sent first as item events")
        }
        let lines = items + Self.eventLines(split.replay.map { ($0.user, $0.item, $0.timestamp + shift, $0.rating) }, liked: { !rated || $0 >= 4 })
        // The log's popular items (all replayed rows), for the baseline.
        var counts = [Int32: Int]()
        for e in split.replay { counts[e.item, default: 0] += 1 }
        let popular = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        var seen = [Int32: Set<Int32>]()
        for e in split.replay { seen[e.user, default: []].insert(e.item) }
        let users = split.heldOut.keys.sorted()
        var rng = SplitMix64(seed: config.seed)
        let sample = Array(users.shuffled(using: &rng).prefix(config.sampleUsers))
        say("\(lines.count) events of \(log.users.count) users and \(log.items.count) items to replay; \(users.count) users' last items held out")

        let daemon = try BenchDaemon(preset: "small", beam: 16, port: config.port, environment: [
            "ONEREC_SIMULATOR_ENABLED": "false", "ONEREC_ALIGNMENT_INTERVAL_SECONDS": "0", "ONEREC_TRAINER_PUBLISH_EVERY_STEPS": "200",
            "ONEREC_STORE_MAP_SIZE_MEGABYTES": "1024", "ONEREC_ONLINE_SAMPLE_SHARE": "0.02",
        ].merging(config.environment) { $1 })
        try await daemon.waitForHealth()
        let start = Date()
        func minutes() -> Double { Date().timeIntervalSince(start) / 60 }
        var measurements: [Measurement] = []
        var nextMeasure = config.measureEvery
        // Replay in chunks of up to 1,000 events, paced to `rate`.
        let chunk = 1_000
        for begin in stride(from: 0, to: lines.count, by: chunk) {
            let body = Data(lines[begin..<min(lines.count, begin + chunk)].joined(separator: "\n").utf8)
            let answer = try await daemon.client.call("POST", "/v1/events", body: body, timeout: 120)
            guard (answer["rejected"] as? [Any])?.isEmpty ?? true else { throw BenchmarkError("the daemon refused replayed events: \(answer["rejected"]!)") }
            if config.rate > 0 {
                let due = Double(begin + chunk) / config.rate - Date().timeIntervalSince(start)
                if due > 0 { try await Task.sleep(for: .seconds(due)) }
            }
            if (begin / chunk) % 100 == 99 { say(String(format: "  %d/%d events sent, %.1f min", begin + chunk, lines.count, minutes())) }
            if minutes() >= nextMeasure {
                measurements.append(try await measure(daemon, sample, split: split, seen: seen, popular: popular, at: minutes()))
                say(describe(measurements.last!))
                nextMeasure += config.measureEvery
            }
        }
        let replaySeconds = Date().timeIntervalSince(start)
        say(String(format: "replay done after %.1f min; training until %.0f min", replaySeconds / 60, config.minutes))
        while minutes() < config.minutes {
            try await Task.sleep(for: .seconds(max(0, min(nextMeasure, config.minutes) * 60 - Date().timeIntervalSince(start))))
            if minutes() >= nextMeasure && minutes() < config.minutes {
                measurements.append(try await measure(daemon, sample, split: split, seen: seen, popular: popular, at: minutes()))
                say(describe(measurements.last!))
                nextMeasure += config.measureEvery
            }
        }
        let final = try await measure(daemon, users, split: split, seen: seen, popular: popular, at: minutes())
        say("final: " + describe(final))
        let learner = (await daemon.status())?["learner"] as? [String: Any]
        let online = try (learner?["online"]).map { try JSONDecoder().decode(OnlineAccuracy.self, from: JSONSerialization.data(withJSONObject: $0)) }
        let rebuilds = learner?["rebuilds"] as? [String] ?? []
        let codebook = (learner?["codebookSource"] as? String).map { ($0, learner?["codebookVersion"] as? Int ?? 0, learner?["codedItems"] as? Int ?? 0) }
        return Report(events: lines.count, heldOut: users.count, replaySeconds: replaySeconds, measurements: measurements, final: final,
                      online: online, codebook: codebook, rebuilds: rebuilds)
    }

    /// Held-out HR@10 and NDCG@10 of the daemon's answers and of popular items for `users`.
    private func measure(_ daemon: BenchDaemon, _ users: [Int32], split: Split, seen: [Int32: Set<Int32>], popular: [Int32],
                         at minutes: Double) async throws -> Measurement {
        var daemonHits = 0, popularHits = 0, daemonDCG = 0.0, popularDCG = 0.0
        for user in users {
            let target = split.heldOut[user]!
            let answer = try await daemon.client.call("GET", "/v1/users/\(user + 1)/recommendations?count=10", timeout: 60)
            let items = (answer["items"] as? [Int] ?? []).map { Int32($0 - 1) }
            if let rank = items.firstIndex(of: target) { (daemonHits, daemonDCG) = (daemonHits + 1, daemonDCG + 1 / log2(Double(rank) + 2)) }
            let top = popular.lazy.filter { !(seen[user]?.contains($0) ?? false) }.prefix(10)
            if let rank = Array(top).firstIndex(of: target) { (popularHits, popularDCG) = (popularHits + 1, popularDCG + 1 / log2(Double(rank) + 2)) }
        }
        let n = Double(max(users.count, 1))
        let status = await daemon.status()
        let learner = status?["learner"] as? [String: Any]
        let (version, steps) = BenchDaemon.learner(in: status)
        let codebook = (learner?["codebookVersion"] as? Int).map { ($0, learner?["uncodedPositiveShare"] as? Double ?? 0) }
        return Measurement(minutes: minutes, users: users.count, daemon: (Double(daemonHits) / n, daemonDCG / n),
                           popular: (Double(popularHits) / n, popularDCG / n), version: version, steps: steps, codebook: codebook)
    }

    public func describe(_ m: Measurement) -> String {
        String(format: "%6.1f min  %4d users  daemon HR@10 %.4f NDCG@10 %.4f  popular HR@10 %.4f NDCG@10 %.4f  (version %@, %d steps%@)",
               m.minutes, m.users, m.daemon.hitRate, m.daemon.ndcg, m.popular.hitRate, m.popular.ndcg, m.version.map { "\($0)" } ?? "none", m.steps,
               m.codebook.map { String(format: ", codebook %d, %.1f%% of new positives uncoded", $0.version, $0.uncodedShare * 100) } ?? "")
    }
}
