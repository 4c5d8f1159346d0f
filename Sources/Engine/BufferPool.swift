import Glibc
import Synchronization

/// Freed tensor buffers kept for the next op that wants one: a training step allocates about the same
/// shapes as the step before, so after the first steps almost nothing reaches the allocator (and the
/// kernel's page-fault path) again.
///
/// Sizes are rounded up to a class, eight classes per doubling (at most 1/8 of a buffer unused). A
/// request takes the smallest kept buffer of its class or larger, up to twice its size, so a step over
/// shorter sequences runs in the buffers of a longer one instead of mapping buffers of its own (and a small
/// request never takes the buffer a large one needs next). Buffers of 64 KiB and more are
/// mapped from the kernel directly and unmapped when freed, so the memory goes back to the system at once;
/// glibc would serve them from its heap once its adaptive mmap threshold has risen, and a long-running
/// process of varying shapes then fragments that heap without bound.
///
/// The pool keeps up to twice the most bytes the process ever had in tensors at once (at least `floor`):
/// a step that needs more than any fixed limit would otherwise unmap its buffers at its end and fault them
/// in again at the next; and two threads that train side by side (`eval`'s two models) free their whole
/// steps at different moments, so the buffers both need add up to more than the peak of the two together
/// (they add up to at most twice it). When a freed buffer does not fit, smaller kept buffers make room for
/// it (a larger buffer serves more requests), or it is freed itself; so the process's tensor memory stays
/// within three times its peak.
final class BufferPool: @unchecked Sendable {
    // @unchecked: all state is behind the Mutex; addresses are kept as integers.
    static let shared = BufferPool(floor: 512 << 20)

    private struct State {
        /// Kept buffers by class (in floats), and the classes that have some, ascending.
        var free: [Int: [UInt]] = [:]
        var classes: [Int] = []
        /// Bytes kept in `free`.
        var bytes = 0
        /// Bytes handed out and not given back, and the most there ever were.
        var live = 0, peak = 0

        /// The index in `classes` of the first class >= n.
        func first(atLeast n: Int) -> Int {
            var (lo, hi) = (0, classes.count)
            while lo < hi {
                let mid = (lo + hi) / 2
                if classes[mid] < n { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }

        /// Removes and returns a kept buffer of the class at `index` in `classes`.
        mutating func pop(at index: Int) -> (address: UInt, floats: Int) {
            let c = classes[index]
            let address = free[c]!.removeLast()
            if free[c]!.isEmpty { classes.remove(at: index) }
            bytes -= c * 4
            return (address, c)
        }

        mutating func keep(_ address: UInt, floats c: Int) {
            if free[c, default: []].isEmpty { classes.insert(c, at: first(atLeast: c)) }
            free[c, default: []].append(address)
            bytes += c * 4
        }
    }
    private let state = Mutex(State())
    let floor: Int
    /// Buffers of this many bytes or more are mapped, not malloc'ed.
    static let mappedBytes = 64 << 10

    init(floor: Int) { self.floor = floor }

    /// The number of floats actually allocated for a request of `count`.
    static func sizeClass(_ count: Int) -> Int {
        let n = max(count, 16)
        let shift = Int.bitWidth - n.leadingZeroBitCount - 4  // keep the top four bits
        return shift <= 0 ? n : ((n + (1 << shift) - 1) >> shift) << shift
    }

    /// Bytes kept for reuse now, and the most bytes handed out at once so far.
    var kept: (bytes: Int, peak: Int) { state.withLock { ($0.bytes, $0.peak) } }

    /// A buffer of at least `count` floats and its capacity in floats (to give back with it).
    func take(_ count: Int) -> (data: UnsafeMutablePointer<Float>, capacity: Int) {
        let n = Self.sizeClass(count)
        let reused: (address: UInt, floats: Int)? = state.withLock { s in
            let i = s.first(atLeast: n)
            let reused = i < s.classes.count && s.classes[i] <= 2 * n ? s.pop(at: i) : nil
            s.live += (reused?.floats ?? n) * 4
            s.peak = max(s.peak, s.live)
            return reused
        }
        if let reused, let pointer = UnsafeMutablePointer<Float>(bitPattern: reused.address) { return (pointer, reused.floats) }
        return (Self.allocate(bytes: n * 4).bindMemory(to: Float.self, capacity: n), n)
    }

    /// Gives back a buffer `take` returned, with its capacity.
    func give(_ pointer: UnsafeMutablePointer<Float>, capacity n: Int) {
        // Buffers to free: smaller kept ones that make room for this one, or this one.
        let freed = state.withLock { s -> [(address: UInt, floats: Int)] in
            s.live -= n * 4
            let limit = max(floor, 2 * s.peak)
            var victims: [(address: UInt, floats: Int)] = []
            while s.bytes + n * 4 > limit {
                guard let smallest = s.classes.first, smallest < n else { return victims + [(UInt(bitPattern: pointer), n)] }
                victims.append(s.pop(at: 0))
            }
            s.keep(UInt(bitPattern: pointer), floats: n)
            return victims
        }
        for (address, floats) in freed { Self.deallocate(UnsafeMutableRawPointer(bitPattern: address)!, bytes: floats * 4) }
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
