import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// What the HTTP endpoints report about the running daemon.
public final class DaemonStatus: Sendable {
    let ready = Atomic<Bool>(false)

    public init() {}

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
    router.get("/readyz") { _, _ in
        let ready = status.isReady
        return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: #"{"ready":\#(ready)}"#)))
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
