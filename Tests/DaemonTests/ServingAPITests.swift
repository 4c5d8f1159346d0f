import Alignment
import Configuration
import Engine
import Events
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Models
import OneRecDaemon
import Prometheus
import SemanticIDs
import Serving
import Store
import TestSupport
import Testing

/// The `/v1` endpoints over a real LMDB store and a tiny published model, through the real router.
@Suite struct ServingAPITests {
    static let token = "0123456789abcdef-test"

    func withAPI(_ body: (ServingAPI, HistoryStore) async throws -> Void) async throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let store = try OpenStore.forWriting(path: dir.path + "/store", mapSizeMiB: 16, holder: "test")
        let history = try store.history()
        let registry = try ModelRegistry(store: store, directory: dir.path + "/models", logger: Logger(label: "t"))
        var rng = SplitMix64(seed: 2)
        let vectors = ItemVectors(ids: (0..<40).map { UInt64($0) }, dimension: 4, values: (0..<160).map { _ in rng.nextGaussian() })
        var qc = ResidualQuantizer.Config()
        qc.codesPerLevel = 4
        let (q, training) = ResidualQuantizer.train(vectors, config: qc)
        let book = try Codebook(version: 1, vectors: vectors, quantizer: q, training: training)
        var mc = Seq2Seq.Config.preset("tiny")!
        mc.vocabulary = 3 + 3 * 4
        try registry.publish(model: Seq2Seq(config: mc, seed: 1), codebook: book, info: ModelInfo(
            version: 1, parent: nil, kind: .trained, codebookVersion: 1, config: mc, maxHistory: 10, sessionItems: 5, steps: 0), promote: true)
        try registry.publish(model: Seq2Seq(config: mc, seed: 2), codebook: book, info: ModelInfo(
            version: 2, parent: 1, kind: .aligned, codebookVersion: 1, config: mc, maxHistory: 10, sessionItems: 5, steps: 0), promote: false)
        let pool = DecodePool(workers: 1, queueLimit: 8)
        defer { pool.close() }
        let served = try store.served()
        let recommender = Recommender(history: history, registry: registry, popular: PopularItems(), pool: pool, served: served)
        try await body(ServingAPI(recommender: recommender, history: history, served: served, registry: registry, learner: nil, adminToken: Self.token), history)
    }

    func app(_ api: ServingAPI) async throws -> some ApplicationProtocol {
        let settings = DaemonSettings(config: try await loadConfiguration(file: nil, environment: [:]), environment: [:])
        return buildApplication(settings: settings, status: DaemonStatus(), registry: PrometheusCollectorRegistry(), api: api, logger: Logger(label: "t"))
    }

    func event(_ user: UInt64, _ item: UInt64, _ position: Int, request: String? = nil, watchMs: Int64 = 8_000, like: Bool = false) -> String {
        var e = InteractionEvent(eventID: "e\(user)-\(item)" + (request.map { "-\($0)" } ?? ""), userID: user, itemID: item, timestampMs: Int64(Date().timeIntervalSince1970 * 1000),
                                 requestID: request ?? "r\(user)", position: position, watchTimeMs: watchMs, durationMs: 10_000)
        e.like = like
        return Event.interaction(e).json()
    }

    /// Each answer carries a request id; events that echo it are joined to the version that answered, per
    /// version on `/v1/admin/outcomes` and the status page; events of no answer, or of another user's, are
    /// stored and counted apart.
    @Test func eventsAreJoinedToTheVersionThatAnswered() async throws {
        try await withAPI { api, _ in
            try await app(api).test(.router) { client in
                let admin: HTTPFields = [.authorization: "Bearer \(Self.token)"]
                _ = try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(string: event(7, 3, 0)))
                func answer(_ user: UInt64) async throws -> (id: String, items: [Int], version: Int?) {
                    let r = try await client.execute(uri: "/v1/users/\(user)/recommendations?count=3", method: .get)
                    let json = try JSONSerialization.jsonObject(with: Data(String(buffer: r.body).utf8)) as! [String: Any]
                    return (json["requestID"] as! String, json["items"] as! [Int], json["modelVersion"] as? Int)
                }
                let (first, second, cold) = (try await answer(7), try await answer(7), try await answer(8))
                #expect(first.version == 1 && cold.version == nil && first.id != second.id && Set([first.id, second.id, cold.id]).count == 3)
                let body = [
                    event(7, UInt64(first.items[0]), 0, request: first.id, watchMs: 8_000, like: true),
                    event(7, UInt64(first.items[1]), 1, request: first.id, watchMs: 4_000),
                    event(7, UInt64(second.items[0]), 0, request: second.id, watchMs: 3_000),
                    event(8, 5, 0, request: cold.id, watchMs: 1_000),  // no popular items yet: an empty answer
                    event(9, 5, 0, request: "never-answered"),
                    event(9, 6, 0, request: first.id),  // another user's answer
                ].joined(separator: "\n")
                let posted = String(buffer: try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(string: body)).body)
                #expect(posted.contains(#""stored":6"#))
                let outcomes = try JSONSerialization.jsonObject(with: Data(String(buffer: try await client.execute(uri: "/v1/admin/outcomes", method: .get, headers: admin).body).utf8)) as! [[String: Any]]
                #expect(outcomes.count == 2)
                let popular = outcomes[0], model = outcomes[1]
                #expect(popular["version"] == nil || popular["version"] is NSNull)
                #expect(popular["requests"] as? Int == 1 && popular["sessions"] as? Int == 1 && popular["events"] as? Int == 1)
                #expect(model["version"] as? Int == 1 && model["requests"] as? Int == 2 && model["itemsShown"] as? Int == 6)
                #expect(model["sessions"] as? Int == 2 && model["events"] as? Int == 3)
                // Sessions of 12 s and 3 s: mean 7.5, sd sqrt(40.5).
                #expect(abs((model["watchPerSession"] as! Double) - 7.5) < 1e-9)
                #expect(abs((model["watchDeviation"] as! Double) - 40.5.squareRoot()) < 1e-9)
                #expect(abs((model["likeRate"] as! Double) - 1.0 / 6) < 1e-9)
                let page = String(buffer: try await client.execute(uri: "/", method: .get).body)
                #expect(page.contains(#"<table id="outcomes">"#) && page.contains("<td>popular items</td>") && page.contains("<td>7.5 s (6.4)</td>"))
                #expect(try await client.execute(uri: "/v1/admin/outcomes", method: .get).status == .unauthorized)
            }
        }
    }

    @Test func eventsThenRecommendationsWithTheModelVersion() async throws {
        try await withAPI { api, history in
            try await app(api).test(.router) { client in
                let body = [event(7, 3, 0), "{not json", event(7, 4, 1), #"{"schema":1,"type":"interaction"}"#, event(7, 3, 0)].joined(separator: "\n")
                let posted = try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(string: body))
                #expect(posted.status == .ok)
                let outcome = String(buffer: posted.body)
                #expect(outcome.contains(#""stored":2"#) && outcome.contains(#""duplicates":1"#))
                #expect(outcome.contains(#""line":2"#) && outcome.contains(#""line":4"#))
                #expect(try history.counts().interactions == 2)

                let answer = try await client.execute(uri: "/v1/users/7/recommendations?count=4", method: .get)
                #expect(answer.status == .ok)
                let json = try JSONSerialization.jsonObject(with: Data(String(buffer: answer.body).utf8)) as! [String: Any]
                #expect(json["source"] as? String == "generator" && json["modelVersion"] as? Int == 1)
                let items = json["items"] as! [Int]
                #expect(items.count == 4 && !items.contains(3) && !items.contains(4))
                // The status page names the serving version and lists it among the versions.
                let page = String(buffer: try await client.execute(uri: "/", method: .get).body)
                #expect(page.contains("serving: version 1") && page.contains(#"<table id="versions">"#) && page.contains("<td>1 (serving)</td>"))
            }
        }
    }

    @Test func badRequestsGetAReason() async throws {
        try await withAPI { api, _ in
            try await app(api).test(.router) { client in
                for uri in ["/v1/users/abc/recommendations", "/v1/users/9007199254740993/recommendations",
                            "/v1/users/1/recommendations?count=0", "/v1/users/1/recommendations?count=51"] {
                    let response = try await client.execute(uri: uri, method: .get)
                    #expect(response.status == .badRequest, "\(uri)")
                    #expect(String(buffer: response.body).contains(#""error":"#))
                }
                let allBad = try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(string: "{}\n[]"))
                #expect(allBad.status == .unprocessableContent)
                let huge = try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(repeating: UInt8(ascii: " "), count: (1 << 20) + 1))
                #expect(huge.status == .contentTooLarge)
            }
        }
    }

    /// The hostile corpus as NDJSON lines between valid events: each line refused with its reason, every
    /// valid line stored; the 1 MB message does not fit a request body (1 MiB) and is refused whole; an
    /// empty line is no event at all. The server answers as before afterwards.
    @Test func hostileLinesGetTheirReasonAndTheRestIsStored() async throws {
        try await withAPI { api, history in
            try await app(api).test(.router) { client in
                let corpus = HostileEvents.corpus.filter { !$0.bytes.isEmpty && $0.bytes.count < 1 << 20 }
                var body: [UInt8] = []
                for (i, entry) in corpus.enumerated() { body += Array((event(50, UInt64(i), 0) + "\n").utf8) + entry.bytes + [UInt8(ascii: "\n")] }
                let posted = try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(bytes: body))
                #expect(posted.status == .ok)
                let outcome = try JSONSerialization.jsonObject(with: Data(String(buffer: posted.body).utf8)) as! [String: Any]
                #expect(outcome["stored"] as? Int == corpus.count)
                let rejected = (outcome["rejected"] as? [[String: Any]] ?? []).map { ($0["line"] as! Int, $0["reason"] as! String) }
                #expect(rejected.map(\.0) == corpus.indices.map { 2 * $0 + 2 })
                for ((_, reason), entry) in zip(rejected, corpus) { #expect(reason == entry.reason, "\(entry.name)") }
                #expect(try history.counts().interactions == corpus.count)

                let huge = HostileEvents.corpus.first { $0.bytes.count >= 1 << 20 }!
                #expect(try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(bytes: huge.bytes)).status == .contentTooLarge)
                #expect(try await client.execute(uri: "/v1/users/50/recommendations", method: .get).status == .ok)
            }
        }
    }

    /// An operator starts a canary of a stored version (with a share), sees it and its arms, and stops it;
    /// what cannot be canaried is refused with the reason.
    @Test func anOperatorRunsACanary() async throws {
        try await withAPI { api, _ in
            try await app(api).test(.router) { client in
                let admin: HTTPFields = [.authorization: "Bearer \(Self.token)"]
                func call(_ method: HTTPRequest.Method, _ uri: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                    let r = try await client.execute(uri: uri, method: method, headers: admin)
                    return (r.status, (try? JSONSerialization.jsonObject(with: Data(String(buffer: r.body).utf8)) as? [String: Any]) ?? [:])
                }
                #expect(try await call(.post, "/v1/admin/canary/1").0 == .conflict)  // serves already
                #expect(try await call(.post, "/v1/admin/canary/2?share=2").1["error"] as? String ?? "" == "cannot start a canary: share must be in (0, 1), got 2.0")
                #expect(try await call(.post, "/v1/admin/canary/x").0 == .badRequest)
                let (status, started) = try await call(.post, "/v1/admin/canary/2?share=0.5")
                #expect(status == .ok && started["id"] as? Int == 1 && started["candidate"] as? Int == 2 && started["state"] as? String == "running")
                #expect(try await call(.post, "/v1/admin/canary/2").0 == .conflict)  // one at a time

                let body = (0..<20).map { event(UInt64(100 + $0), 3, 0) }.joined(separator: "\n")
                _ = try await client.execute(uri: "/v1/events", method: .post, body: ByteBuffer(string: body))
                var versions = Set<Int>()
                for user in 100..<120 {
                    let r = try await client.execute(uri: "/v1/users/\(user)/recommendations", method: .get)
                    let json = try JSONSerialization.jsonObject(with: Data(String(buffer: r.body).utf8)) as! [String: Any]
                    versions.insert(json["modelVersion"] as! Int)
                }
                #expect(versions == [1, 2])
                try api.served.flush()
                let (_, running) = try await call(.get, "/v1/admin/canary")
                #expect((running["running"] as? [String: Any])?["id"] as? Int == 1)
                let arms = [(running["control"] as? [String: Any])?["requests"] as? Int ?? 0, (running["candidate"] as? [String: Any])?["requests"] as? Int ?? 0]
                #expect(arms.reduce(0, +) == 20 && arms.allSatisfy { $0 > 0 })
                let page = String(buffer: try await client.execute(uri: "/", method: .get).body)
                #expect(page.contains(#"<table id="arms">"#) && page.contains("canary 1: version 2 serves 50.0% of users"))

                let (stopStatus, stopped) = try await call(.post, "/v1/admin/canary/stop")
                #expect(stopStatus == .ok && stopped["state"] as? String == "stopped")
                #expect(try await call(.post, "/v1/admin/canary/stop").0 == .conflict)
                let (_, after) = try await call(.get, "/v1/admin/canary")
                #expect(after["running"] == nil || after["running"] is NSNull)
                #expect((after["recent"] as? [[String: Any]])?.first?["reason"] as? String == "stopped by an operator")
            }
        }
    }

    @Test func adminNeedsTheBearerToken() async throws {
        try await withAPI { api, _ in
            try await app(api).test(.router) { client in
                #expect(try await client.execute(uri: "/v1/admin/status", method: .get).status == .unauthorized)
                let wrong = try await client.execute(uri: "/v1/admin/status", method: .get, headers: [.authorization: "Bearer 0123456789abcdef-tesX"])
                #expect(wrong.status == .unauthorized)
                let right = try await client.execute(uri: "/v1/admin/status", method: .get, headers: [.authorization: "Bearer \(Self.token)"])
                #expect(right.status == .ok && String(buffer: right.body).contains(#""promoted":[1]"#))
                let rollback = try await client.execute(uri: "/v1/admin/rollback", method: .post, headers: [.authorization: "Bearer \(Self.token)"])
                #expect(rollback.status == .conflict && String(buffer: rollback.body).contains("nothing to roll back to"))
                let align = try await client.execute(uri: "/v1/admin/align", method: .post, headers: [.authorization: "Bearer \(Self.token)"])
                #expect(align.status == .conflict)  // no learner in this daemon
            }
        }
    }
}
