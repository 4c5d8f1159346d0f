import BLAS
import Engine
import Foundation
import Hummingbird
import Kafka
import LMDB
import Logging
import Prometheus
import Simulator
import Store
import ServiceLifecycle

/// `onerec serve`: checks everything it depends on, then runs the services until SIGTERM or SIGINT.
///
/// Startup order: settings, the LMDB store, OpenBLAS, the Kafka brokers (when configured); each failure
/// is a `StartupError` naming the problem and the fix. Then the HTTP server and the systemd watchdog
/// run in one ServiceGroup; READY=1 goes to systemd once the server listens, STOPPING=1 on shutdown.
public enum Daemon {
    public static func run(
        settings: DaemonSettings, registry: PrometheusCollectorRegistry, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws {
        try settings.validate()
        logger.info("onerec starting", metadata: ["version": "\(OneRecVersion.current)"].merging(
            settings.summary.mapValues { .string($0) }, uniquingKeysWith: { $1 }))

        let store = try StateStore(path: settings.storePath, mapSizeMiB: settings.storeMapSizeMiB)
        logger.info("store open", metadata: ["path": "\(store.environment.path)", "mapSize": "\(store.environment.mapSize)"])

        let blas = try OpenBLAS.shared()
        Compute.threads = settings.computeThreads
        logger.info("compute ready", metadata: [
            "blasCore": "\(blas.coreName)", "selection": "\(blas.selection)", "threads": "\(Compute.threads)",
        ])

        let history = try HistoryStore(environment: store.environment)
        var services: [any Service] = []
        if !settings.kafkaBrokers.isEmpty {
            try checkKafka(settings, logger: logger)
            var ingest = IngestService.Config(kafka: KafkaConfig(brokers: settings.kafkaBrokers, clientID: "onerec"))
            ingest.groupID = settings.kafkaGroupID
            ingest.interactionsTopic = settings.interactionsTopic
            ingest.itemsTopic = settings.itemsTopic
            ingest.instanceID = environment["ONEREC_KAFKA_INSTANCE_ID"] ?? "\(ProcessInfo.processInfo.hostName)-\(settings.kafkaGroupID)"
            services.append(try IngestService(config: ingest, store: history, logger: logger))
        }
        if settings.simulatorEnabled {
            var world = World.Config()
            world.users = settings.simulatorUsers
            world.items = settings.simulatorItems
            services.append(SimulatedTraffic(world: World(config: world), store: history,
                                             sessionsPerSecond: settings.simulatorSessionsPerSecond, logger: logger))
        }

        let status = DaemonStatus()
        let notifier = SystemdNotifier(environment: environment)
        let watchdog = WatchdogService(
            notifier: notifier, interval: SystemdNotifier.watchdogInterval(environment: environment), logger: logger)
        let app = buildApplication(
            settings: settings, status: status, registry: registry, services: services + [watchdog],
            onServerRunning: {
                status.markReady()
                notifier.notify("READY=1\nSTATUS=serving on \(settings.httpHost):\(settings.httpPort)")
                logger.info("onerec ready", metadata: ["http": "\(settings.httpHost):\(settings.httpPort)"])
            },
            logger: logger)
        do {
            try await app.runService()  // SIGTERM and SIGINT shut down gracefully
        } catch {
            throw StartupError("HTTP server on \(settings.httpHost):\(settings.httpPort) failed: \(error)",
                               fix: "free the port or set http.port (ONEREC_HTTP_PORT)")
        }
        logger.info("onerec stopped")
    }

    /// Fails fast, with the brokers and the fix in the message, when no broker answers.
    static func checkKafka(_ settings: DaemonSettings, logger: Logger) throws {
        let config = KafkaConfig(brokers: settings.kafkaBrokers, clientID: "onerec")
        do {
            let metadata = try KafkaAdmin(config: config, logger: logger).metadata(timeout: settings.kafkaConnectTimeout)
            logger.info("kafka reachable", metadata: [
                "brokers": "\(metadata.brokers)",
                "interactionsTopic": "\(metadata.topics[settings.interactionsTopic].map { "\($0) partitions" } ?? "absent")",
                "itemsTopic": "\(metadata.topics[settings.itemsTopic].map { "\($0) partitions" } ?? "absent")",
            ])
        } catch let error as KafkaError {
            throw StartupError("cannot reach Kafka: \(error)",
                               fix: "start the broker or set kafka.brokers (ONEREC_KAFKA_BROKERS) to a reachable host:port")
        }
    }
}
