import CSwiftletRuntime
import Foundation

/// The C task signature; a file-level constant so passing it to C never allocates.
private let poolTrampoline: sw_task_fn = { ctx, ith, nth in
    ctx.unsafelyUnwrapped.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(Int(ith), Int(nth))
}

/// A fixed set of persistent threads for short fork-join parallel regions.
///
/// Workers busy-wait for about 200 µs after each region, so back-to-back regions (one per
/// kernel in a forward pass) start within about a microsecond; longer idle periods put them to
/// sleep so other thread pools can use the cores.
///
/// `run` is meant to be called from one thread at a time. Overlapping calls (from several
/// threads, or from inside a running region) are still safe: they execute all indices serially
/// on the calling thread.
public final class ThreadPool: @unchecked Sendable {
    /// The underlying `sw_pool *`, for passing to the C kernels.
    public let handle: OpaquePointer
    /// Total number of threads, including the thread that calls `run`.
    public let threadCount: Int

    /// Same as `handle`.
    @inline(__always) public var raw: OpaquePointer { handle }
    /// Same as `threadCount`.
    @inline(__always) public var size: Int { threadCount }

    /// Creates a pool with `threads` threads in total (the caller counts as one, so
    /// `threads - 1` workers are started). Values below 1 are treated as 1.
    public init(threads: Int) {
        let n = Int32(clamping: max(1, threads))
        guard let p = sw_pool_create(n) else {
            fatalError("ThreadPool: could not start \(n - 1) worker threads")
        }
        handle = p
        threadCount = Int(sw_pool_size(p))
    }

    deinit {
        sw_pool_destroy(handle)
    }

    /// The process-wide pool: one thread per active processor, capped by the environment
    /// variable `SWIFTLET_THREADS` when it is set to a positive number.
    public static let shared = ThreadPool(threads: defaultThreadCount())

    /// `min(active processor count, SWIFTLET_THREADS)` (the latter only when set and positive).
    public static func defaultThreadCount() -> Int {
        var n = max(1, ProcessInfo.processInfo.activeProcessorCount)
        if let s = ProcessInfo.processInfo.environment["SWIFTLET_THREADS"], let v = Int(s), v > 0 {
            n = min(n, v)
        }
        return n
    }

    /// Calls `body(i, n)` once for every `i` in `0..<n` (`n == threadCount`), concurrently, and
    /// returns when all calls have finished. The calling thread runs `i == 0`.
    public func run(_ body: (Int, Int) -> Void) {
        if threadCount == 1 {
            body(0, 1)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var fn = escapable
            withUnsafeMutablePointer(to: &fn) { p in
                sw_pool_run(handle, poolTrampoline, UnsafeMutableRawPointer(p))
            }
        }
    }

    /// Splits `0..<count` into at most `threadCount` contiguous chunks whose starts are
    /// multiples of `granularity`, and calls `body(range)` for each non-empty chunk in parallel.
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let g = max(1, granularity)
        let units = (count + g - 1) / g
        if threadCount == 1 || units == 1 {
            body(0..<count)
            return
        }
        run { i, n in
            let lo = units * i / n * g
            let hi = min(count, units * (i + 1) / n * g)
            if lo < hi { body(lo..<hi) }
        }
    }
}
