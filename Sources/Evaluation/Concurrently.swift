import Dispatch
import Engine
import Foundation

/// Runs `first` and `second` at the same time, each on its own thread with the engine on one worker
/// (restored afterwards): two models train faster side by side than one after the other with two
/// workers each. The two must share no mutable state; `log` below serialises their messages.
func concurrently<A, B>(_ first: () -> A, _ second: () -> B) -> (A, B) {
    let saved = Compute.threads
    Compute.threads = 1
    defer { Compute.threads = saved }
    let a = Slot<A>(), b = Slot<B>()
    withoutActuallyEscaping(first) { first in
        withoutActuallyEscaping(second) { second in
            let work = UnsafeSendable((first, second))
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                if i == 0 { a.value = work.value.0() } else { b.value = work.value.1() }
            }
        }
    }
    return (a.value!, b.value!)
}

/// A result written by one thread and read after it has finished.
private final class Slot<T>: @unchecked Sendable {
    var value: T?
}

/// A log that several threads may write to, one message at a time.
final class SharedLog: @unchecked Sendable {
    private let lock = NSLock()
    private let write: (String) -> Void

    init(_ write: @escaping (String) -> Void) { self.write = write }

    func callAsFunction(_ message: String) {
        lock.lock()
        defer { lock.unlock() }
        write(message)
    }
}
