@testable import Engine
import Testing

@Suite struct BufferPoolTests {
    /// Eight size classes per doubling: a request is rounded up by at most an eighth, and lengths that
    /// differ a little share a class (so their buffers are reused).
    @Test func sizesRoundUpToEightClassesPerDoubling() {
        #expect(BufferPool.sizeClass(0) == 16 && BufferPool.sizeClass(16) == 16 && BufferPool.sizeClass(17) == 18)
        #expect(BufferPool.sizeClass(1000) == 1024 && BufferPool.sizeClass(1024) == 1024 && BufferPool.sizeClass(1025) == 1152)
        for count in [17, 100, 999, 4097, 65_537, 1_000_003] {
            let size = BufferPool.sizeClass(count)
            #expect(size >= count && size - count <= count / 8, "\(count) -> \(size)")
        }
    }

    /// A freed buffer comes back for the next request of its class, or of a smaller one (a step over
    /// shorter sequences runs in a longer step's buffers) down to half its size, never for a larger one.
    @Test func requestsTakeTheSmallestKeptBufferThatFits() {
        let pool = BufferPool(floor: 4 << 20)
        let mapped = pool.take(200_000)  // 800 KB: mapped
        #expect(mapped.capacity == BufferPool.sizeClass(200_000))
        pool.give(mapped.data, capacity: mapped.capacity)
        #expect(pool.take(200_000).data == mapped.data)
        pool.give(mapped.data, capacity: mapped.capacity)
        let larger = pool.take(230_000)  // the next class up: nothing kept fits: a buffer of its own
        #expect(larger.data != mapped.data && larger.capacity >= 230_000)
        pool.give(larger.data, capacity: larger.capacity)
        let shorter = pool.take(150_000)  // the smallest kept buffer of its size or more
        #expect(shorter.data == mapped.data && shorter.capacity == mapped.capacity)
        pool.give(shorter.data, capacity: shorter.capacity)
        let small = pool.take(50_000)  // a quarter of the kept sizes: a buffer of its own, not one a large request needs
        #expect(small.data != mapped.data && small.data != larger.data && small.capacity == BufferPool.sizeClass(50_000))
        pool.give(small.data, capacity: small.capacity)
    }

    /// A step that needs more than the floor keeps its buffers for the next step: the pool holds up to
    /// twice the most bytes ever in use at once.
    @Test func thePoolKeepsWhatThePeakStepUsed() {
        let pool = BufferPool(floor: 1 << 20)
        let step = (0..<3).map { _ in pool.take(300_000) }  // 3 x 1.2 MB at once
        for b in step { pool.give(b.data, capacity: b.capacity) }
        #expect(pool.kept.bytes == 3 * 4 * BufferPool.sizeClass(300_000) && pool.kept.peak == pool.kept.bytes)
        let again = (0..<3).map { _ in pool.take(300_000) }
        #expect(Set(again.map(\.data)) == Set(step.map(\.data)))
        #expect(pool.kept.bytes == 0)
        for b in again { pool.give(b.data, capacity: b.capacity) }
    }

    /// Two steps that never run at once (two models training side by side, each freeing its step while
    /// the other's is in use) both keep their buffers, though together they exceed the peak.
    @Test func twoAlternatingStepsKeepTheirBuffers() {
        let pool = BufferPool(floor: 1 << 20)
        func step(_ floats: Int) -> [UnsafeMutablePointer<Float>] {
            let buffers = (0..<3).map { _ in pool.take(floats) }
            for b in buffers { pool.give(b.data, capacity: b.capacity) }
            return buffers.map(\.data)
        }
        let (first, second) = (step(300_000), step(100_000))  // 3.9 MB, then 1.3 MB in buffers of their own
        #expect(pool.kept.peak == 3 * 4 * BufferPool.sizeClass(300_000))
        #expect(pool.kept.bytes == 3 * 4 * (BufferPool.sizeClass(300_000) + BufferPool.sizeClass(100_000)))
        #expect(Set(step(300_000)) == Set(first) && Set(step(100_000)) == Set(second))
    }

    /// Over the limit, smaller kept buffers make room for a larger freed one.
    @Test func largerBuffersAreKeptOverSmallerOnes() {
        let pool = BufferPool(floor: 1 << 20)
        let a = pool.take(150_000)  // 640 KiB
        pool.give(a.data, capacity: a.capacity)
        let b = pool.take(175_000)  // 704 KiB: a does not fit, so b is a new buffer
        pool.give(b.data, capacity: b.capacity)  // 1.3 MiB kept, within twice the peak (b alone)
        #expect(pool.kept.bytes == 4 * (a.capacity + b.capacity))
        let c = pool.take(200_000)  // 832 KiB: nothing kept fits
        #expect(c.data != a.data && c.data != b.data)
        pool.give(c.data, capacity: c.capacity)  // 2.1 MiB > twice the peak (c alone, 1.6 MiB): a goes
        #expect(pool.kept.bytes == 4 * (b.capacity + c.capacity))
        let d = pool.take(150_000)  // a's class: the smallest kept buffer that fits, b
        #expect(d.data == b.data)
        pool.give(d.data, capacity: d.capacity)
    }
}
