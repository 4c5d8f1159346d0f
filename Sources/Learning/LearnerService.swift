import Alignment
import Engine
import Foundation
import Logging
import Serving
import ServiceLifecycle
import Store
import Synchronization

/// Runs the learner on its own thread (training would otherwise hold one of the few threads of the
/// Swift concurrency pool that HTTP and ingest share) until graceful shutdown; then it finishes the
/// current step and writes a checkpoint. Operators' alignment requests queue here and run between steps;
/// scheduled rounds run every `alignment.intervalSeconds`.
public final class LearnerService: Service, Sendable {
    private struct Request {
        let reason: String
        let done: @Sendable (Result<AlignmentRound, any Error>) -> Void
    }
    private let learner: UnsafeSendable<Learner>  // only the learner thread touches it after init
    private let requests = Mutex<[Request]>([])
    private let updates = Mutex<[@Sendable (inout AlignmentSettings) -> Void]>([])
    private let adoptions = Mutex<[ModelSnapshot]>([])
    private let stopping = Atomic<Bool>(false)
    private let logger: Logger
    private let log: AlignmentLog
    public let status: LearnerStatus

    public init(learner: Learner, logger: Logger) {
        self.learner = UnsafeSendable(learner)
        self.status = learner.status
        self.log = learner.rounds
        self.logger = logger
    }

    /// The preference pairs a finished alignment round trained on (read from LMDB; any thread), for audits.
    public func pairs(round: Int) throws -> [PreferencePair] { try log.pairs(round: round) }

    /// Queues an alignment round and waits for its outcome.
    public func align(reason: String) async throws -> AlignmentRound {
        try await withCheckedThrowingContinuation { continuation in
            let count = requests.withLock { queue in
                queue.append(Request(reason: reason) { continuation.resume(with: $0) })
                return queue.count
            }
            status.update { $0.pendingAlignments = count }
        }
    }

    /// Changes the alignment settings (schedule, round size); applied by the learner's thread before its
    /// next step.
    public func update(alignment change: @escaping @Sendable (inout AlignmentSettings) -> Void) {
        updates.withLock { $0.append(change) }
    }

    /// Has the trainer go on from `snapshot`'s weights (a canary promoted it), before its next step.
    public func adopt(_ snapshot: ModelSnapshot) {
        adoptions.withLock { $0.append(snapshot) }
    }

    /// Runs until graceful shutdown or cancellation (the service group cancels every service when one
    /// fails, the HTTP server failing to bind its port among them).
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                    let thread = Thread { [self] in
                        loop()
                        finished.resume()
                    }
                    thread.name = "onerec-learner"
                    thread.start()
                }
            } onCancel: {
                self.stopping.store(true, ordering: .relaxed)
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
        }
    }

    private func loop() {
        let learner = learner.value
        do {
            try learner.start(until: { self.stopping.load(ordering: .relaxed) })
        } catch {
            logger.error("learner could not start; serving continues with the stored model", metadata: ["reason": "\(error)"])
            status.update { $0.errors += 1 }
        }
        var lastRound = Date()
        while !stopping.load(ordering: .relaxed) {
            for change in updates.withLock({ u in defer { u.removeAll() }; return u }) { change(&learner.config.alignment) }
            for snapshot in adoptions.withLock({ a in defer { a.removeAll() }; return a }) { learner.adopt(snapshot) }
            let interval = learner.config.alignment.intervalSeconds
            let next = requests.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            do {
                if let next {
                    status.update { $0.pendingAlignments = max(0, $0.pendingAlignments - 1) }
                    next.done(Result { try learner.align(reason: next.reason) })
                    lastRound = Date()
                } else if interval > 0 && Date().timeIntervalSince(lastRound) >= interval {
                    lastRound = Date()
                    _ = try learner.align(reason: "schedule")
                } else if try !learner.tick() {
                    Thread.sleep(forTimeInterval: 0.2)
                }
            } catch {
                logger.error("learner step failed", metadata: ["reason": "\(error)"])
                status.update { $0.errors += 1 }
                Thread.sleep(forTimeInterval: 1)
            }
        }
        for request in requests.withLock({ q in defer { q.removeAll() }; return q }) {
            request.done(.failure(LearnerError("the daemon is shutting down")))
        }
        do {
            try learner.checkpoint()
        } catch {
            logger.error("shutdown checkpoint failed", metadata: ["reason": "\(error)"])
        }
        logger.info("learner stopped", metadata: ["steps": "\(status.snapshot.steps)"])
    }
}
