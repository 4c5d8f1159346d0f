import Alignment
import Events
import Foundation
import Hummingbird
import Ingest
import Learning
import Metrics
import RequestParameters
import Serving
import Store

/// What the `/v1` endpoints work with: the recommender (feed backend), the history store (event
/// producers without Kafka), the model registry and the learner (operators).
public struct ServingAPI: Sendable {
    public let recommender: Recommender
    public let history: HistoryStore
    /// The answers kept and each version's outcomes.
    public let served: ServedRequests
    public let registry: ModelRegistry
    public let learner: LearnerService?
    /// Bearer token of the admin endpoints.
    public let adminToken: String
    public let decoder: EventDecoder
    /// How long answers are kept (`serving.answersWindowHours`; shown on the status page).
    public var answersWindowHours = 24.0
    /// The settings of canaries an operator starts (`canary.*`; the share may be given per request).
    public var canary = Canary.Settings()
    /// Largest request body accepted (POST /v1/events).
    public var maxBodyBytes = 1 << 20
    /// The ingest-rate sampler the status page plots.
    public var ingestRate: IngestRate?
    /// This node's part in a cluster.
    var cluster = ClusterView.standalone

    public init(recommender: Recommender, history: HistoryStore, served: ServedRequests, registry: ModelRegistry, learner: LearnerService?,
                adminToken: String, decoder: EventDecoder = EventDecoder()) {
        precondition(adminToken.count >= 16, "the admin token is generated or checked at startup")
        (self.recommender, self.history, self.served, self.registry, self.learner, self.adminToken, self.decoder) =
            (recommender, history, served, registry, learner, adminToken, decoder)
    }
}

/// An error answered as JSON: `{"error": reason}` with its status.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let reason: String
    init(_ status: HTTPResponse.Status, _ reason: String) { (self.status, self.reason) = (status, reason) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try json(["error": reason], status: status)
    }
}

/// A request value checked by `RequestParameters`; a refusal becomes a 400 with its reason.
func checked<T>(_ parse: () throws -> T) throws -> T {
    do {
        return try parse()
    } catch let refused as BadRequest {
        throw APIError(.badRequest, refused.reason)
    }
}

/// A JSON response (keys sorted, so answers are stable).
func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

extension Router {
    /// `/v1/users/{id}/recommendations`, `/v1/events` and `/v1/admin/...`.
    func addServingRoutes(_ api: ServingAPI) {
        get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: try statusPage(api, rate: api.ingestRate))))
        }
        let latency = Timer(label: "onerec_recommendation_seconds", preferredDisplayUnit: .seconds)
        let refused = Counter(label: "onerec_recommendations_refused_total", dimensions: [("reason", "overloaded")])
        get("/v1/users/:id/recommendations") { request, context -> Response in
            let user = try checked { try RequestParameters.user(context.parameters.get("id")) }
            let count = try checked {
                try RequestParameters.count(request.uri, defaultCount: api.recommender.config.defaultCount, maxCount: api.recommender.config.maxCount)
            }
            let start = ContinuousClock.now
            if let routing = api.cluster.routing {
                let forwarded = request.headers[ClusterView.forwardedHeader] != nil
                switch routing.route(user: user, forwarded: forwarded) {
                case .local: break
                case .forward(let node, let url):
                    if let answer = await forwardToOwner(request, node: node, url: url) { return answer }
                    return try fallback(api, user: user, count: count, reason: "owner_unreachable")
                case .fallback(let reason):
                    return try fallback(api, user: user, count: count, reason: reason)
                }
            }
            do {
                let recommendation = try await api.recommender.recommend(user: user, count: count)
                latency.recordNanoseconds(Int64(start.duration(to: .now) / .nanoseconds(1)))
                return try json(recommendation)
            } catch is Overloaded {
                refused.increment()
                throw APIError(.serviceUnavailable, "overloaded: every decode worker is busy; retry shortly")
            }
        }
        get("/v1/cluster") { _, _ -> Response in
            guard let routing = api.cluster.routing else {
                throw APIError(.notFound, "this daemon runs standalone (cluster.role standalone): it answers for every user itself")
            }
            return try json(ClusterMap(routing: routing, follower: api.cluster.follower))
        }
        post("/v1/events") { request, _ -> Response in
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: api.maxBodyBytes)
            } catch {
                throw APIError(.contentTooLarge, "request body over \(api.maxBodyBytes) bytes; send fewer events per request")
            }
            let lines = Array(buffer: body)
            let outcome = try await api.history.writing { try ingest(newlineDelimited: lines, api: api) }
            // 422 only when every line was refused; otherwise what was refused is listed beside what was stored.
            return try json(outcome, status: outcome.stored + outcome.duplicates == 0 && !outcome.rejected.isEmpty ? .unprocessableContent : .ok)
        }
        addAdminRoutes(api)
    }

    private func addAdminRoutes(_ api: ServingAPI) {
        let admin = group("/v1/admin").add(middleware: BearerTokenMiddleware(token: api.adminToken))
        admin.get("/status") { _, _ -> Response in
            try json(AdminStatus(serving: api.registry.snapshot?.info, promoted: try api.registry.promotedStack(), canary: api.registry.canary?.canary,
                                 learner: api.learner?.status.snapshot, interactions: try api.history.counts().interactions, cluster: api.cluster.status,
                                 ingestFreshness: api.ingestRate?.freshness?()))
        }
        admin.get("/models") { _, _ -> Response in try json(try api.registry.versions()) }
        admin.get("/outcomes") { _, _ -> Response in try json(try api.served.outcomes(newest: 100)) }
        admin.post("/align") { request, _ -> Response in
            if let answer = try await api.cluster.forward(request) { return answer }
            guard let learner = api.learner else { throw APIError(.conflict, "this daemon runs no learner") }
            if RequestParameters.wait(request.uri) {
                do {
                    return try json(try await learner.align(reason: "operator"))
                } catch let error as LearnerError {
                    throw APIError(.conflict, error.description)
                }
            }
            Task { _ = try? await learner.align(reason: "operator") }
            return try json(["queued": true], status: .accepted)
        }
        admin.get("/rounds/:round/pairs") { _, context -> Response in
            guard let learner = api.learner else { throw APIError(.conflict, "this daemon runs no learner") }
            let round = try checked { try RequestParameters.round(context.parameters.get("round")) }
            guard learner.status.snapshot.rounds.contains(where: { $0.id == round }) else { throw APIError(.notFound, "no alignment round \(round)") }
            return try json(try learner.pairs(round: round))
        }
        admin.post("/promote/:version") { request, context -> Response in
            if let answer = try await api.cluster.forward(request) { return answer }
            let version = try checked { try RequestParameters.version(context.parameters.get("version")) }
            do {
                return try json(try api.registry.promote(version: version).info)
            } catch {
                throw APIError(.conflict, "cannot promote version \(version): \(error)")
            }
        }
        admin.get("/canary") { _, _ -> Response in try json(try CanaryStatus(api)) }
        admin.post("/canary/stop") { _, _ -> Response in
            if let refusal = api.cluster.canaryRefusal { throw APIError(.conflict, refusal) }
            do {
                return try json(try api.registry.stopCanary(reason: "stopped by an operator"))
            } catch let error as ModelStoreError {
                throw APIError(.conflict, error.description)
            }
        }
        admin.post("/canary/:version") { request, context -> Response in
            if let refusal = api.cluster.canaryRefusal { throw APIError(.conflict, refusal) }
            let version = try checked { try RequestParameters.version(context.parameters.get("version")) }
            var settings = api.canary
            if let share = request.uri.queryParameters.get("share") {
                guard let value = Double(share) else { throw APIError(.badRequest, "share must be a number in (0, 1), got '\(share)'") }
                settings.share = value
            }
            do {
                return try json(try api.registry.startCanary(version: version, settings: settings))
            } catch let error as ModelStoreError {
                throw APIError(.conflict, error.description)
            }
        }
        admin.post("/rollback") { request, _ -> Response in
            if let answer = try await api.cluster.forward(request) { return answer }
            do {
                return try json(try api.registry.rollback().info)
            } catch {
                throw APIError(.conflict, "\(error)")
            }
        }
    }
}

/// `GET /v1/admin/canary`: the running canary with its arms so far, and the recent ones.
struct CanaryStatus: Encodable {
    let running: Canary?
    let control: SessionOutcomes?
    let candidate: SessionOutcomes?
    let recent: [Canary]

    init(_ api: ServingAPI) throws {
        running = api.registry.canary?.canary
        let arms = try running.map { try api.served.arms(canary: $0.id, candidate: $0.candidate) }
        (control, candidate) = (arms?.control, arms?.candidate)
        recent = try api.registry.canaries(limit: 10)
    }
}

/// `GET /v1/admin/status`.
struct AdminStatus: Encodable {
    let serving: ModelInfo?
    let promoted: [UInt32]
    /// The running canary, if any.
    let canary: Canary?
    let learner: LearnerStatus.Snapshot?
    let interactions: Int
    let cluster: ClusterView.Status
    /// Event → stored over the newest sampled events (Kafka ingest only).
    let ingestFreshness: IngestService.Freshness?
}

/// What `POST /v1/events` did with each line.
struct IngestOutcome: Encodable {
    struct Rejected: Encodable {
        let line: Int
        let reason: String
    }
    var stored = 0
    var duplicates = 0
    var rejected: [Rejected] = []
}

/// Stores the valid events of a newline-delimited JSON body in one transaction; each invalid line is
/// reported with its reason and the rest are kept.
func ingest(newlineDelimited bytes: [UInt8], api: ServingAPI) throws -> IngestOutcome {
    var outcome = IngestOutcome()
    var events: [Event] = []
    for (i, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
        guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) else { continue }
        switch api.decoder.decode(Array(line)) {
        case .success(let event): events.append(event)
        case .failure(let rejection): outcome.rejected.append(.init(line: i + 1, reason: rejection.description))
        }
    }
    let applied = try api.history.apply(events, offsets: [:])
    (outcome.stored, outcome.duplicates) = (applied.stored, applied.duplicates)
    applied.joined.count()
    Counter(label: "onerec_http_events_total", dimensions: [("result", "stored")]).increment(by: applied.stored)
    Counter(label: "onerec_http_events_total", dimensions: [("result", "invalid")]).increment(by: outcome.rejected.count)
    return outcome
}

/// Admin endpoints need `Authorization: Bearer <admin token>`; compared in constant time.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let presented = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        let (a, b) = (Array(presented.utf8), Array(token.utf8))
        var difference = a.count ^ b.count
        for i in 0..<b.count { difference |= Int((i < a.count ? a[i] : 0) ^ b[i]) }
        guard difference == 0 else {
            throw APIError(.unauthorized, "admin endpoints need Authorization: Bearer <admin token> (admin.token, or the admin-token file in the store)")
        }
        return try await next(request, context)
    }
}
