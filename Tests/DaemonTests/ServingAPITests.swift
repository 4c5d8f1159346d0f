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
        let pool = DecodePool(workers: 1, queueLimit: 8)
        defer { pool.close() }
        let recommender = Recommender(history: history, registry: registry, popular: PopularItems(), pool: pool)
        try await body(ServingAPI(recommender: recommender, history: history, registry: registry, learner: nil, adminToken: Self.token), history)
    }

    func app(_ api: ServingAPI) async throws -> some ApplicationProtocol {
        let settings = DaemonSettings(config: try await loadConfiguration(file: nil, environment: [:]), environment: [:])
        return buildApplication(settings: settings, status: DaemonStatus(), registry: PrometheusCollectorRegistry(), api: api, logger: Logger(label: "t"))
    }

    func event(_ user: UInt64, _ item: UInt64, _ position: Int) -> String {
        let e = InteractionEvent(eventID: "e\(user)-\(item)", userID: user, itemID: item, timestampMs: Int64(Date().timeIntervalSince1970 * 1000),
                                 requestID: "r\(user)", position: position, watchTimeMs: 8_000, durationMs: 10_000)
        return Event.interaction(e).json()
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
