import Foundation
import Ingest
import Kafka
import Logging

/// Fresh interactions (two partitions) and items topics named `<prefix>-events-<suffix>` and
/// `<prefix>-items-<suffix>`, holding the simulator's log: what the cluster benchmarks' nodes ingest.
func simulatedTopics(brokers: String, kafka: KafkaConfig, prefix: String, suffix: Substring, users: Int, items: Int, seed: UInt64, requests: Int,
                     partitions: Int = 2, logger: Logger) throws -> (events: String, catalog: String) {
    let (events, catalog) = ("\(prefix)-events-\(suffix)", "\(prefix)-items-\(suffix)")
    let admin = try KafkaAdmin(config: kafka, logger: logger)
    try admin.createTopic(events, partitions: partitions)
    try admin.createTopic(catalog, partitions: 1)
    let sink = try EventSink(brokers: brokers, topic: events, itemsTopic: catalog)
    try simulatorLog(users: users, items: items, seed: seed, requests: requests) { try sink.write($0) }
    try sink.finish()
    return (events, catalog)
}

/// What each cluster benchmark starts with: the CPU printed (figures are compared within one machine), a
/// quiet logger, the brokers' configuration and a suffix that makes its topics and groups its own.
func clusterBenchStart(brokers: String) -> (logger: Logger, kafka: KafkaConfig, suffix: Substring) {
    print("CPU: \(cpuModelName()), \(ProcessInfo.processInfo.activeProcessorCount) cores")
    var logger = Logger(label: "onerec.bench")
    logger.logLevel = .warning
    return (logger, KafkaConfig(brokers: brokers.split(separator: ",").map(String.init), clientID: "onerec-bench"), UUID().uuidString.prefix(8))
}
