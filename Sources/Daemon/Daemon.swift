import BLAS
import Engine
import Foundation
import Generator
import Hummingbird
import Kafka
import Learning
import Logging
import Models
import Prometheus
import Serving
import ServiceLifecycle
import Simulator
import Ingest
import Store

/// `onerec serve`: checks everything it depends on, then runs the services until SIGTERM or SIGINT.
///
/// Startup order: settings, the HTTP address, the LMDB store (as its one writer), OpenBLAS, the Kafka
/// brokers (when configured); each failure is a `StartupError` naming the problem and the fix. Then the
/// HTTP server and the systemd watchdog run in one ServiceGroup; READY=1 goes to systemd once the server
/// listens, STOPPING=1 on shutdown. Until the group runs, SIGTERM ends the process at once (its default
/// action: nothing has been written that a crash would not leave as well).
public enum Daemon {
    public static func run(
        settings: DaemonSettings, registry: PrometheusCollectorRegistry, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        reread: (@Sendable () async throws -> DaemonSettings)? = nil, logLevel: SharedLogLevel? = nil
    ) async throws {
        try settings.validate()
        logger.info("onerec starting", metadata: ["version": "\(OneRecVersion.current)"].merging(
            settings.summary.mapValues { .string($0) }, uniquingKeysWith: { $1 }))

        try ListenCheck.check(host: settings.httpHost, port: settings.httpPort)
        let store = try openStore(settings)
        defer { withExtendedLifetime(store) {} }  // it holds the store's writer lock until the daemon stops
        logger.info("store open", metadata: ["path": "\(store.path)", "mapSize": "\(store.mapSize)"])

        let blas = try OpenBLAS.shared()
        Compute.threads = settings.computeThreads
        logger.info("compute ready", metadata: [
            "blasCore": "\(blas.coreName)", "selection": "\(blas.selection)", "threads": "\(Compute.threads)",
        ])

        let history = try store.history()
        let served = try store.served()
        let models: ModelRegistry
        do {
            models = try ModelRegistry(store: store, directory: "\(settings.storePath)/models", logger: logger)
        } catch let error as ModelStoreError {
            throw StartupError(error.description, fix: "make store.path writable")
        }
        if let serving = try models.restore() {
            logger.info("model loaded", metadata: ["version": "\(serving.version)", "kind": "\(serving.info.kind.rawValue)", "steps": "\(serving.info.steps)"])
        } else {
            logger.info("no model yet: popular items are served until the trainer publishes one")
        }
        let adminToken = try AdminToken.resolve(settings: settings, logger: logger)
        let popular = PopularItems()
        let pool = DecodePool(workers: settings.decodeWorkers, queueLimit: settings.queueLimit)
        defer { pool.close() }  // its threads end once what is queued has run
        var recommenderConfig = Recommender.Config()
        recommenderConfig.beam = settings.servingBeam
        let recommender = Recommender(history: history, registry: models, popular: popular, pool: pool, served: served, config: recommenderConfig)
        let world = settings.simulatorEnabled ? World(config: {
            var c = World.Config()
            c.users = settings.simulatorUsers
            c.items = settings.simulatorItems
            return c
        }()) : nil

        // First, so it stops last: the answers of the last requests are written after the server has stopped.
        var services: [any Service] = [AnswerRecordsService(history: history, served: served, windowHours: settings.answersWindowHours, logger: logger)]
        var consumerLag: (@Sendable () -> Int64?)?
        var ingestService: IngestService?
        var cluster = ClusterView.standalone
        var kafkaCluster: (config: KafkaConfig, instanceID: String)?
        if !settings.kafkaBrokers.isEmpty {
            try checkKafka(settings, logger: logger)
            let kafka = KafkaConfig(brokers: settings.kafkaBrokers, clientID: "onerec", properties: settings.kafkaProperties)
            var ingest = IngestService.Config(kafka: kafka)
            let instanceID = environment["ONEREC_KAFKA_INSTANCE_ID"] ?? "\(ProcessInfo.processInfo.hostName)-\(settings.kafkaGroupID)-\(settings.clusterRole.rawValue)"
            ingest.groupID = settings.ingestGroupID(instanceID: instanceID)
            ingest.interactionsTopic = settings.interactionsTopic
            ingest.itemsTopic = settings.itemsTopic
            ingest.idleCheckInterval = settings.kafkaIdleCheckMilliseconds > 0 ? .milliseconds(settings.kafkaIdleCheckMilliseconds) : nil
            ingest.instanceID = instanceID
            ingest.ownedPartitions = settings.clusterRole == .serve
            kafkaCluster = (kafka, instanceID)
            let service = try IngestService(config: ingest, store: history, logger: logger)
            consumerLag = { service.lag() }
            ingestService = service
            services.append(service)
        }
        if let world {
            services.append(SimulatedTraffic(world: world, store: history, recommender: recommender,
                                             sessionsPerSecond: settings.simulatorSessionsPerSecond, logger: logger))
        }
        var learnerService: LearnerService?
        if settings.trainerRuns {
            var trueWatch: (@Sendable (UInt64, [UInt64]) -> Double)?
            if let world {
                trueWatch = { user, items in user < UInt64(world.config.users) ? world.utility(user: Int(user), session: items).watchTimeMs : 0 }
            }
            let learner = try Learner(config: learnerConfig(settings), store: store, registry: models, popular: popular,
                                      directory: "\(settings.storePath)/trainer", trueWatch: trueWatch, logger: logger)
            learnerService = LearnerService(learner: learner, logger: logger)
        }
        if let (kafka, instanceID) = kafkaCluster, settings.clusterRole != .standalone {
            cluster = try clusterServices(settings, kafka: kafka, instanceID: instanceID, registry: models, learner: learnerService,
                                          ingest: ingestService!, logger: logger)
            services += [cluster.follower as (any Service)?, cluster.leadership, cluster.lease, cluster.routing?.members, cluster.routing?.ownership]
                .compactMap { $0 }
        } else if let learnerService {
            services.append(learnerService)
        }
        if learnerService == nil { services.append(PopularityService(history: history, popular: popular, logger: logger)) }
        services.append(CanaryService(registry: models, served: served, learner: learnerService, lookSeconds: settings.canaryLookSeconds, logger: logger))
        var api = ServingAPI(recommender: recommender, history: history, served: served, registry: models, learner: learnerService, adminToken: adminToken)
        (api.answersWindowHours, api.canary, api.cluster) = (settings.answersWindowHours, settings.canary, cluster)
        if settings.retentionDays > 0 { services.append(RetentionService(history: history, days: settings.retentionDays, logger: logger)) }
        var freshness: (@Sendable () -> IngestService.Freshness?)?
        if let ingestService { freshness = { ingestService.freshness } }
        let rate = IngestRate(history: history, lag: consumerLag, freshness: freshness)
        api.ingestRate = rate
        services.append(rate)
        if let reread {
            let learner = learnerService
            services.append(ConfigReload(running: settings, read: reread, apply: { old, new in
                reconfigure(from: old, to: new, recommender: recommender, learner: learner, logLevel: logLevel)
            }, logger: logger))
        }

        let ingestForStatus = ingestService
        let status = DaemonStatus {
            var degraded: [String] = []
            if let since = ingestForStatus?.brokersUnreachableSince {
                degraded.append("kafka: no broker reachable for \(Int(-since.timeIntervalSinceNow)) s; ingest resumes when one answers")
            }
            if let failure = ingestForStatus?.storeUnwritable {
                degraded.append("store: cannot store ingested events for \(Int(-failure.since.timeIntervalSinceNow)) s (\(failure.reason)); ingest holds them and retries, serving goes on")
            }
            return degraded
        }
        let notifier = SystemdNotifier(environment: environment)
        let watchdog = WatchdogService(
            notifier: notifier, interval: SystemdNotifier.watchdogInterval(environment: environment), logger: logger)
        let app = buildApplication(
            settings: settings, status: status, registry: registry, api: api, services: services + [watchdog],
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

    /// Opens the store as its one writer, refusing one that another process writes or that has another
    /// layout version.
    static func openStore(_ settings: DaemonSettings) throws -> OpenStore {
        do {
            return try OpenStore.forWriting(path: settings.storePath, mapSizeMiB: settings.storeMapSizeMiB, holder: "onerec serve")
        } catch let error as StoreInUse {
            throw StartupError("cannot open the store: \(error)",
                               fix: "stop that process first, or set store.path (ONEREC_STORE_PATH) to another directory")
        } catch let error as StoreLayoutError {
            throw StartupError(error.description, fix: "run the onerec release that wrote it, or point store.path at a new directory")
        } catch {
            throw StartupError("cannot open the store: \(error)", fix: "set store.path (ONEREC_STORE_PATH) to a writable directory")
        }
    }

    /// Applies what may change while running; names what needs a restart.
    static func reconfigure(from old: DaemonSettings, to new: DaemonSettings, recommender: Recommender, learner: LearnerService?,
                            logLevel: SharedLogLevel?) -> (changed: [String], needRestart: [String]) {
        var changed: [String] = []
        if new.logLevel != old.logLevel, let logLevel, let level = Logger.Level(rawValue: new.logLevel) {
            logLevel.level = level
            changed.append("log.level")
        }
        if new.servingBeam != old.servingBeam {
            recommender.config.beam = new.servingBeam
            changed.append("serving.beam")
        }
        if (new.alignmentInterval, new.alignmentUserShare, new.alignmentCandidates) != (old.alignmentInterval, old.alignmentUserShare, old.alignmentCandidates),
           let learner {
            let (interval, share, candidates) = (new.alignmentInterval, new.alignmentUserShare, new.alignmentCandidates)
            learner.update { a in (a.intervalSeconds, a.userShare, a.candidates) = (interval, share, candidates) }
            changed.append("alignment")
        }
        var runtime = new
        (runtime.logLevel, runtime.servingBeam, runtime.alignmentInterval, runtime.alignmentUserShare, runtime.alignmentCandidates) =
            (old.logLevel, old.servingBeam, old.alignmentInterval, old.alignmentUserShare, old.alignmentCandidates)
        let needRestart = runtime == old ? [] : runtime.summary.filter { old.summary[$0.key] != $0.value }.map(\.key).sorted()
            + (runtime.adminToken != old.adminToken ? ["admin.token"] : [])
        return (changed, needRestart)
    }

    /// The learner's configuration from the settings (the rest keeps `LearnerConfig`'s defaults).
    static func learnerConfig(_ settings: DaemonSettings) -> LearnerConfig {
        var c = LearnerConfig()
        if settings.trainerArchitecture == "lazy" {
            c.generator = c.recipe.model(preset: settings.trainerPreset)!
        } else {
            // The encoder-decoder keeps the settings it was tuned to: sampled sessions, 50 history items.
            c.generator = Seq2Seq.Config.preset(settings.trainerPreset, architecture: .encoderDecoder)!
            c.maxHistory = 50
        }
        c.itemIDs = settings.trainerItemIDs  // read by a lazy generator only (`Learner.tokenizer`)
        c.generator.timeGaps = settings.trainerTimeGaps
        c.codebook = CodebookSource(rawValue: settings.trainerCodebook)!  // checked by `validate`
        c.minimumPositives = settings.minimumPositives
        (c.rebuild.uncodedShare, c.rebuild.everyHours) = (settings.rebuildUncodedShare, settings.rebuildEveryHours)
        (c.rebuild.tests, c.rebuild.maximumSteps) = (settings.rebuildTests, settings.rebuildMaximumSteps)
        (c.onlineSampleShare, c.onlineWindowSeconds, c.servingBeam) = (settings.onlineSampleShare, settings.onlineWindowSeconds, settings.servingBeam)
        c.minimumSessions = settings.minimumSessions
        c.publishEverySteps = settings.publishEverySteps
        c.checkpointEverySteps = settings.checkpointEverySteps
        c.alignment.intervalSeconds = settings.alignmentInterval
        c.alignment.userShare = settings.alignmentUserShare
        c.alignment.candidates = settings.alignmentCandidates
        c.alignment.canary = settings.canaryAfterAlignment ? settings.canary : nil
        c.alignment.pairs = AlignmentSettings.PairSource(rawValue: settings.alignmentPairs)!  // checked by `validate`
        return c
    }

    /// A serve node's follower of the models topic; or a train node's follower, lease and leadership (the
    /// learner runs only while it leads); the models topic (and a train node's lease topic) created if missing.
    static func clusterServices(_ settings: DaemonSettings, kafka: KafkaConfig, instanceID: String, registry: ModelRegistry,
                                learner: LearnerService?, ingest: IngestService, logger: Logger) throws -> ClusterView {
        // Whichever node starts first creates the topics it reads.
        do {
            try ModelTopicWriter.createTopic(settings.modelsTopic, kafka: kafka, logger: logger)
            try ClusterMembers.createTopic(settings.membersTopic, kafka: kafka, logger: logger)
            if settings.clusterRole == .train { try TrainerLease.createTopic(settings.leaseTopic, kafka: kafka, logger: logger) }
        } catch let error as KafkaError {
            throw StartupError("cannot create the cluster's topics \(settings.modelsTopic), \(settings.membersTopic), \(settings.leaseTopic): \(error)",
                               fix: "create them (one partition each, the models and members topics with cleanup.policy=compact) or allow onerec's client to")
        }
        let url = settings.advertisedURL.hasSuffix("/") ? String(settings.advertisedURL.dropLast()) : settings.advertisedURL
        let members = try ClusterMembers(kafka: kafka, topic: settings.membersTopic, node: instanceID, role: settings.clusterRole == .train ? .train : .serve,
                                         url: url, timeout: .seconds(settings.memberTimeoutSeconds), logger: logger,
                                         progress: { (registry.snapshot?.version, ingest.lag()) })
        let ownership = settings.clusterRole == .serve ? PartitionOwnership(node: instanceID, members: members, ingest: ingest, logger: logger) : nil
        let routing = UserRouting(node: instanceID, members: members, topic: settings.interactionsTopic, partitioner: settings.partitioner,
                                  ownership: ownership)
        // Every node reads the whole models topic, in no consumer group.
        let trainer = settings.clusterRole == .train ? "\(settings.storePath)/trainer" : nil
        let follower = try ModelFollower(registry: registry, kafka: kafka, topic: settings.modelsTopic, node: instanceID, trainerDirectory: trainer,
                                         logger: logger)
        guard settings.clusterRole == .train, let learner, let trainer else {
            return ClusterView(role: .serve, leadership: nil, follower: follower, lease: nil, routing: routing)
        }
        let lease = try TrainerLease(kafka: kafka, topic: settings.leaseTopic, node: instanceID, timeout: .seconds(settings.leaseTimeoutSeconds),
                                     logger: logger)
        let every = Duration.seconds(settings.checkpointPublishSeconds)
        let leadership = TrainerLeadership(lease: lease, follower: follower, learner: learner, url: url, makeBroadcast: { epoch in
            let writer = try ModelTopicWriter(kafka: kafka, topic: settings.modelsTopic, epoch: epoch, node: instanceID, logger: logger)
            return (writer, ModelBroadcast(registry: registry, writer: writer, checkpoints: (trainer, learner.status, every), logger: logger))
        }, logger: logger)
        return ClusterView(role: .train, leadership: leadership, follower: follower, lease: lease, routing: routing)
    }

    /// Fails fast, with the brokers and the fix in the message, when no broker answers.
    static func checkKafka(_ settings: DaemonSettings, logger: Logger) throws {
        let config = KafkaConfig(brokers: settings.kafkaBrokers, clientID: "onerec", properties: settings.kafkaProperties)
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
