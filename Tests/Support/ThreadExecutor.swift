import Foundation

/// A task executor with a thread of its own. The test runner's tasks share Swift's global executor, a
/// pool as wide as the machine has cores (two here); while the suite's other tests hold every pool thread
/// (training math, waiting for child processes), an in-process test of services that must react in real
/// time (a broadcaster and its followers) would wait for minutes. Under
/// `withTaskExecutorPreference(ThreadExecutor(...))` its tasks and their child tasks run on this thread
/// instead. Keep the executor alive while its tasks run; its thread ends when it is released.
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: the queue is thread-safe; the thread holds it, not the executor.
    private let queue = JobQueue()

    public init(name: String) {
        let (queue, executor) = (queue, UnownedExecutorBox(self))
        let thread = Thread {
            while let job = queue.next() { job.runSynchronously(on: executor.unowned) }
        }
        thread.name = name
        thread.start()
    }

    deinit { queue.close() }

    public func enqueue(_ job: consuming ExecutorJob) { queue.append(UnownedJob(job)) }

    /// The executor as the thread passes it to each job, without keeping it alive.
    private struct UnownedExecutorBox: @unchecked Sendable {
        let unowned: UnownedTaskExecutor
        init(_ executor: ThreadExecutor) { unowned = executor.asUnownedTaskExecutor() }
    }

    private final class JobQueue: @unchecked Sendable {
        // @unchecked: `jobs` and `open` are guarded by `condition`.
        private let condition = NSCondition()
        private var jobs: [UnownedJob] = []
        private var open = true

        func append(_ job: UnownedJob) {
            condition.lock()
            jobs.append(job)
            condition.signal()
            condition.unlock()
        }

        func close() {
            condition.lock()
            open = false
            condition.signal()
            condition.unlock()
        }

        /// The next job, or nil once closed with nothing queued.
        func next() -> UnownedJob? {
            condition.lock()
            defer { condition.unlock() }
            while jobs.isEmpty && open { condition.wait() }
            return jobs.isEmpty ? nil : jobs.removeFirst()
        }
    }
}
