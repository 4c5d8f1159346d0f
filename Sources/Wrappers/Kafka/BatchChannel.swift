import Dispatch
import Synchronization

/// Hands batches from the poll thread to one async reader, holding at most `capacity` at a time.
/// The poll thread blocks while the reader is behind: that is the consumer's backpressure.
final class BatchChannel: Sendable {
    private struct State {
        var buffer: [ConsumerBatch] = []
        var waiter: CheckedContinuation<ConsumerBatch?, any Error>?
        var end: Result<Void, KafkaError>?
    }

    private let space: DispatchSemaphore
    private let state = Mutex(State())

    init(capacity: Int) {
        precondition(capacity >= 1, "a batch channel needs room for one batch")
        space = DispatchSemaphore(value: capacity)
    }

    deinit {
        // libdispatch traps if a semaphore dies below its initial value: give back the buffered slots.
        let held = state.withLock { $0.buffer.count }
        for _ in 0..<held { space.signal() }
    }

    /// Blocks until there is room, checking `stopped` every 100 ms. Returns false if stopped first.
    func send(_ batch: ConsumerBatch, stopped: () -> Bool) -> Bool {
        while space.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if stopped() { return false }
        }
        let waiter = state.withLock { s -> CheckedContinuation<ConsumerBatch?, any Error>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.buffer.append(batch)
            return nil
        }
        if let waiter {
            space.signal()
            waiter.resume(returning: batch)
        }
        return true
    }

    /// No more batches: the reader gets what is buffered, then nil (or the error).
    func finish(_ end: Result<Void, KafkaError>) {
        let waiter = state.withLock { s -> CheckedContinuation<ConsumerBatch?, any Error>? in
            if s.end == nil { s.end = end }
            guard s.buffer.isEmpty, let w = s.waiter else { return nil }
            s.waiter = nil
            return w
        }
        waiter?.resume(with: end.map { nil })
    }

    /// The next batch, or nil once finished; throws the consumer's error, or CancellationError.
    func next() async throws -> ConsumerBatch? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ConsumerBatch?, any Error>) in
                let ready = state.withLock { s -> Result<ConsumerBatch?, any Error>? in
                    if !s.buffer.isEmpty { return .success(s.buffer.removeFirst()) }
                    if let end = s.end { return end.map { nil }.mapError { $0 } }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    precondition(s.waiter == nil, "a consumer's batches have one reader at a time")
                    s.waiter = continuation
                    return nil
                }
                if let ready {
                    if case .success(.some) = ready { space.signal() }
                    continuation.resume(with: ready)
                }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
