import ArgumentParser
import Client
import Foundation
import Learning

/// `onerec status`: what the running daemon serves and what its learner is doing.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the running daemon's model versions, training and alignment rounds.")
    @OptionGroup var daemon: DaemonOptions
    @Flag(help: "Print the raw JSON.") var json = false

    func run() async throws {
        let status = try await daemon.client().call("GET", "/v1/admin/status")
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: status, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            return
        }
        let serving = status["serving"] as? [String: Any]
        print("serving     : " + (serving.map { "version \($0["version"] ?? "?") (\($0["kind"] ?? "?"), \($0["steps"] ?? "?") steps)" } ?? "popular items (no model yet)"))
        print("promoted    : \((status["promoted"] as? [Int] ?? []).map(String.init).joined(separator: " "))")
        if let canary = status["canary"] as? [String: Any] {
            let share = ((canary["settings"] as? [String: Any])?["share"] as? Double).map { String(format: "%.1f%%", $0 * 100) } ?? "?"
            print("canary      : #\(canary["id"] ?? "?"): version \(canary["candidate"] ?? "?") serves \(share) of users (onerec canary status)")
        }
        print("interactions: \(status["interactions"] ?? 0)")
        if let cluster = status["cluster"] as? [String: Any], let line = describe(cluster: cluster) {
            print("cluster     : " + line)
            for line in describe(map: try await daemon.client().call("GET", "/v1/cluster")) { print("  " + line) }
        }
        guard let learner = status["learner"] as? [String: Any] else { return print("learner     : off") }
        let loss = (learner["generatorLoss"] as? [[Double]])?.last.map { String(format: "%.3f", $0[1]) } ?? "-"
        print("learner     : \(learner["phase"] ?? "?"); step \(learner["steps"] ?? 0), loss \(loss), \(learner["examples"] ?? 0) sessions, \(learner["users"] ?? 0) users, errors \(learner["errors"] ?? 0)")
        if let json = learner["online"] {
            let online = try JSONDecoder().decode(OnlineAccuracy.self, from: JSONSerialization.data(withJSONObject: json))
            for line in describe(online: online) { print(line) }
        }
        if let s = learner["successor"] as? [String: Any] {
            print(String(format: "successor   : codebook %d (%@), %d steps; HR@10 %.4f against the serving version's %.4f on the newest %d positives tested on both",
                         s["codebookVersion"] as? Int ?? 0, s["source"] as? String ?? "?", s["steps"] as? Int ?? 0, s["hitRate"] as? Double ?? 0,
                         s["servingHitRate"] as? Double ?? 0, s["tested"] as? Int ?? 0))
        }
        for rebuild in (learner["rebuilds"] as? [String] ?? []).suffix(3) { print("rebuild     : " + rebuild) }
        for round in (learner["rounds"] as? [[String: Any]] ?? []).suffix(5) { print("round       : " + describe(round: round)) }
    }
}

/// The learner's online test-then-train measure for `status`: in total, for the newest version tested,
/// and the newest windows of event time.
func describe(online: OnlineAccuracy) -> [String] {
    var lines = [String(format: "online      : served HR@10 %.4f NDCG@10 %.4f, popular items HR@10 %.4f NDCG@10 %.4f; %d positives tested, %d skipped",
                        online.served.hitRate, online.served.ndcg, online.popular.hitRate, online.popular.ndcg, online.served.tested, online.skipped)]
    if let v = online.versions.last {
        lines.append(String(format: "              version %d: HR@10 %.4f against popular items' %.4f over %d", v.version, v.model.hitRate, v.popular.hitRate, v.model.tested))
    }
    for w in online.windows.suffix(5) {
        lines.append(String(format: "              %@ +%.0f s: served %.4f, popular %.4f over %d", Date(timeIntervalSince1970: w.start).formatted(.iso8601),
                            online.windowSeconds, w.served.hitRate, w.popular.hitRate, w.served.tested))
    }
    return lines
}

/// The node's part in a cluster, for `status`; nil for a standalone daemon.
func describe(cluster: [String: Any]) -> String? {
    let list = { (key: String, in: [String: Any]) in (`in`[key] as? [Int] ?? []).map(String.init).joined(separator: " ") }
    if let p = cluster["publishing"] as? [String: Any] {
        return "leading train node (epoch \(p["epoch"] ?? "?")); sent to \(p["topic"] ?? "?"): versions \(list("versionsOnTopic", p)), promoted \(list("promoted", p))"
            + ((p["failure"] as? String).map { "; SENDING FAILS: \($0)" } ?? "")
    }
    if let f = cluster["following"] as? [String: Any] {
        var line = "\(cluster["role"] as? String == "train" ? "standby train node" : "serve node"); following \(f["topic"] ?? "?"): \(f["recordsRead"] ?? 0) records, \(f["caughtUp"] as? Bool == true ? "caught up" : "catching up")"
        if let at = f["promotedAt"] as? Double, let serving = f["servingAt"] as? Double {
            line += String(format: "; serving the train node's last promotion %.2f s after it", serving - at)
        }
        if f["waitingPromotion"] is [Int] { line += "; a promotion waits for its version: \(list("waitingPromotion", f))" }
        if let leader = f["leader"] as? String { line += "; leader \(leader) (epoch \(f["epoch"] ?? "?"))" }
        if let step = f["checkpointStep"] as? Int { line += "; the leader's checkpoint of step \(step) kept" }
        if cluster["reading"] is [Int] { line += "; reads partitions [\(list("reading", cluster))], ready [\(list("ready", cluster))]" }
        return line
    }
    return nil
}

/// The cluster's nodes and partition owners (`GET /v1/cluster`), one line each.
func describe(map: [String: Any]) -> [String] {
    let list = { (key: String, in: [String: Any]) in (`in`[key] as? [Int] ?? []).map(String.init).joined(separator: " ") }
    var lines = ["\(map["topic"] ?? "?"): \(map["partitions"] ?? 0) partitions by \(map["partitioner"] ?? "?"); leader \(map["leader"] ?? "none") (epoch \(map["epoch"] ?? "-"))"]
    for node in map["nodes"] as? [[String: Any]] ?? [] {
        let version = (node["servingVersion"] as? Int).map { "version \($0)" } ?? "popular items"
        let silent = String(format: "%.1f s", node["silentSeconds"] as? Double ?? 0)
        var line = "\(node["role"] ?? "?") \(node["node"] ?? "?") at \(node["url"] ?? "?"): serving \(version), lag \(node["lag"] ?? "-"), last heard \(silent) before the newest"
        if node["role"] as? String == "serve" { line += "; owns [\(list("owns", node))], ready [\(list("ready", node))]" }
        lines.append(line)
    }
    let moving = (map["owners"] as? [[String: Any]] ?? []).filter { ($0["owner"] as? String) != ($0["answering"] as? String) }
    for p in moving { lines.append("partition \(p["partition"] ?? "?") moves to \(p["owner"] ?? "?"); \(p["answering"] ?? "?") answers until it is rebuilt") }
    return lines
}

func describe(round: [String: Any]) -> String {
    let number = { (key: String) in (round[key] as? Double).map { String(format: "%.4f", $0) } ?? "-" }
    let watch = { (key: String) in (round[key] as? Double).map { String(format: "%.1f s", $0) } ?? "-" }
    return "#\(round["id"] ?? "?") (\(round["reason"] ?? "?")): \(round["pairs"] ?? 0) pairs, reward \(number("rewardBefore")) -> \(number("rewardAfter"))"
        + (round["trueWatchBefore"] != nil ? ", true watch \(watch("trueWatchBefore")) -> \(watch("trueWatchAfter"))" : "")
        + ", \(round["note"] ?? "")" + ((round["version"] as? Int).map { ", version \($0)" } ?? "")
}

/// `onerec align`: asks the running daemon for an alignment round and waits for its outcome.
struct AlignRound: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "round", abstract: "Run an alignment round in the running daemon and wait for the outcome.")
    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Give up waiting after this many seconds (the round goes on).") var timeout: Double = 900

    func run() async throws {
        let client = try daemon.client()
        let started = Date()
        // Progress while the round runs: the learner's phase, polled.
        let progress = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(2))
                let learner = try? await client.call("GET", "/v1/admin/status")["learner"] as? [String: Any]
                FileHandle.standardError.write(Data(String(format: "\r%.0f s: %@   ", Date().timeIntervalSince(started), "\(learner?["phase"] ?? "?")").utf8))
            }
        }
        defer { progress.cancel() }
        let round = try await client.call("POST", "/v1/admin/align?wait=true", timeout: timeout)
        progress.cancel()
        FileHandle.standardError.write(Data("\r".utf8))
        print(describe(round: round))
    }
}

/// `onerec align pairs ROUND`: the preference pairs a finished round trained on, one line each.
struct AlignPairs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pairs", abstract: "Show the preference pairs of a finished alignment round in the running daemon.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The round (see `onerec status`).") var round: Int

    func run() async throws {
        guard let pairs = try await daemon.client().callJSON("GET", "/v1/admin/rounds/\(round)/pairs") as? [[String: Any]] else {
            throw CommandError("unexpected answer for round \(round)'s pairs")
        }
        func items(_ key: String, _ pair: [String: Any]) -> String { (pair[key] as? [Int] ?? []).map(String.init).joined(separator: " ") }
        for pair in pairs {
            let (c, r) = ((pair["chosenReward"] as? Double) ?? 0, (pair["rejectedReward"] as? Double) ?? 0)
            print(String(format: "user %@  chosen [%@] %.4f  rejected [%@] %.4f", "\(pair["user"] ?? "?")", items("chosen", pair), c, items("rejected", pair), r))
        }
        print("\(pairs.count) pairs in round \(round)")
    }
}

/// `onerec rollback`: serve the version promoted before the current one.
struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the previously promoted model version again.")
    @OptionGroup var daemon: DaemonOptions

    func run() async throws {
        let info = try await daemon.client().call("POST", "/v1/admin/rollback")
        print("serving version \(info["version"] ?? "?") (\(info["kind"] ?? "?"))")
    }
}

/// `onerec promote VERSION`: serve a stored version.
struct Promote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve a stored model version.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The version to serve.") var version: UInt32

    func run() async throws {
        let info = try await daemon.client().call("POST", "/v1/admin/promote/\(version)")
        print("serving version \(info["version"] ?? "?") (\(info["kind"] ?? "?"))")
    }
}

/// `onerec recommend USER`: what the daemon would show this user now.
struct Recommend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask the running daemon for a user's recommendations.")
    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "User id.") var user: UInt64
    @Option(help: "Items to ask for.") var count = 5

    func run() async throws {
        let answer = try await daemon.client().call("GET", "/v1/users/\(user)/recommendations?count=\(count)")
        let items = (answer["items"] as? [Int] ?? []).map(String.init).joined(separator: " ")
        print("\(items)  (\(answer["source"] ?? "?")\((answer["modelVersion"] as? Int).map { ", version \($0)" } ?? ""))")
    }
}
