import Kafka
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

@Suite struct ErrorTests {
    @Test func anUnreachableBrokerIsAClearRetriableError() throws {
        let admin = try KafkaAdmin(config: KafkaConfig(brokers: ["127.0.0.1:1"]), logger: TestBroker.quietLogger)
        let error = #expect(throws: KafkaError.self) { try admin.metadata(timeout: .seconds(2)) }
        #expect(error?.isRetriable == true)
        #expect(error?.isFatal == false)
        #expect(error?.description.contains("127.0.0.1:1") == true)
    }

    @Test func anUnknownPropertyIsRefusedByName() {
        let config = KafkaConfig(brokers: ["127.0.0.1:1"], properties: ["no.such.property": "1"])
        let error = #expect(throws: KafkaError.self) { try KafkaAdmin(config: config, logger: TestBroker.quietLogger) }
        #expect(error?.description.contains("no.such.property") == true)
    }

    @Test func noBrokersIsRefused() {
        let error = #expect(throws: KafkaError.self) { try KafkaProducer(config: KafkaConfig(brokers: []), logger: TestBroker.quietLogger) }
        #expect(error?.description.contains("kafka.brokers") == true)
    }

    /// On librdkafka's in-process mock cluster: the test is about the service's lifecycle, and the
    /// shared test broker can stall a group's join for minutes when the machine is loaded.
    @Test func gracefulShutdownEndsTheBatchesAndTheService() async throws {
        let mock = try KafkaMockCluster(brokers: 1)
        defer { withExtendedLifetime(mock) {} }
        try mock.createTopic("shutdown", partitions: 1)
        var config = KafkaConsumer.Config(kafka: KafkaConfig(brokers: mock.bootstrapServers), groupID: "shutdown", topics: ["shutdown"])
        config.groupInstanceID = "s"
        let consumer = try KafkaConsumer(config: config, logger: TestBroker.quietLogger)
        try await testGracefulShutdown { trigger in
            let group = ServiceGroup(services: [consumer], logger: TestBroker.quietLogger)
            async let finished: Void = group.run()
            // 3 s alone; a CI run with every suite in parallel once took over 60 s to join the mock's group.
            try await waitFor(timeout: .seconds(180)) { consumer.assignment.count == 1 }
            trigger.triggerGracefulShutdown()
            try await finished
            var iterator = consumer.batches.makeAsyncIterator()
            #expect(try await iterator.next() == nil)
        }
    }
}
