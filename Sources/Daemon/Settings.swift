import Alignment
import Configuration
import Foundation
import Kafka
import Learning
import Models
import Store
import SystemPackage

/// The daemon's settings. Every key, its type and default, in one place; each is read from (first hit
/// wins) the environment (`ONEREC_` + the key in upper case, `_` for `.` and between camel-case words, e.g.
/// `ONEREC_HTTP_PORT`, `ONEREC_SIMULATOR_SESSIONS_PER_SECOND`),
/// then the JSON file (`conf/onerec.json` or `--config`), then these defaults.
///
/// | key | type | default | meaning |
/// |---|---|---|---|
/// | `http.host` | string | `127.0.0.1` | address the HTTP API binds to (loopback unless opened up on purpose) |
/// | `http.port` | int | `8080` | HTTP port |
/// | `store.path` | string | `$STATE_DIRECTORY` or `./onerec-data` | directory of the LMDB store |
/// | `store.mapSizeMegabytes` | int | `256` | initial LMDB map size, reserved on disk; doubled (and reserved) whenever it fills |
/// | `store.retentionDays` | double | `0` | interactions older than this are deleted hourly (catalog kept); 0: keep all |
/// | `kafka.brokers` | string | empty | bootstrap brokers `host:port[,host:port]`; empty: no Kafka |
/// | `kafka.groupId` | string | `onerec` | consumer group |
/// | `kafka.interactionsTopic` | string | `onerec.interactions` | topic of interaction events |
/// | `kafka.itemsTopic` | string | `onerec.items` | topic of item events |
/// | `kafka.connectTimeoutSeconds` | int | `10` | how long startup waits for a broker to answer |
/// | `kafka.idleCheckMilliseconds` | int | `100` | a partition read to its end is paused and the broker asked this often whether more arrived; `0`: leave the waiting to the broker (`fetch.wait.max.ms`) |
/// | `cluster.role` | string | `standalone` | `standalone` (one process does everything), `train` (trains and publishes versions to the models topic) or `serve` (serves the versions the train node publishes; no trainer) |
/// | `cluster.modelsTopic` | string | `onerec.models` | compacted topic the leading train node publishes versions, promotions and checkpoints to (created by the first node to start) |
/// | `cluster.advertisedUrl` | string | `http://<http.host, or the host name if it binds every address>:<http.port>` | where this node's HTTP API answers other nodes: the leader announces it, the others forward admin requests there |
/// | `cluster.leaseTopic` | string | `onerec.trainer-lease` | one-partition topic of the train nodes' claims and the leader's heartbeats, which elects the leading train node (created by train nodes) |
/// | `cluster.leaseTimeoutSeconds` | double | `10` | a standby claims the lease when the leader's heartbeat (every third of this) has not come for this long: the failover time |
/// | `cluster.checkpointPublishSeconds` | double | `60` | how often the leader sends its newest trainer checkpoint for a standby to resume from |
/// | `cluster.membersTopic` | string | `onerec.members` | compacted one-partition topic where every node announces itself every third of the member timeout: its URL, role, serving version and the partitions it has ready (created by the first node to start) |
/// | `cluster.memberTimeoutSeconds` | double | `10` | a node silent this long is out: its partitions go to the other serve nodes |
/// | `cluster.partitioner` | string | `crc32` | how the producers of the interactions topic place user keys: `crc32` (librdkafka's default: onerec, kcat, confluent-kafka-python) or `murmur2` (the Java client's default, Kafka Streams); routing finds a user's owner with it |
/// | `kafka.properties` | string | empty | more librdkafka properties, `key=value;key=value` (TLS, SASL, fetch sizes); applied last, only their keys are logged |
/// | `compute.threads` | int | cores - 1 (at least 1) | workers for training and inference math (the rest serve and ingest) |
/// | `log.level` | string | `info` | trace, debug, info, notice, warning, error, critical |
/// | `simulator.enabled` | bool | true when `kafka.brokers` is empty | run the built-in world as the event source |
/// | `simulator.sessionsPerSecond` | double | `50` | sessions the simulated users receive per second |
/// | `simulator.users` | int | `1000` | users in the built-in world |
/// | `simulator.items` | int | `2000` | items in the built-in world |
/// | `admin.token` | string | generated into `<store.path>/admin-token` | bearer token of the `/v1/admin` endpoints (16+ characters) |
/// | `serving.beam` | int | `16` | beam width of recommendation requests |
/// | `serving.decodeWorkers` | int | half the cores (at least 1) | requests decoded at once |
/// | `serving.queueLimit` | int | `64` | requests waiting for a decode worker before 503 |
/// | `serving.answersWindowHours` | double | `24` | answers kept (request id, user, version, items) to join their events to; older ones are forgotten hourly |
/// | `trainer.enabled` | bool | `true` | run the background trainer and alignment |
/// | `trainer.preset` | string | `small` | generator size: tiny, small, base |
/// | `trainer.architecture` | string | `lazy` | generator architecture: lazy (V2's lazy decoder-only) or encoder-decoder (V1) |
/// | `trainer.timeGaps` | bool | `true` with lazy, else `false` | lazy generator: each history item adds an embedding of its time gap to the positive before it |
/// | `trainer.codebook` | string | `auto` | item vectors of the semantic IDs: `auto` (content where items carry embeddings, behaviour otherwise), `behaviour`, `content`, `both` |
/// | `trainer.minimumPositives` | int | `2000` | positive interactions stored before a codebook from behaviour is built |
/// | `trainer.rebuildUncodedShare` | double | `0.05` | the codebook is rebuilt once this share of the newest positives (at least 1,000) is on items without a code (0: never for this reason) |
/// | `trainer.rebuildEveryHours` | double | `0` | and every this many hours (0: never for this reason) |
/// | `trainer.rebuildTests` | int | `300` | a rebuild's successor generator takes over once it hits more often than the serving version on the newest this many positives tested on both, by more than chance (McNemar, one-sided 5%) |
/// | `trainer.rebuildMaximumSteps` | int | `20000` | a successor that has not taken over after this many steps is dropped |
/// | `online.sampleShare` | double | `0.02` | share of arriving positives on which the serving model and popular items are tested before the learner reads them |
/// | `online.windowSeconds` | double | `3600` | event-time width of the online accuracy curve's windows |
/// | `trainer.itemIDs` | int | `20000` | lazy generator: item-ID rows for the first this many items in coding order (0: items are their codes alone) |
/// | `trainer.minimumSessions` | int | `100` | training sessions before the first step |
/// | `trainer.publishEverySteps` | int | `200` | steps between served versions |
/// | `trainer.checkpointEverySteps` | int | `200` | steps between trainer checkpoints (and one at shutdown) |
/// | `alignment.intervalSeconds` | double | `1800` | seconds between scheduled alignment rounds; 0: operator only |
/// | `alignment.userShare` | double | `0.01` | share of users whose candidates make preference pairs per round |
/// | `alignment.candidates` | int | `32` | candidate sessions beam-searched per user (the paper: 128) |
/// | `alignment.pairs` | string | `reward-model` | where a round's preference pairs come from: `reward-model` (beam candidates scored by it) or `real-sessions` (two logged sessions of a user, the one watched clearly longer chosen) |
/// | `canary.afterAlignment` | bool | `false` | a round's candidate that passes the reward gate is canaried instead of promoted at once |
/// | `canary.share` | double | `0.05` | share of users a canary's candidate serves (sticky, by a hash of the user) |
/// | `canary.sessions` | int | `2000` | sessions each arm needs before the decision |
/// | `canary.maxHours` | double | `24` | hours before an undecided canary is rolled back |
/// | `canary.falsePromotionRate` | double | `0.05` | chance of promoting a candidate no better than the control |
/// | `canary.lookSeconds` | double | `10` | seconds between looks at a running canary |
public struct DaemonSettings: Sendable, Equatable {
    public var httpHost: String
    public var httpPort: Int
    public var storePath: String
    public var storeMapSizeMiB: Int
    public var retentionDays: Double
    public var kafkaBrokers: [String]
    public var kafkaGroupID: String
    public var interactionsTopic: String
    public var itemsTopic: String
    public var kafkaConnectTimeout: Duration
    public var kafkaIdleCheckMilliseconds: Int
    public var clusterRole: ClusterRole
    var unknownClusterRole: String?
    public var modelsTopic: String
    public var leaseTopic: String
    public var advertisedURL: String
    public var leaseTimeoutSeconds: Double
    public var checkpointPublishSeconds: Double
    public var membersTopic: String
    public var memberTimeoutSeconds: Double
    public var partitioner: KeyPartitioner
    var unknownPartitioner: String?
    /// `kafka.properties`, parsed; items without `=` are kept apart for `validate` to refuse.
    public var kafkaProperties: [String: String]
    var malformedKafkaProperties: [String]
    public var computeThreads: Int
    public var logLevel: String
    public var simulatorEnabled: Bool
    public var simulatorSessionsPerSecond: Double
    public var simulatorUsers: Int
    public var simulatorItems: Int
    public var adminToken: String
    public var servingBeam: Int
    public var decodeWorkers: Int
    public var queueLimit: Int
    public var answersWindowHours: Double
    public var alignmentPairs: String
    public var canaryAfterAlignment: Bool
    public var canary: Canary.Settings
    public var canaryLookSeconds: Double
    public var trainerEnabled: Bool
    public var trainerPreset: String
    public var trainerArchitecture: String
    public var trainerItemIDs: Int
    public var trainerTimeGaps: Bool
    public var trainerCodebook: String
    public var minimumPositives: Int
    public var rebuildUncodedShare: Double
    public var rebuildEveryHours: Double
    public var rebuildTests: Int
    public var rebuildMaximumSteps: Int
    public var onlineSampleShare: Double
    public var onlineWindowSeconds: Double
    public var minimumSessions: Int
    public var publishEverySteps: Int
    public var checkpointEverySteps: Int
    public var alignmentInterval: Double
    public var alignmentUserShare: Double
    public var alignmentCandidates: Int

    /// Reads every key from `config`, falling back to the defaults in the table above.
    public init(config: ConfigReader, environment: [String: String] = ProcessInfo.processInfo.environment) {
        httpHost = config.string(forKey: "http.host", default: "127.0.0.1")
        httpPort = config.int(forKey: "http.port", default: 8080)
        storePath = config.string(forKey: "store.path", default: environment["STATE_DIRECTORY"] ?? "./onerec-data")
        storeMapSizeMiB = config.int(forKey: "store.mapSizeMegabytes", default: 256)
        retentionDays = config.double(forKey: "store.retentionDays", default: 0)
        kafkaBrokers = config.string(forKey: "kafka.brokers", default: "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        kafkaGroupID = config.string(forKey: "kafka.groupId", default: "onerec")
        interactionsTopic = config.string(forKey: "kafka.interactionsTopic", default: "onerec.interactions")
        itemsTopic = config.string(forKey: "kafka.itemsTopic", default: "onerec.items")
        kafkaConnectTimeout = .seconds(config.int(forKey: "kafka.connectTimeoutSeconds", default: 10))
        kafkaIdleCheckMilliseconds = config.int(forKey: "kafka.idleCheckMilliseconds", default: 100)
        let role = config.string(forKey: "cluster.role", default: ClusterRole.standalone.rawValue)
        (clusterRole, unknownClusterRole) = ClusterRole(rawValue: role).map { ($0, nil) } ?? (.standalone, role)
        modelsTopic = config.string(forKey: "cluster.modelsTopic", default: "onerec.models")
        leaseTopic = config.string(forKey: "cluster.leaseTopic", default: "onerec.trainer-lease")
        let everyAddress = ["0.0.0.0", "::", ""].contains(httpHost)
        advertisedURL = config.string(forKey: "cluster.advertisedUrl",
                                      default: "http://\(everyAddress ? ProcessInfo.processInfo.hostName : httpHost):\(httpPort)")
        leaseTimeoutSeconds = config.double(forKey: "cluster.leaseTimeoutSeconds", default: 10)
        checkpointPublishSeconds = config.double(forKey: "cluster.checkpointPublishSeconds", default: 60)
        membersTopic = config.string(forKey: "cluster.membersTopic", default: "onerec.members")
        memberTimeoutSeconds = config.double(forKey: "cluster.memberTimeoutSeconds", default: 10)
        let partitioner = config.string(forKey: "cluster.partitioner", default: KeyPartitioner.crc32.rawValue)
        (self.partitioner, unknownPartitioner) = KeyPartitioner(rawValue: partitioner).map { ($0, nil) } ?? (.crc32, partitioner)
        (kafkaProperties, malformedKafkaProperties) = ([:], [])
        for item in config.string(forKey: "kafka.properties", default: "").split(separator: ";") {
            let parts = item.split(separator: "=", maxSplits: 1)
            let key = parts.first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard parts.count == 2, !key.isEmpty else {
                malformedKafkaProperties.append(String(item.prefix(while: { $0 != "=" })))
                continue
            }
            kafkaProperties[key] = String(parts[1]).trimmingCharacters(in: .whitespaces)
        }
        computeThreads = config.int(forKey: "compute.threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount - 1))
        logLevel = config.string(forKey: "log.level", default: "info")
        simulatorEnabled = config.bool(forKey: "simulator.enabled", default: kafkaBrokers.isEmpty)
        simulatorSessionsPerSecond = config.double(forKey: "simulator.sessionsPerSecond", default: 50)
        simulatorUsers = config.int(forKey: "simulator.users", default: 1000)
        simulatorItems = config.int(forKey: "simulator.items", default: 2000)
        adminToken = config.string(forKey: "admin.token", default: "")
        servingBeam = config.int(forKey: "serving.beam", default: 16)
        decodeWorkers = config.int(forKey: "serving.decodeWorkers", default: max(1, ProcessInfo.processInfo.activeProcessorCount / 2))
        queueLimit = config.int(forKey: "serving.queueLimit", default: 64)
        answersWindowHours = config.double(forKey: "serving.answersWindowHours", default: 24)
        trainerEnabled = config.bool(forKey: "trainer.enabled", default: true)
        trainerPreset = config.string(forKey: "trainer.preset", default: "small")
        trainerArchitecture = config.string(forKey: "trainer.architecture", default: "lazy")
        trainerItemIDs = config.int(forKey: "trainer.itemIDs", default: 20_000)
        trainerTimeGaps = config.bool(forKey: "trainer.timeGaps", default: trainerArchitecture == "lazy")
        trainerCodebook = config.string(forKey: "trainer.codebook", default: "auto")
        minimumPositives = config.int(forKey: "trainer.minimumPositives", default: 2_000)
        rebuildUncodedShare = config.double(forKey: "trainer.rebuildUncodedShare", default: 0.05)
        rebuildEveryHours = config.double(forKey: "trainer.rebuildEveryHours", default: 0)
        rebuildTests = config.int(forKey: "trainer.rebuildTests", default: 300)
        rebuildMaximumSteps = config.int(forKey: "trainer.rebuildMaximumSteps", default: 20_000)
        onlineSampleShare = config.double(forKey: "online.sampleShare", default: 0.02)
        onlineWindowSeconds = config.double(forKey: "online.windowSeconds", default: 3_600)
        minimumSessions = config.int(forKey: "trainer.minimumSessions", default: 100)
        publishEverySteps = config.int(forKey: "trainer.publishEverySteps", default: 200)
        checkpointEverySteps = config.int(forKey: "trainer.checkpointEverySteps", default: 200)
        alignmentInterval = config.double(forKey: "alignment.intervalSeconds", default: 1800)
        alignmentUserShare = config.double(forKey: "alignment.userShare", default: 0.01)
        alignmentCandidates = config.int(forKey: "alignment.candidates", default: 32)
        alignmentPairs = config.string(forKey: "alignment.pairs", default: "reward-model")
        canaryAfterAlignment = config.bool(forKey: "canary.afterAlignment", default: false)
        canary = Canary.Settings()
        canary.share = config.double(forKey: "canary.share", default: canary.share)
        canary.sessions = config.int(forKey: "canary.sessions", default: canary.sessions)
        canary.maxHours = config.double(forKey: "canary.maxHours", default: canary.maxHours)
        canary.falsePromotionRate = config.double(forKey: "canary.falsePromotionRate", default: canary.falsePromotionRate)
        canaryLookSeconds = config.double(forKey: "canary.lookSeconds", default: 10)
    }

    /// Checks ranges; the message names the key and what is allowed.
    public func validate() throws(StartupError) {
        func fail(_ key: String, _ what: String) -> StartupError {
            StartupError("invalid setting \(key): \(what)", fix: "correct it in the config file or the ONEREC_ environment")
        }
        guard (1...65535).contains(httpPort) else { throw fail("http.port", "\(httpPort) is not a port (1-65535)") }
        guard storeMapSizeMiB >= 1 else { throw fail("store.mapSizeMegabytes", "must be at least 1") }
        guard retentionDays >= 0 else { throw fail("store.retentionDays", "must not be negative") }
        guard computeThreads >= 1 else { throw fail("compute.threads", "must be at least 1") }
        guard kafkaConnectTimeout > .zero else { throw fail("kafka.connectTimeoutSeconds", "must be positive") }
        guard kafkaIdleCheckMilliseconds >= 0 else { throw fail("kafka.idleCheckMilliseconds", "must not be negative") }
        guard malformedKafkaProperties.isEmpty else {
            throw fail("kafka.properties", "\(malformedKafkaProperties.map { "'\($0)'" }.joined(separator: ", ")) is not key=value (items are separated by ';')")
        }
        if let role = unknownClusterRole { throw fail("cluster.role", "'\(role)' is not standalone, train or serve") }
        guard clusterRole == .standalone || !kafkaBrokers.isEmpty else { throw fail("cluster.role", "\(clusterRole.rawValue) needs kafka.brokers") }
        guard clusterRole != .train || trainerEnabled else { throw fail("trainer.enabled", "must be true on a train node (cluster.role train)") }
        guard clusterRole != .train || !canaryAfterAlignment else {
            throw fail("canary.afterAlignment", "a train node serves no users to canary on; canaries run on a standalone daemon")
        }
        guard !modelsTopic.isEmpty, !leaseTopic.isEmpty, !membersTopic.isEmpty,
              Set([interactionsTopic, itemsTopic, modelsTopic, leaseTopic, membersTopic]).count == 5 else {
            throw fail("cluster.modelsTopic/leaseTopic/membersTopic", "each must be a topic of its own, not empty and not an events topic")
        }
        guard let url = URL(string: advertisedURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, url.path.isEmpty || url.path == "/" else {
            throw fail("cluster.advertisedUrl", "'\(advertisedURL)' is not http(s)://host:port")
        }
        guard (1...300).contains(leaseTimeoutSeconds) else { throw fail("cluster.leaseTimeoutSeconds", "must be in 1...300") }
        guard checkpointPublishSeconds >= 1 else { throw fail("cluster.checkpointPublishSeconds", "must be at least 1") }
        guard (1...300).contains(memberTimeoutSeconds) else { throw fail("cluster.memberTimeoutSeconds", "must be in 1...300") }
        if let partitioner = unknownPartitioner { throw fail("cluster.partitioner", "'\(partitioner)' is not crc32 or murmur2") }
        guard !storePath.isEmpty else { throw fail("store.path", "must not be empty") }
        guard simulatorSessionsPerSecond > 0, simulatorSessionsPerSecond <= 100_000 else { throw fail("simulator.sessionsPerSecond", "must be in (0, 100000]") }
        guard simulatorUsers >= 1, simulatorItems >= 10 else { throw fail("simulator.users/items", "need at least 1 user and 10 items") }
        guard adminToken.isEmpty || adminToken.count >= 16 else { throw fail("admin.token", "must be at least 16 characters") }
        guard (1...1024).contains(servingBeam) else { throw fail("serving.beam", "\(servingBeam) is not in 1...1024") }
        guard decodeWorkers >= 1, queueLimit >= 0 else { throw fail("serving.decodeWorkers/queueLimit", "need at least 1 worker and a queue limit >= 0") }
        guard answersWindowHours > 0 else { throw fail("serving.answersWindowHours", "must be positive") }
        guard AlignmentSettings.PairSource(rawValue: alignmentPairs) != nil else {
            throw fail("alignment.pairs", "'\(alignmentPairs)' is neither reward-model nor real-sessions")
        }
        if let problem = canary.problem { throw fail("canary", problem) }
        guard canaryLookSeconds > 0 else { throw fail("canary.lookSeconds", "must be positive") }
        guard ["tiny", "small", "base"].contains(trainerPreset) else { throw fail("trainer.preset", "\(trainerPreset) is not tiny, small or base") }
        guard Seq2Seq.Architecture(rawValue: trainerArchitecture) != nil else {
            throw fail("trainer.architecture", "\(trainerArchitecture) is not encoder-decoder or lazy")
        }
        guard !trainerTimeGaps || trainerArchitecture == "lazy" else { throw fail("trainer.timeGaps", "needs trainer.architecture lazy") }
        guard CodebookSource(rawValue: trainerCodebook) != nil else { throw fail("trainer.codebook", "\(trainerCodebook) is not auto, behaviour, content or both") }
        guard minimumPositives >= 2 else { throw fail("trainer.minimumPositives", "must be at least 2") }
        guard (0...1).contains(rebuildUncodedShare) else { throw fail("trainer.rebuildUncodedShare", "\(rebuildUncodedShare) is not in [0, 1]") }
        guard rebuildEveryHours >= 0 else { throw fail("trainer.rebuildEveryHours", "must not be negative") }
        guard rebuildTests >= 1, rebuildMaximumSteps >= 1 else { throw fail("trainer.rebuildTests/rebuildMaximumSteps", "must be at least 1") }
        guard (0...1).contains(onlineSampleShare) else { throw fail("online.sampleShare", "\(onlineSampleShare) is not in [0, 1]") }
        guard onlineWindowSeconds > 0 else { throw fail("online.windowSeconds", "must be positive") }
        guard (0...10_000_000).contains(trainerItemIDs) else { throw fail("trainer.itemIDs", "\(trainerItemIDs) is not in 0...10000000") }
        guard minimumSessions >= 1, publishEverySteps >= 1, checkpointEverySteps >= 1 else {
            throw fail("trainer.minimumSessions/publishEverySteps/checkpointEverySteps", "must be at least 1")
        }
        guard alignmentInterval >= 0 else { throw fail("alignment.intervalSeconds", "must not be negative") }
        guard alignmentUserShare > 0, alignmentUserShare <= 1 else { throw fail("alignment.userShare", "must be in (0, 1]") }
        guard alignmentCandidates >= 2 else { throw fail("alignment.candidates", "must be at least 2") }
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(logLevel) else { throw fail("log.level", "\(logLevel) is not one of \(levels.joined(separator: ", "))") }
    }

    /// Whether this node trains: a serve node never does, whatever `trainer.enabled` says.
    public var trainerRuns: Bool { trainerEnabled && clusterRole != .serve }

    /// The consumer group of the events topics: each train node reads every event, in a group of its
    /// own (`<kafka.groupId>-train.<instance id>`); a standalone daemon's members share `kafka.groupId`
    /// (serve nodes read the partitions the members topic gives them, in no group).
    public func ingestGroupID(instanceID: String) -> String { clusterRole == .train ? "\(kafkaGroupID)-train.\(instanceID)" : kafkaGroupID }

    /// The settings as log metadata (no secrets are among them).
    public var summary: [String: String] {
        [
            "http": "\(httpHost):\(httpPort)", "store.path": storePath, "store.mapSizeMegabytes": "\(storeMapSizeMiB)", "store.retentionDays": "\(retentionDays)",
            "kafka.brokers": kafkaBrokers.isEmpty ? "(none)" : kafkaBrokers.joined(separator: ","),
            "kafka.groupId": kafkaGroupID, "kafka.topics": "\(interactionsTopic),\(itemsTopic)",
            "kafka.properties": kafkaProperties.keys.sorted().joined(separator: ","), "kafka.idleCheckMilliseconds": "\(kafkaIdleCheckMilliseconds)",
            "compute.threads": "\(computeThreads)", "log.level": logLevel,
            "serving": "beam \(servingBeam), \(decodeWorkers) decode workers, queue \(queueLimit), answers kept \(answersWindowHours) h",
            "cluster.role": clusterRole == .standalone ? "standalone"
                : "\(clusterRole.rawValue), models on \(modelsTopic), members on \(membersTopic) (\(memberTimeoutSeconds) s, \(partitioner.rawValue))"
                    + (clusterRole == .train ? ", lease \(leaseTopic) (\(leaseTimeoutSeconds) s)" : ""),
            "trainer": trainerRuns ? "\(trainerPreset) \(trainerArchitecture)\(trainerTimeGaps ? " with time gaps" : ""), publish every \(publishEverySteps) steps" : "off",
            "alignment": (alignmentInterval > 0 ? "every \(alignmentInterval) s" : "on request") + ", pairs from \(alignmentPairs)",
            "canary": "share \(canary.share), \(canary.sessions) sessions an arm, false promotions \(canary.falsePromotionRate), at most \(canary.maxHours) h"
                + (canaryAfterAlignment ? ", after each alignment round" : ""),
        ]
    }
}

/// The configuration sources in precedence order: `ONEREC_*` environment variables, the JSON file
/// (if it exists; a file that exists but does not parse is an error), nothing else (defaults live in
/// `DaemonSettings`).
public func loadConfiguration(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> ConfigReader {
    let env = KeyMappingProvider(upstream: EnvironmentVariablesProvider(environmentVariables: environment)) { key in
        key.prepending(["onerec"])
    }
    guard let file else { return ConfigReader(providers: [env]) }
    do {
        let json = try await FileProvider<JSONSnapshot>(filePath: FilePath(file), allowMissing: true)
        return ConfigReader(providers: [env, json])
    } catch {
        throw StartupError("cannot read config file \(file): \(error)", fix: "fix the JSON or point --config at another file")
    }
}

/// Why the daemon could not start, and what the operator can do: printed as one line.
public struct StartupError: Error, CustomStringConvertible {
    public let problem: String
    public let fix: String

    public init(_ problem: String, fix: String) {
        self.problem = problem
        self.fix = fix
    }

    public var description: String { "\(problem) (\(fix))" }
}
