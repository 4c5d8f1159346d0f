import Glibc
import Synchronization

/// Freed tensor buffers kept for the next op that wants one of the same size class: a training step
/// allocates about the same shapes as the step before, so after the first steps almost nothing reaches
/// the allocator (and the kernel's page-fault path) again.
///
/// Sizes are rounded up to a class, eight classes per doubling (at most 1/8 of a buffer unused), so
/// batches of varying length reuse each other's buffers instead of each new length adding buffers of its
/// own. Buffers of 64 KiB and more are mapped from the kernel directly and unmapped when freed, so the
/// memory goes back to the system at once; glibc would serve them from its heap once its adaptive mmap
/// threshold has risen, and a long-running process of varying shapes then fragments that heap without
/// bound. At most `limit` bytes are kept; beyond that buffers are freed.
final class BufferPool: @unchecked Sendable {
    // @unchecked: all state is behind the Mutex; addresses are kept as integers.
    static let shared = BufferPool(limit: 512 << 20)

    private struct State {
        var free: [Int: [UInt]] = [:]
        var bytes = 0
    }
    private let state = Mutex(State())
    let limit: Int
    /// Buffers of this many bytes or more are mapped, not malloc'ed.
    static let mappedBytes = 64 << 10

    init(limit: Int) { self.limit = limit }

    /// The number of floats actually allocated for a request of `count`.
    static func sizeClass(_ count: Int) -> Int {
        let n = max(count, 16)
        let shift = Int.bitWidth - n.leadingZeroBitCount - 4  // keep the top four bits
        return shift <= 0 ? n : ((n + (1 << shift) - 1) >> shift) << shift
    }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = Self.sizeClass(count)
        let reused: UInt? = state.withLock { s in
            guard let address = s.free[n]?.popLast() else { return nil }
            s.bytes -= n * 4
            return address
        }
        if let reused, let pointer = UnsafeMutablePointer<Float>(bitPattern: reused) { return pointer }
        return Self.allocate(bytes: n * 4).bindMemory(to: Float.self, capacity: n)
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        let n = Self.sizeClass(count)
        let kept = state.withLock { s -> Bool in
            guard s.bytes + n * 4 <= limit else { return false }
            s.free[n, default: []].append(UInt(bitPattern: pointer))
            s.bytes += n * 4
            return true
        }
        if !kept { Self.deallocate(UnsafeMutableRawPointer(pointer), bytes: n * 4) }
    }

    static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= mappedBytes else { return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64) }
        guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            fatalError("out of memory: cannot map \(bytes) bytes for a tensor (errno \(errno))")
        }
        return p
    }

    static func deallocate(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes >= mappedBytes else { return pointer.deallocate() }
        precondition(munmap(pointer, bytes) == 0, "munmap of a tensor buffer failed (errno \(errno))")
    }
}
