import Foundation
import Synchronization

/// Recommendation requests for random users of the simulated world, each client on a thread of its own
/// with a keep-alive `HTTPConnection`: closed loop (a client sends when it has its answer) or open loop
/// (requests on a fixed schedule, whatever the answers). A request fails on an error, a non-2xx answer
/// or when it takes longer than `timeout`.
public struct LoadClient: Sendable {
    public let port: Int
    /// Seconds after which a request counts as failed.
    public let timeout: Double
    /// Users of the simulated world the requests are for.
    let users = 1000

    public init(port: Int, timeout: Double) { (self.port, self.timeout) = (port, timeout) }

    /// `clients` closed-loop clients for `seconds`: the latencies (ms), the failed requests, the wall time.
    public func closedLoop(clients: Int, seconds: Double) async -> (latencies: Latencies, failed: Int, wall: Double) {
        let (latencies, failed) = (Latencies(), Tally())
        let start = ContinuousClock.now
        await onThreads(clients) {
            var connection: HTTPConnection?
            while start.duration(to: .now) < .seconds(seconds) {
                let sent = ContinuousClock.now
                if let ms = request(&connection, since: sent) { latencies.add(ms) } else { failed.add() }
            }
        }
        return (latencies, failed.count, start.duration(to: .now).seconds)
    }

    /// `rate` requests/s for `seconds` on a fixed schedule. Each request's latency counts from its
    /// scheduled moment, so one that waits for a free client is late, not excused; clients are added
    /// while every one is busy (up to 512). `progress` is called about every 10 s with the seconds so far
    /// and the failures so far.
    public func openLoop(rate: Double, seconds: Double, progress: @escaping @Sendable (Double, Int) -> Void) async -> (sent: Int, latencies: Latencies, failed: Int) {
        let (latencies, failed) = (Latencies(), Tally())
        let jobs = JobQueue()
        let sent = await withCheckedContinuation { (done: CheckedContinuation<Int, Never>) in
            Thread {
                let start = ContinuousClock.now
                let interval = Duration.seconds(1 / rate)
                var next = start, sent = 0, lastProgress = start
                while start.duration(to: next) < .seconds(seconds) {
                    Thread.sleep(forTimeInterval: max(0, ContinuousClock.now.duration(to: next).seconds))
                    if jobs.add(next) { Thread { serve(jobs, latencies, failed) }.start() }
                    sent += 1
                    next += interval
                    if lastProgress.duration(to: .now) >= .seconds(10) {
                        lastProgress = .now
                        progress(start.duration(to: .now).seconds, failed.count)
                    }
                }
                jobs.finish()
                done.resume(returning: sent)
            }.start()
        }
        await jobs.drained()
        return (sent, latencies, failed.count)
    }

    /// An open-loop client thread: takes scheduled requests until the queue is finished and empty.
    private func serve(_ jobs: JobQueue, _ latencies: Latencies, _ failed: Tally) {
        var connection: HTTPConnection?
        while let scheduled = jobs.take() {
            if let ms = request(&connection, since: scheduled) { latencies.add(ms) } else { failed.add() }
            jobs.done()
        }
    }

    /// One request on `connection` (opened if nil; dropped after an error; sent again once on a new one if
    /// the server had closed it): its latency in ms since `start`, or nil if it failed.
    private func request(_ connection: inout HTTPConnection?, since start: ContinuousClock.Instant) -> Double? {
        for _ in 0..<2 {
            let reused = connection != nil
            do {
                if connection == nil { connection = try HTTPConnection(port: port, timeout: timeout) }
                let status = try connection!.get("/v1/users/\(Int.random(in: 0..<users))/recommendations")
                let ms = start.duration(to: .now).seconds * 1000
                return (200..<300).contains(status) && ms <= timeout * 1000 ? ms : nil
            } catch {
                connection = nil
                guard reused, (error as? HTTPConnection.Failure)?.closedBeforeAnswer == true else { return nil }
            }
        }
        return nil
    }

    /// Runs `body` on `count` threads and returns when all have finished.
    private func onThreads(_ count: Int, _ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let left = Atomic<Int>(count)
            for _ in 0..<count {
                Thread {
                    body()
                    if left.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { done.resume() }
                }.start()
            }
        }
    }
}

/// The open loop's scheduled requests, waiting for a client thread.
private final class JobQueue: Sendable {
    private struct State {
        var pending: [ContinuousClock.Instant] = []
        var idle = 0, threads = 0
        var finished = false
    }
    private let state = Mutex(State())
    private let ready = DispatchSemaphore(value: 0)
    private let allDone = DispatchSemaphore(value: 0)
    static let maxThreads = 512

    /// Queues a request scheduled at `at`; true when the caller should start another client thread.
    func add(_ at: ContinuousClock.Instant) -> Bool {
        let grow = state.withLock { s in
            s.pending.append(at)
            guard s.idle == 0, s.threads < Self.maxThreads else { return false }
            s.threads += 1
            s.idle += 1
            return true
        }
        ready.signal()
        return grow
    }

    /// The next scheduled moment, waiting for one; nil once finished and empty (the thread then ends).
    /// Every added request and every thread at `finish` signals once, so a wait always has something.
    func take() -> ContinuousClock.Instant? {
        ready.wait()
        return state.withLock { s in
            if !s.pending.isEmpty {
                s.idle -= 1
                return s.pending.removeFirst()
            }
            precondition(s.finished, "a client thread woke with nothing to do")
            s.threads -= 1
            s.idle -= 1
            if s.threads == 0 { allDone.signal() }
            return nil
        }
    }

    /// A client thread finished its request and waits for the next.
    func done() { state.withLock { $0.idle += 1 } }

    /// No more requests: idle threads end once the queue is empty.
    func finish() {
        let threads = state.withLock { s in
            s.finished = true
            return s.threads
        }
        for _ in 0..<threads { ready.signal() }
        if threads == 0 { allDone.signal() }
    }

    /// Returns when every client thread has ended.
    func drained() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.allDone.wait()
                done.resume()
            }
        }
    }
}

/// A count shared by threads.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)
    func add() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

