import Foundation
import SwiftletDistributed

/// An in-process `CollectiveGroup`: `size` members, each used by a thread of its own, that
/// exchange buffers through shared memory between barriers.
///
/// It exists to test the sharding math of tensor-parallel models in one process (every shard
/// loaded side by side and run on its own thread); production runs one process per rank over
/// `MPIGroup`. A member that waits longer than `timeout` for the others (a shard that skipped a
/// collective) records a failure instead of hanging the test, and the whole group fails with it.
public final class ThreadCollectiveGroup: CollectiveGroup {
    public let rank: Int
    public let size: Int
    public private(set) var failure: CollectiveFailure?
    public private(set) var statistics = CollectiveStatistics()
    private let exchange: Exchange
    private let timeout: Duration
    private let descendingSums: Bool

    /// The members of one group, rank i at index i. With `descendingSums`, all-reduces add the
    /// ranks' values from the last rank to the first: the same sums rounded differently, which
    /// tells how much a model's outputs move from rounding alone.
    public static func makeGroup(size: Int, timeout: Duration = .seconds(60), descendingSums: Bool = false) -> [ThreadCollectiveGroup] {
        let exchange = Exchange(size: size)
        return (0..<size).map {
            ThreadCollectiveGroup(rank: $0, size: size, exchange: exchange, timeout: timeout, descendingSums: descendingSums)
        }
    }

    private init(rank: Int, size: Int, exchange: Exchange, timeout: Duration, descendingSums: Bool) {
        self.rank = rank
        self.size = size
        self.exchange = exchange
        self.timeout = timeout
        self.descendingSums = descendingSums
    }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        collective("all-reduce", bytes: count * 4, buffer: UnsafeRawPointer(buffer)) { pointers in
            // Every member adds in the same order, so all of them get the same bits, as MPI's do.
            var sum = [Float](repeating: 0, count: count)
            for p in descendingSums ? pointers.reversed() : pointers {
                let x = p.assumingMemoryBound(to: Float.self)
                for i in 0..<count { sum[i] += x[i] }
            }
            return { buffer.update(from: sum, count: count) }
        }
    }

    public func gather(_ send: UnsafePointer<Float>, counts: [Int], displacements: [Int], into receive: UnsafeMutablePointer<Float>?,
                       root: Int) {
        collective("gather", bytes: counts[rank] * 4, buffer: UnsafeRawPointer(send)) { pointers in
            if self.rank == root, let receive {
                for (r, p) in pointers.enumerated() {
                    (receive + displacements[r]).update(from: p.assumingMemoryBound(to: Float.self), count: counts[r])
                }
            }
            return {}
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) {
        collective("broadcast", bytes: rank == root ? bytes : 0, buffer: UnsafeRawPointer(buffer)) { pointers in
            if self.rank != root { buffer.copyMemory(from: pointers[root], byteCount: bytes) }
            return {}
        }
    }

    /// Publishes `buffer`, waits for every member, runs `read` over all members' buffers, waits
    /// again (so no member overwrites a buffer another is still reading), then runs what `read`
    /// returned to write this member's own buffer.
    private func collective(_ operation: String, bytes: Int, buffer: UnsafeRawPointer,
                            read: ([UnsafeRawPointer]) -> () -> Void) {
        guard failure == nil else { return }
        let start = ContinuousClock.now
        defer {
            statistics.calls += 1
            statistics.bytes += bytes
            let elapsed = (ContinuousClock.now - start).components
            statistics.seconds += Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        }
        exchange.publish(rank: rank, buffer)
        guard exchange.barrier(timeout: timeout) else { return fail(operation) }
        let write = read(exchange.pointers())
        guard exchange.barrier(timeout: timeout) else { return fail(operation) }
        write()
    }

    private func fail(_ operation: String) {
        failure = CollectiveFailure(operation: operation, reason: "not every member arrived within \(timeout)")
    }

    /// Runs `body(rank)` for every rank `0..<count`, each on a thread of its own and all at once (a
    /// collective waits for every member, so ranks must not queue behind one another), and returns
    /// the results in rank order.
    public static func onEveryRank<R>(_ count: Int, _ body: @escaping (Int) -> R) -> [R] {
        let lock = NSLock()
        // Written under `lock`, read after every thread has left.
        nonisolated(unsafe) var results = [R?](repeating: nil, count: count)
        let done = DispatchGroup()
        for r in 0..<count {
            done.enter()
            let thread = Thread {
                let value = body(r)
                lock.lock()
                results[r] = value
                lock.unlock()
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return results.map { $0! }
    }
}

/// The state the members of one group share.
private final class Exchange: @unchecked Sendable {
    private let size: Int
    private var published: [UnsafeRawPointer?]
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    /// Set once a member gave up waiting: every later barrier fails at once.
    private var broken = false

    init(size: Int) {
        self.size = size
        published = Array(repeating: nil, count: size)
    }

    func publish(rank: Int, _ p: UnsafeRawPointer) {
        condition.lock()
        published[rank] = p
        condition.unlock()
    }

    func pointers() -> [UnsafeRawPointer] {
        condition.lock()
        defer { condition.unlock() }
        return published.map { $0! }
    }

    /// Waits until every member has arrived; false if that took longer than `timeout`.
    func barrier(timeout: Duration) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if broken { return false }
        let mine = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
            return true
        }
        let parts = timeout.components
        let deadline = Date().addingTimeInterval(Double(parts.seconds) + Double(parts.attoseconds) / 1e18)
        while generation == mine && !broken {
            if !condition.wait(until: deadline) && generation == mine {
                broken = true
                condition.broadcast()
            }
        }
        return generation != mine
    }
}
