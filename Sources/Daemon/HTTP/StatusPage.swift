import Alignment
import Foundation
import Ingest
import Learning
import Serving
import Store

/// The page at `/`: ingest rate, training loss, reward before/after each alignment round (plots), the
/// serving version, the promoted stack, recent versions and what users did with the newest 20 versions' answers.
/// Rendered on the server; read-only.
func statusPage(_ api: ServingAPI, rate: IngestRate?) throws -> String {
    let learner = api.learner?.status.snapshot
    let serving = api.registry.snapshot?.info
    let versions = try api.registry.versions(limit: 10).reversed()
    let promoted = try api.registry.promotedStack()
    let rounds = learner?.rounds ?? []

    let ingest = SVGPlot(title: "ingest (interactions/s)", xLabel: "s", series: [
        .init(name: "stored", color: "#1f77b4", points: rate?.rates ?? []),
    ], fromZero: true)
    let lag = SVGPlot(title: "Kafka consumer lag (messages)", xLabel: "s", series: [
        .init(name: "behind", color: "#ff7f0e", points: rate?.lags ?? []),
    ], fromZero: true)
    let loss = SVGPlot(title: "training loss", xLabel: "step", series: [
        .init(name: "generator next-token", color: "#d62728", points: (learner?.generatorLoss ?? []).map { ($0[0], $0[1]) }),
        .init(name: "reward model BCE", color: "#2ca02c", points: (learner?.rewardLoss ?? []).map { ($0[0], $0[1]) }),
    ])
    let reward = SVGPlot(title: "held-out reward per alignment round", xLabel: "round", series: [
        .init(name: "before", color: "#7f7f7f", points: rounds.map { (Double($0.id), $0.rewardBefore) }),
        .init(name: "after", color: "#9467bd", points: rounds.map { (Double($0.id), $0.rewardAfter) }),
    ])
    let online = learner?.online
    let first = online?.windows.first?.start ?? 0
    let onlinePlot = SVGPlot(title: "online HR@10 (test-then-train)", xLabel: "h of event time", series: [
        .init(name: "served", color: "#1f77b4", points: (online?.windows ?? []).map { (($0.start - first) / 3600, $0.served.hitRate) }),
        .init(name: "popular items", color: "#7f7f7f", points: (online?.windows ?? []).map { (($0.start - first) / 3600, $0.popular.hitRate) }),
    ], fromZero: true)
    var html = """
    <!doctype html><html><head><meta charset="utf-8"><title>onerec</title><meta http-equiv="refresh" content="10">
    <style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px}
    .plots svg{margin:0 12px 12px 0}</style></head><body>
    <h1>onerec \(escape(OneRecVersion.current))</h1>
    <p id="serving">serving: \(serving.map { "version \($0.version) (\($0.kind.rawValue), \($0.steps) steps)" } ?? "popular items (no model yet)")
    · promoted: \(promoted.map(String.init).joined(separator: " ")) · interactions stored: \(try api.history.counts().interactions)
    · learner: \(escape(learner?.phase ?? "off"))\(learner.map { ", step \($0.steps), \($0.examples) sessions, \($0.errors) errors" } ?? "")</p>
    \(clusterLine(api.cluster.status))\(api.cluster.routing.map { clusterTable(ClusterMap(routing: $0, follower: api.cluster.follower)) } ?? "")\(rate?.freshness?().map { String(format: "<p id=\"freshness\">event → stored: p50 %.2f s, p99 %.2f s over the newest %d events sampled</p>", $0.p50, $0.p99, $0.events) } ?? "")
    \(online.map(onlineLine) ?? "")\(learner.map(rebuildLines) ?? "")
    <div class="plots">\(ingest.svg)\(rate?.lags.isEmpty == false ? lag.svg : "")\(loss.svg)\(online?.windows.isEmpty == false ? onlinePlot.svg : "")\(reward.svg)</div>
    <h2>versions</h2><table id="versions"><tr><th>version</th><th>kind</th><th>parent</th><th>steps</th><th>created</th><th>metrics</th></tr>
    """
    let time = ISO8601DateFormatter()
    for v in versions {
        let metrics = v.metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4g", $0.value))" }.joined(separator: ", ")
        html += "<tr><td>\(v.version)\(v.version == serving?.version ? " (serving)" : "")</td><td>\(v.kind.rawValue)</td><td>\(v.parent.map(String.init) ?? "")</td>"
            + "<td>\(v.steps)</td><td>\(time.string(from: Date(timeIntervalSince1970: v.createdAt)))</td><td>\(escape(metrics))</td></tr>"
    }
    html += "</table><h2>canary</h2>" + (try canarySection(api))
    html += "<h2>outcomes by version</h2><p>answers kept for \(api.answersWindowHours) h; a session is an answer with at least one event, "
        + "its watch time the sum over its events; rates are per item shown</p><table id=\"outcomes\"><tr><th>version</th><th>answers</th><th>sessions</th>"
        + "<th>watch per session (sd)</th><th>events / item</th><th>positive</th><th>like</th><th>follow</th></tr>"
    for o in try api.served.outcomes(newest: 20).reversed() {
        html += "<tr><td>\(o.version.map(String.init) ?? "popular items")</td><td>\(o.requests)</td><td>\(o.sessions)</td>"
            + String(format: "<td>%.1f s (%.1f)</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td></tr>",
                     o.watchPerSession, o.watchDeviation, o.viewRate, o.positiveRate, o.likeRate, o.followRate)
    }
    html += "</table><h2>alignment rounds</h2><table id=\"rounds\"><tr><th>round</th><th>reason</th><th>pairs</th><th>reward before → after</th><th>true watch before → after</th><th>outcome</th></tr>"
    for r in rounds.suffix(20).reversed() {
        let watch = r.trueWatchBefore.map { b in String(format: "%.1f s → %.1f s", b, r.trueWatchAfter ?? b) } ?? "-"
        html += "<tr><td>\(r.id)</td><td>\(escape(r.reason))</td><td>\(r.pairs)</td><td>\(String(format: "%.4f → %.4f", r.rewardBefore, r.rewardAfter))</td>"
            + "<td>\(watch)</td><td>\(escape(r.note))</td></tr>"
    }
    return html + "</table></body></html>"
}

/// The online measure in one line: served answers and popular items in total and for the newest version tested.
private func onlineLine(_ online: OnlineAccuracy) -> String {
    var line = String(format: "online test-then-train: served HR@10 %.4f NDCG@10 %.4f, popular items HR@10 %.4f NDCG@10 %.4f over %d positives tested (%d skipped)",
                      online.served.hitRate, online.served.ndcg, online.popular.hitRate, online.popular.ndcg, online.served.tested, online.skipped)
    if let v = online.versions.last {
        line += String(format: "; version %d: HR@10 %.4f against popular items' %.4f over %d", v.version, v.model.hitRate, v.popular.hitRate, v.model.tested)
    }
    return "<p id=\"online\">\(line)</p>"
}

/// A rebuilt codebook's successor in training, and what became of the newest rebuilds.
private func rebuildLines(_ learner: LearnerStatus.Snapshot) -> String {
    var html = learner.successor.map { s in
        String(format: "<p id=\"successor\">successor: codebook %d (%@), %d steps; HR@10 %.4f against the serving version's %.4f on the newest %d positives tested on both</p>",
               s.codebookVersion, escape(s.source), s.steps, s.hitRate, s.servingHitRate, s.tested)
    } ?? ""
    for r in learner.rebuilds.suffix(3) { html += "<p class=\"rebuild\">rebuild: \(escape(r))</p>" }
    return html
}

/// The running canary's arms side by side (sessions so far, watch per session, the difference's interval)
/// and the recent decisions.
private func canarySection(_ api: ServingAPI) throws -> String {
    let status = try CanaryStatus(api)
    var html = ""
    if let running = status.running, let control = status.control, let candidate = status.candidate {
        let look = running.evidence.map { String(format: "difference %+.2f s (95%% interval %+.2f to %+.2f), z %.2f", $0.difference, $0.interval[0], $0.interval[1], $0.z) }
            ?? "not looked at yet"
        html += "<p id=\"canary\">canary \(running.id): version \(running.candidate) serves \(String(format: "%.1f", running.settings.share * 100))% of users; "
            + "decides at \(running.settings.sessions) sessions an arm; \(escape(look))</p>"
            + "<table id=\"arms\"><tr><th>arm</th><th>answers</th><th>sessions</th><th>watch per session (sd)</th><th>like</th><th>follow</th></tr>"
        for (name, o) in [("control", control), ("candidate \(running.candidate)", candidate)] {
            html += "<tr><td>\(name)</td><td>\(o.requests)</td><td>\(o.sessions)</td>"
                + String(format: "<td>%.1f s (%.1f)</td><td>%.3f</td><td>%.3f</td></tr>", o.watchPerSession, o.watchDeviation, o.likeRate, o.followRate)
        }
        html += "</table>"
    } else {
        html += "<p id=\"canary\">no canary running</p>"
    }
    let decided = status.recent.filter { $0.state != .running }.reversed()
    guard !decided.isEmpty else { return html }
    html += "<table id=\"canaries\"><tr><th>canary</th><th>candidate</th><th>outcome</th></tr>"
    for c in decided { html += "<tr><td>\(c.id)</td><td>\(c.candidate)</td><td>\(escape(c.reason ?? c.state.rawValue))</td></tr>" }
    return html + "</table>"
}

/// The status page's table of the cluster's nodes (`GET /v1/cluster`).
func clusterTable(_ map: ClusterMap) -> String {
    var html = "<table id=\"cluster-nodes\"><tr><th>node</th><th>role</th><th>url</th><th>serving</th><th>lag</th><th>owns</th><th>ready</th><th>last heard</th></tr>"
    for n in map.nodes {
        html += "<tr><td>\(escape(n.node))\(n.node == map.node ? " (this node)" : "")</td><td>\(n.role.rawValue)</td><td>\(escape(n.url))</td>"
            + "<td>\(n.servingVersion.map { "version \($0)" } ?? "popular items")</td><td>\(n.lag.map(String.init) ?? "")</td>"
            + "<td>\(n.owns.map(String.init).joined(separator: " "))</td><td>\(n.ready.map(String.init).joined(separator: " "))</td>"
            + String(format: "<td>%.1f s before the newest</td></tr>", n.silentSeconds)
    }
    let moving = map.owners.filter { $0.owner != $0.answering }.map { "\($0.partition) → \(escape($0.owner)) (\(escape($0.answering)) answers meanwhile)" }
    return html + "</table><p>\(map.partitions) partitions of \(escape(map.topic)) by \(map.partitioner)"
        + (moving.isEmpty ? "" : "; moving: " + moving.joined(separator: ", ")) + "</p>"
}

/// The status page's line about this node's part in a cluster (empty for a standalone daemon).
func clusterLine(_ status: ClusterView.Status) -> String {
    if let p = status.publishing {
        return "<p id=\"cluster\">leading train node (epoch \(p.epoch)) · sent to \(escape(p.topic)): versions \(p.versionsOnTopic.map(String.init).joined(separator: " ")), promoted "
            + "\(p.promoted.map(String.init).joined(separator: " "))\(p.failure.map { " · <b>sending fails</b>: \(escape($0))" } ?? "")</p>"
    }
    if let f = status.following {
        var lag = ""
        if let promoted = f.promotedAt, let serving = f.servingAt { lag = String(format: " (%.2f s after the train node)", serving - promoted) }
        return "<p id=\"cluster\">\(status.role == .train ? "standby train node" : "serve node") · following \(escape(f.topic)): \(f.recordsRead) records read, \(f.caughtUp ? "caught up" : "catching up")"
            + "\(f.applied.map { ", serving the promotion \($0.map(String.init).joined(separator: " "))\(lag)" } ?? "")"
            + "\(f.waitingPromotion.map { " · waiting to serve \($0.map(String.init).joined(separator: " "))" } ?? "")"
            + "\(f.leader.map { " · leader \(escape($0)), epoch \(f.epoch ?? -1)" } ?? "")\(f.checkpointStep.map { " · its checkpoint of step \($0) kept" } ?? "")"
            + "\(status.reading.map { " · reads partitions \($0.map(String.init).joined(separator: " ")), ready \((status.ready ?? []).map(String.init).joined(separator: " "))" } ?? "")</p>"
    }
    return ""
}
