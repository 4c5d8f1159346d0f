import BLAS
import Dispatch
import Foundation
import Synchronization

/// How the engine uses the cores: OpenBLAS runs single-threaded (its own workers spin between calls and
/// compete with the engine's elementwise work), and the engine splits large matrix products and
/// independent attention heads over `threads` workers itself.
public enum Compute {
    private static let configured = Atomic<Int>(0)

    /// Worker count (default: every core). Set before training starts.
    public static var threads: Int {
        get {
            let n = configured.load(ordering: .relaxed)
            return n > 0 ? n : ProcessInfo.processInfo.activeProcessorCount
        }
        set {
            precondition(newValue >= 1, "Compute.threads must be at least 1")
            configured.store(newValue, ordering: .relaxed)
        }
    }

    /// The process's OpenBLAS, set to one thread. The daemon and the commands load it first (a missing
    /// library is reported there as an environment error); by the time the engine computes, it is there.
    static let blas: OpenBLAS = {
        do {
            let library = try OpenBLAS.shared()
            library.setThreads(1)
            return library
        } catch {
            preconditionFailure("the engine needs OpenBLAS: \(error)")
        }
    }()

    /// Runs body(0..<count) on up to `threads` workers; inline when there is one worker or one item, or
    /// when the caller says the work is too small to share.
    public static func parallelFor(_ count: Int, parallel: Bool = true, _ body: (Int) -> Void) {
        let workers = parallel ? min(threads, count) : 1
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let work = UnsafeSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for i in stride(from: w, to: count, by: workers) { work.value(i) }
            }
        }
    }
}

extension Compute {
    /// Splits n elements into one contiguous chunk per worker (64-float aligned) when n is large enough
    /// to be worth it, and calls body(start, count) for each: elementwise kernels over big tensors.
    public static func chunks(_ n: Int, _ body: (Int, Int) -> Void) {
        let workers = n >= 1 << 17 ? threads : 1
        guard workers > 1 else { return body(0, n) }
        let chunk = ((n + workers - 1) / workers + 63) & ~63
        parallelFor(workers) { w in
            let start = w * chunk
            if start < n { body(start, min(chunk, n - start)) }
        }
    }
}

/// Moves a non-Sendable closure into concurrentPerform, whose iterations touch disjoint data.
public struct UnsafeSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
