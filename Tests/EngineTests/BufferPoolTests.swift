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

    /// A step that needs more than the floor keeps its buffers for the next step: the pool holds up to the
    /// most bytes ever in use at once.
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

    /// Over the limit, smaller kept buffers make room for a larger freed one; a freed buffer smaller than
    /// everything kept is freed itself.
    @Test func largerBuffersAreKeptOverSmallerOnes() {
        let pool = BufferPool(floor: 1 << 20)
        let a = pool.take(150_000)  // 600 KB
        pool.give(a.data, capacity: a.capacity)
        let b = pool.take(175_000)  // 700 KB: a does not fit, so b is a new buffer and a stays kept
        pool.give(b.data, capacity: b.capacity)  // 1.3 MB > the 1 MiB limit: a goes
        #expect(pool.kept.bytes == 4 * b.capacity)
        let c = pool.take(100_000)  // takes b, the only buffer kept
        #expect(c.data == b.data)
        let d = pool.take(100_000)  // a new 400 KB buffer; in use now 1.1 MB, the new peak
        pool.give(c.data, capacity: c.capacity)
        pool.give(d.data, capacity: d.capacity)
        #expect(pool.kept.bytes == 4 * (b.capacity + d.capacity))
    }
}
