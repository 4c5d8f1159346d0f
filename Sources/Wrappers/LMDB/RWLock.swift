import Glibc

/// A pthread reader-writer lock. The environment uses one around the memory map (transactions hold it
/// shared; resizing the map, which LMDB allows only while this process has no transaction open, holds
/// it exclusively) and one, only ever exclusively, to serialise this process's writers.
final class RWLock: @unchecked Sendable {
    // @unchecked: the pthread lock is the synchronisation; it is heap-allocated so it never moves.
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    init() {
        let rc = pthread_rwlock_init(lock, nil)
        precondition(rc == 0, "pthread_rwlock_init failed: \(rc)")
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func shared<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    func exclusive<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
