import Events
import Foundation
import Kafka
import Logging

/// Why events could not be written: the file cannot be created, or no broker answers.
public struct EventSinkError: Error, CustomStringConvertible {
    public let description: String
}

/// Where simulated events go: a JSONL file (one event per line) or Kafka topics keyed by user / item.
public final class EventSink {
    private let file: FileHandle?
    private let producer: KafkaProducer?
    private let topic: String, itemsTopic: String

    /// Writes to a new JSONL file at `path` (replacing one that is there).
    public init(file path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw EventSinkError(description: "cannot write \(path)")
        }
        (file, producer, topic, itemsTopic) = (handle, nil, "", "")
    }

    /// Produces to `brokers` (host:port[,...]): interactions to `topic` keyed by user, items to `itemsTopic`
    /// keyed by item. Throws when no broker answers within 10 s.
    public init(brokers: String, topic: String, itemsTopic: String) throws {
        var logger = Logger(label: "onerec.simulate")
        logger.logLevel = .warning
        let config = KafkaConfig(brokers: brokers.split(separator: ",").map(String.init), clientID: "onerec-simulate")
        let admin = try KafkaAdmin(config: config, logger: logger)
        do {
            _ = try admin.metadata(timeout: .seconds(10))
        } catch {
            throw EventSinkError(description: "cannot reach Kafka: \(error)")
        }
        (file, producer, self.topic, self.itemsTopic) = (nil, try KafkaProducer(config: config, logger: logger), topic, itemsTopic)
    }

    public func write(_ event: Event) throws {
        let line = event.json()
        if let file {
            file.write(Data((line + "\n").utf8))
        } else if let producer {
            let t: String
            if case .item = event { t = itemsTopic } else { t = topic }
            try producer.send(topic: t, key: Array("\(event.key)".utf8), value: Array(line.utf8))
        }
    }

    /// Waits until everything written so far is delivered (Kafka).
    public func flush() throws { try producer?.flush(timeout: .seconds(60)) }

    public func finish() throws {
        try file?.close()
        try flush()
    }
}
