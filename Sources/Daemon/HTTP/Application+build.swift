import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// What the HTTP endpoints report about the running daemon.
public final class DaemonStatus: Sendable {
    let ready = Atomic<Bool>(false)
    /// What works less than it should right now (serving goes on): e.g. the Kafka brokers are unreachable.
    let degraded: @Sendable () -> [String]

    public init(degraded: @escaping @Sendable () -> [String] = { [] }) { self.degraded = degraded }

    /// Readiness: true once every startup step is done and the server listens.
    public var isReady: Bool { ready.load(ordering: .relaxed) }
    public func markReady() { ready.store(true, ordering: .relaxed) }
}

/// The daemon's HTTP API: `/healthz` (alive), `/readyz` (ready to serve), `/metrics` (Prometheus), and
/// with `api` the `/v1` endpoints (recommendations, events, admin). Built by a function so tests drive
/// the same router in memory.
public func buildApplication(
    settings: DaemonSettings, status: DaemonStatus, registry: PrometheusCollectorRegistry, api: ServingAPI? = nil,
    services: [any Service] = [], onServerRunning: @escaping @Sendable () async -> Void = {}, logger: Logger
) -> some ApplicationProtocol {
    let router = Router()
    router.add(middleware: MetricsMiddleware())
    router.get("/healthz") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok","version":"\#(OneRecVersion.current)"}"#)))
    }
    // Ready means serving; a degraded part (say, ingest while the brokers are down) is reported, not
    // turned into a 503, since recommendations still work.
    router.get("/readyz") { _, _ in
        let ready = status.isReady
        return try json(Readiness(ready: ready, degraded: status.degraded()), status: ready ? .ok : .serviceUnavailable)
    }
    router.get("/metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                 body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
    if let api { router.addServingRoutes(api) }
    return Application(
        router: router,
        configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: "onerec"),
        services: services,
        onServerRunning: { _ in await onServerRunning() },
        logger: logger)
}

/// `GET /readyz`.
struct Readiness: Encodable {
    let ready: Bool
    let degraded: [String]
}
