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

    @Test func gracefulShutdownEndsTheBatchesAndTheService() async throws {
        let topic = try TestBroker.topic("shutdown", partitions: 1)
        let consumer = try TestBroker.consumer(group: "shutdown-\(topic)", topic: topic, instance: "s")
        try await testGracefulShutdown { trigger in
            let group = ServiceGroup(services: [consumer], logger: TestBroker.quietLogger)
            async let finished: Void = group.run()
            try await waitFor { consumer.assignment.count == 1 }
            trigger.triggerGracefulShutdown()
            try await finished
            var iterator = consumer.batches.makeAsyncIterator()
            #expect(try await iterator.next() == nil)
        }
    }
}
