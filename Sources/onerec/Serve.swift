import ArgumentParser
import Foundation
import Logging
import Metrics
import OneRecDaemon
import Prometheus

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon until SIGTERM or SIGINT.",
        discussion: "Settings come from ONEREC_* environment variables, then the JSON config file, then built-in defaults; see conf/onerec.json.")

    @Option(name: .long, help: "JSON config file (default: conf/onerec.json if it exists).")
    var config: String?

    func run() async throws {
        let file: String?
        if let config {
            guard FileManager.default.fileExists(atPath: config) else {
                throw StartupError("config file \(config) does not exist", fix: "pass an existing file to --config")
            }
            file = config
        } else {
            file = FileManager.default.fileExists(atPath: "conf/onerec.json") ? "conf/onerec.json" : nil
        }
        let settings = DaemonSettings(config: try await loadConfiguration(file: file))
        try settings.validate()

        let level = SharedLogLevel(Logger.Level(rawValue: settings.logLevel) ?? .info)
        LoggingSystem.bootstrap { label in SharedLevelLogHandler(label: label, shared: level) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: "onerec")
        logger[metadataKey: "config"] = "\(file ?? "(none)")"
        try await Daemon.run(settings: settings, registry: registry, logger: logger,
                             reread: { DaemonSettings(config: try await loadConfiguration(file: file)) }, logLevel: level)
    }
}
