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

    /// A freed buffer of a class comes back for the next request of that class; beyond the limit
    /// buffers are freed, not kept (mapped ones as well as malloc'ed ones).
    @Test func buffersOfAClassAreReusedUpToTheLimit() {
        let pool = BufferPool(limit: 1 << 20)
        let small = pool.take(1000)
        pool.give(small, 1000)
        #expect(pool.take(1020) == small)  // same class (1024 floats)
        let mapped = pool.take(200_000)  // 800 KB: mapped
        pool.give(mapped, 200_000)
        #expect(pool.take(200_000) == mapped)
        let large = pool.take(300_000)  // 1.2 MB: over the limit, so it is unmapped when given back
        pool.give(large, 300_000)
        pool.give(small, 1020)
        pool.give(mapped, 200_000)
    }
}
