import Configuration
import Hummingbird
import HummingbirdTesting
import Logging
import OneRecDaemon
import Prometheus
import Testing

@Suite struct HTTPTests {
    func app(ready: Bool) async throws -> some ApplicationProtocol {
        let settings = DaemonSettings(config: try await loadConfiguration(file: nil, environment: [:]), environment: [:])
        let status = DaemonStatus()
        if ready { status.markReady() }
        return buildApplication(settings: settings, status: status, registry: PrometheusCollectorRegistry(), logger: Logger(label: "http-test"))
    }

    @Test func healthzAnswersOverRealHTTP() async throws {
        try await app(ready: false).test(.live) { (client) throws in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body).contains(#""status":"ok""#))
        }
    }

    @Test func readyzFollowsReadiness() async throws {
        try await app(ready: false).test(.router) { (client) throws in
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .serviceUnavailable)
        }
        try await app(ready: true).test(.router) { (client) throws in
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
        }
    }

    @Test func metricsAreInPrometheusTextFormat() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(name: "onerec_test_total").increment()
        let settings = DaemonSettings(config: try await loadConfiguration(file: nil, environment: [:]), environment: [:])
        let app = buildApplication(settings: settings, status: DaemonStatus(), registry: registry, logger: Logger(label: "t"))
        try await app.test(.router) { (client) throws in
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body).contains("onerec_test_total 1"))
        }
    }
}
