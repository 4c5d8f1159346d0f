import Alignment
import Configuration
import Foundation
import Kafka
import OneRecDaemon
import Testing

@Suite struct SettingsTests {
    @Test func defaultsApplyWhenNothingIsSet() async throws {
        let settings = DaemonSettings(config: try await loadConfiguration(file: nil, environment: [:]), environment: [:])
        #expect(settings.httpHost == "127.0.0.1")
        #expect(settings.httpPort == 8080)
        #expect(settings.storePath == "./onerec-data")
        #expect(settings.kafkaBrokers.isEmpty)
        #expect(settings.interactionsTopic == "onerec.interactions")
        #expect(settings.simulatorEnabled)  // no Kafka: the built-in world is the source
        try settings.validate()
    }

    @Test func environmentOverridesTheFileWhichOverridesDefaults() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try #"{"http": {"port": 9000, "host": "0.0.0.0"}, "kafka": {"brokers": "a:1, b:2"}, "store": {"path": "/srv/x"}}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let environment = ["ONEREC_HTTP_PORT": "9100", "STATE_DIRECTORY": "/var/lib/onerec"]
        let settings = DaemonSettings(config: try await loadConfiguration(file: file, environment: environment), environment: environment)
        #expect(settings.httpPort == 9100)
        #expect(settings.httpHost == "0.0.0.0")
        #expect(settings.kafkaBrokers == ["a:1", "b:2"])
        #expect(!settings.simulatorEnabled)
        #expect(settings.storePath == "/srv/x")
    }

    @Test func camelCaseKeysHaveUnderscoredEnvironmentNames() async throws {
        let environment = ["ONEREC_STORE_MAP_SIZE_MEGABYTES": "64", "ONEREC_KAFKA_GROUP_ID": "g", "ONEREC_KAFKA_CONNECT_TIMEOUT_SECONDS": "3"]
        let settings = DaemonSettings(config: try await loadConfiguration(file: nil, environment: environment), environment: environment)
        #expect(settings.storeMapSizeMiB == 64)
        #expect(settings.kafkaGroupID == "g")
        #expect(settings.kafkaConnectTimeout == .seconds(3))
    }

    @Test func systemdStateDirectoryIsTheDefaultStore() async throws {
        let environment = ["STATE_DIRECTORY": "/var/lib/onerec"]
        let settings = DaemonSettings(config: try await loadConfiguration(file: nil, environment: environment), environment: environment)
        #expect(settings.storePath == "/var/lib/onerec")
    }

    @Test func theShippedConfigFileParsesAndValidates() async throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../conf/onerec.json").standardized.path
        #expect(FileManager.default.fileExists(atPath: file))
        let settings = DaemonSettings(config: try await loadConfiguration(file: file, environment: [:]), environment: [:])
        try settings.validate()
        #expect(settings.httpHost == "127.0.0.1")
        #expect(settings.canary.maxHours == 24 && settings.canaryLookSeconds == 10 && settings.canary.sessions == 2000 && settings.alignmentPairs == "reward-model")
    }

    @Test func outOfRangeValuesNameTheKey() async throws {
        let environment = ["ONEREC_HTTP_PORT": "70000"]
        let settings = DaemonSettings(config: try await loadConfiguration(file: nil, environment: environment), environment: environment)
        let error = #expect(throws: StartupError.self) { try settings.validate() }
        #expect(error?.description.contains("http.port") == true)
        var bad = settings
        bad.httpPort = 8080
        bad.logLevel = "loud"
        #expect(throws: StartupError.self) { try bad.validate() }
        let rebuild = ["ONEREC_TRAINER_REBUILD_UNCODED_SHARE": "1.5"]
        let share = DaemonSettings(config: try await loadConfiguration(file: nil, environment: rebuild), environment: rebuild)
        #expect((#expect(throws: StartupError.self) { try share.validate() })?.description.contains("trainer.rebuildUncodedShare") == true)
    }

    @Test func clusterRolesAndWhatEachNeeds() async throws {
        func settings(_ environment: [String: String]) async throws -> DaemonSettings {
            DaemonSettings(config: try await loadConfiguration(file: nil, environment: environment), environment: environment)
        }
        let standalone = try await settings([:])
        #expect(standalone.clusterRole == .standalone && standalone.ingestGroupID(instanceID: "i") == "onerec" && standalone.trainerRuns)
        let train = try await settings(["ONEREC_CLUSTER_ROLE": "train", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_KAFKA_GROUP_ID": "feed"])
        try train.validate()
        #expect(train.ingestGroupID(instanceID: "t1") == "feed-train.t1" && train.trainerRuns && train.modelsTopic == "onerec.models")
        #expect(train.leaseTopic == "onerec.trainer-lease" && train.leaseTimeoutSeconds == 10 && train.checkpointPublishSeconds == 60)
        #expect(train.advertisedURL == "http://127.0.0.1:8080")
        let serve = try await settings(["ONEREC_CLUSTER_ROLE": "serve", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_MODELS_TOPIC": "m"])
        try serve.validate()
        #expect(serve.ingestGroupID(instanceID: "s1") == "onerec" && !serve.trainerRuns && serve.modelsTopic == "m")
        #expect(serve.membersTopic == "onerec.members" && serve.memberTimeoutSeconds == 10 && serve.partitioner == .crc32)
        let java = try await settings(["ONEREC_CLUSTER_ROLE": "serve", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_PARTITIONER": "murmur2"])
        try java.validate()
        #expect(java.partitioner == .murmur2)
        let refused: [([String: String], String)] = [
            (["ONEREC_CLUSTER_ROLE": "leader"], "'leader' is not standalone, train or serve"),
            (["ONEREC_CLUSTER_ROLE": "serve"], "serve needs kafka.brokers"),
            (["ONEREC_CLUSTER_ROLE": "train", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_TRAINER_ENABLED": "false"], "trainer.enabled"),
            (["ONEREC_CLUSTER_ROLE": "train", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CANARY_AFTER_ALIGNMENT": "true"], "canary.afterAlignment"),
            (["ONEREC_CLUSTER_ROLE": "serve", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_MODELS_TOPIC": "onerec.interactions"], "cluster.modelsTopic"),
            (["ONEREC_CLUSTER_ROLE": "train", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_LEASE_TOPIC": "onerec.models"], "leaseTopic"),
            (["ONEREC_CLUSTER_ROLE": "train", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_LEASE_TIMEOUT_SECONDS": "0.5"], "cluster.leaseTimeoutSeconds"),
            (["ONEREC_CLUSTER_ROLE": "train", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_ADVERTISED_URL": "ftp://x:1"], "cluster.advertisedUrl"),
            (["ONEREC_CLUSTER_ROLE": "train", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_ADVERTISED_URL": "http://x:1/a"], "cluster.advertisedUrl"),
            (["ONEREC_CLUSTER_ROLE": "serve", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_MEMBERS_TOPIC": "onerec.models"], "membersTopic"),
            (["ONEREC_CLUSTER_ROLE": "serve", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_MEMBER_TIMEOUT_SECONDS": "0"], "cluster.memberTimeoutSeconds"),
            (["ONEREC_CLUSTER_ROLE": "serve", "ONEREC_KAFKA_BROKERS": "b:1", "ONEREC_CLUSTER_PARTITIONER": "fnv"], "'fnv' is not crc32 or murmur2"),
        ]
        for (environment, reason) in refused {
            let s = try await settings(environment)
            #expect { try s.validate() } throws: { "\($0)".contains(reason) }
        }
    }

    @Test func kafkaPropertiesAreKeyValuePairsAndOnlyTheirKeysAreLogged() async throws {
        let environment = ["ONEREC_KAFKA_PROPERTIES": "security.protocol=SASL_SSL; sasl.password = s3cret=x ;receive.message.max.bytes=400000000"]
        let settings = DaemonSettings(config: try await loadConfiguration(file: nil, environment: environment), environment: environment)
        #expect(settings.kafkaProperties == ["security.protocol": "SASL_SSL", "sasl.password": "s3cret=x", "receive.message.max.bytes": "400000000"])
        try settings.validate()
        #expect(settings.summary["kafka.properties"] == "receive.message.max.bytes,sasl.password,security.protocol")
        #expect(!settings.summary.values.contains { $0.contains("s3cret") })
        let broken = ["ONEREC_KAFKA_PROPERTIES": "acks=all;linger.ms"]
        let refused = DaemonSettings(config: try await loadConfiguration(file: nil, environment: broken), environment: broken)
        let error = #expect(throws: StartupError.self) { try refused.validate() }
        #expect(error?.description.contains("kafka.properties") == true && error?.description.contains("'linger.ms'") == true)
    }

    @Test func aBrokenConfigFileIsAClearError() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "{ not json".write(toFile: file, atomically: true, encoding: .utf8)
        await #expect(throws: StartupError.self) { _ = try await loadConfiguration(file: file, environment: [:]) }
    }
}
