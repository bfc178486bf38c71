import Foundation
import Testing
@testable import SwiftletKernels

/// Per-index bookkeeping shared with pool threads. Each run touches slot i only from the
/// thread executing index i, so plain memory is enough; the pool's own synchronisation makes
/// the writes visible to the caller once `run` returns.
private final class Slots: @unchecked Sendable {
    let count: Int
    let calls: UnsafeMutablePointer<Int>
    let lastRun: UnsafeMutablePointer<Int>
    let seenN: UnsafeMutablePointer<Int>

    init(_ count: Int) {
        self.count = count
        calls = .allocate(capacity: count)
        lastRun = .allocate(capacity: count)
        seenN = .allocate(capacity: count)
        calls.initialize(repeating: 0, count: count)
        lastRun.initialize(repeating: -1, count: count)
        seenN.initialize(repeating: 0, count: count)
    }

    deinit {
        calls.deallocate()
        lastRun.deallocate()
        seenN.deallocate()
    }
}

struct ThreadPoolTests {
    /// Runs `iterations` regions and checks that every index ran exactly once per region and
    /// had finished by the time `run` returned.
    private func exercise(_ pool: ThreadPool, iterations: Int, pauseEvery: Int = 0) {
        let n = pool.threadCount
        let slots = Slots(n)
        for it in 0..<iterations {
            pool.run { i, nth in
                slots.calls[i] += 1
                slots.lastRun[i] = it
                slots.seenN[i] = nth
            }
            for i in 0..<n where slots.lastRun[i] != it {
                Issue.record("index \(i) had not run when region \(it) returned")
                return
            }
            if pauseEvery > 0, it % pauseEvery == pauseEvery - 1 {
                // Long enough for idle workers to stop spinning and block.
                usleep(1500)
            }
        }
        for i in 0..<n {
            #expect(slots.calls[i] == iterations, "index \(i) ran \(slots.calls[i]) times")
            #expect(slots.seenN[i] == n)
        }
    }

    @Test(arguments: [1, 2, 3])
    func everyIndexRunsOncePerRegion(threads: Int) {
        let pool = ThreadPool(threads: threads)
        #expect(pool.threadCount == threads)
        #expect(pool.size == threads)
        exercise(pool, iterations: 5000)
    }

    @Test(arguments: [1, 2])
    func workersWakeAfterSleeping(threads: Int) {
        let pool = ThreadPool(threads: threads)
        exercise(pool, iterations: 60, pauseEvery: 3)
    }

    @Test func firstRegionRightAfterCreation() {
        // Regression: a worker scheduled after the first region was published must still run it.
        for _ in 0..<100 {
            let pool = ThreadPool(threads: 2)
            exercise(pool, iterations: 1)
        }
    }

    @Test func nonPositiveThreadCountMeansOne() {
        #expect(ThreadPool(threads: 0).threadCount == 1)
        #expect(ThreadPool(threads: -3).threadCount == 1)
    }

    @Test func nestedRunExecutesSerially() {
        let pool = ThreadPool(threads: 2)
        let inner = Slots(pool.threadCount)
        pool.run { i, _ in
            guard i == 0 else { return }
            pool.run { j, n in
                inner.calls[j] += 1
                inner.seenN[j] = n
            }
        }
        for j in 0..<pool.threadCount {
            #expect(inner.calls[j] == 1)
            #expect(inner.seenN[j] == pool.threadCount)
        }
    }

    @Test func concurrentCallersStayCorrect() {
        let pool = ThreadPool(threads: 2)
        let callers = 3, iterations = 400
        let totals = Slots(callers)
        DispatchQueue.concurrentPerform(iterations: callers) { c in
            for _ in 0..<iterations {
                let hits = Slots(pool.threadCount)
                pool.run { i, _ in hits.calls[i] += 1 }
                var ok = true
                for i in 0..<pool.threadCount where hits.calls[i] != 1 { ok = false }
                if ok { totals.calls[c] += 1 }
            }
        }
        for c in 0..<callers { #expect(totals.calls[c] == iterations) }
    }

    @Test(arguments: [1, 2])
    func parallelForCoversRangeOnce(threads: Int) {
        let pool = ThreadPool(threads: threads)
        for count in [0, 1, 5, 16, 17, 100, 1001] {
            let hits = Slots(max(count, 1))
            pool.parallelFor(count, granularity: 16) { r in
                if r.lowerBound % 16 != 0 { Issue.record("chunk \(r) not aligned to granularity") }
                for j in r { hits.calls[j] += 1 }
            }
            for j in 0..<count where hits.calls[j] != 1 {
                Issue.record("count \(count): element \(j) visited \(hits.calls[j]) times")
                break
            }
        }
    }

    @Test func sharedPoolSize() {
        let n = ThreadPool.shared.threadCount
        #expect(n >= 1)
        #expect(n <= max(1, ProcessInfo.processInfo.activeProcessorCount))
        #expect(n == ThreadPool.defaultThreadCount())
        exercise(ThreadPool.shared, iterations: 100)
    }

    @Test func manyPoolsCreatedAndDestroyed() {
        for t in 0..<50 {
            let pool = ThreadPool(threads: 1 + t % 3)
            exercise(pool, iterations: 3)
        }
    }
}
