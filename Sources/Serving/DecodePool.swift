import Foundation
import Synchronization

/// The request was refused because every decode worker is busy and the queue is full.
public struct Overloaded: Error, CustomStringConvertible {
    public var description: String { "every decode worker is busy and the queue is full" }
}

/// A fixed number of threads that run CPU-bound decodes, with a bounded queue in front. Decoding on the
/// Swift concurrency pool would block its few threads (the HTTP server and ingest need them), and more
/// concurrent decodes than cores make OpenBLAS spin on its locks; so at most `workers` run at once,
/// up to `queueLimit` wait, and the rest are refused at once (HTTP 503) instead of queueing unboundedly.
public final class DecodePool: Sendable {
    public let workers: Int
    public let queueLimit: Int
    private struct State {
        var queue: [@Sendable () -> Void] = []
        var running = 0
        var closed = false
    }
    private let jobs = Mutex(State())
    private let available = DispatchSemaphore(value: 0)

    public init(workers: Int, queueLimit: Int) {
        precondition(workers >= 1 && queueLimit >= 0, "a decode pool needs a worker and a queue limit >= 0")
        self.workers = workers
        self.queueLimit = queueLimit
        for i in 0..<workers {
            let thread = Thread { [self] in work() }
            thread.name = "onerec-decode-\(i)"
            thread.start()
        }
    }

    /// Jobs waiting for a worker.
    public var waiting: Int { jobs.withLock { $0.queue.count } }

    /// Runs `body` on a worker and returns its result; throws `Overloaded` when the queue is full.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = jobs.withLock { state -> Bool in
                guard !state.closed, state.running + state.queue.count < workers + queueLimit else { return false }
                state.queue.append { continuation.resume(returning: body()) }
                return true
            }
            if accepted { available.signal() } else { continuation.resume(throwing: Overloaded()) }
        }
    }

    /// Lets the workers finish what is queued, then stop.
    public func close() {
        jobs.withLock { $0.closed = true }
        for _ in 0..<workers { available.signal() }
    }

    private func work() {
        while true {
            available.wait()
            let job: (@Sendable () -> Void)? = jobs.withLock { state in
                guard !state.queue.isEmpty else { return nil }
                state.running += 1
                return state.queue.removeFirst()
            }
            guard let job else {
                if jobs.withLock({ $0.closed }) { return }
                continue
            }
            job()
            jobs.withLock { $0.running -= 1 }
        }
    }
}
