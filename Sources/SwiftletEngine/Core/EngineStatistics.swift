import Foundation

/// A snapshot of the engine's state and running totals.
public struct EngineStatistics: Sendable, Equatable {
    // Requests by state.
    public var numRunning = 0
    public var numWaiting = 0
    public var numSwapped = 0
    public var numFinished = 0
    // KV blocks: used + free + cached = total.
    public var kvBlocksTotal = 0
    public var kvBlocksUsed = 0
    public var kvBlocksFree = 0
    /// Unreferenced blocks whose content the prefix cache keeps until they are needed.
    public var kvBlocksCached = 0
    public var kvEvictions = 0
    public var swapBlocksTotal = 0
    public var swapBlocksUsed = 0
    // Prefix cache, in prompt tokens.
    public var prefixCacheQueries = 0
    public var prefixCacheHits = 0
    public var preemptionsRecompute = 0
    public var preemptionsSwap = 0
    /// Prompt tokens computed (cache hits excluded; recomputed tokens included).
    public var promptTokens = 0
    public var generationTokens = 0
    public var steps = 0
    /// Seconds spent in `step()`, and in its block moves and forward passes.
    public var stepSeconds: Double = 0
    public var forwardSeconds: Double = 0
    /// Structured outputs: tokens sampled under a constraint, the full token masks computed for
    /// them (greedy decoding computes one only when the best token is forbidden), and the seconds
    /// spent on the constraint (masks, checks, advancing it).
    public var structuredTokens = 0
    public var grammarMasks = 0
    public var grammarSeconds: Double = 0
    /// Distinct constraints compiled, and the seconds their compilation took.
    public var grammarCompiles = 0
    public var grammarCompileSeconds: Double = 0
    /// Tensor parallelism, on this rank: collectives run (step broadcasts, all-reduces, logits
    /// gathers, pings), the seconds spent in them and the bytes this rank sent into them.
    public var collectiveCalls = 0
    public var collectiveSeconds: Double = 0
    public var collectiveBytes = 0

    public init() {}

    public var kvUsage: Double { kvBlocksTotal == 0 ? 0 : Double(kvBlocksUsed) / Double(kvBlocksTotal) }
    public var prefixCacheHitRate: Double { prefixCacheQueries == 0 ? 0 : Double(prefixCacheHits) / Double(prefixCacheQueries) }
    public var preemptions: Int { preemptionsRecompute + preemptionsSwap }
}

/// Formats a periodic status line like vLLM's: throughputs since the previous line, queue
/// lengths, cache use.
public struct StatisticsLogger: Sendable {
    public var interval: TimeInterval
    private var last: EngineStatistics?
    private var lastTime: Date?

    public init(interval: TimeInterval = 5) {
        self.interval = interval
    }

    /// The line to log if `interval` has passed since the previous one (the first call only starts the clock).
    public mutating func line(_ s: EngineStatistics, now: Date = Date()) -> String? {
        guard let t = lastTime, let prev = last else {
            last = s
            lastTime = now
            return nil
        }
        let dt = now.timeIntervalSince(t)
        guard dt >= interval else { return nil }
        last = s
        lastTime = now
        return String(format: "Avg prompt throughput: %.1f tokens/s, Avg generation throughput: %.1f tokens/s, "
                      + "Running: %d reqs, Swapped: %d reqs, Pending: %d reqs, KV cache usage: %.1f%%, "
                      + "Prefix cache hit rate: %.1f%%, Preemptions: %d recompute, %d swap",
                      Double(s.promptTokens - prev.promptTokens) / dt, Double(s.generationTokens - prev.generationTokens) / dt,
                      s.numRunning, s.numSwapped, s.numWaiting, 100 * s.kvUsage, 100 * s.prefixCacheHitRate,
                      s.preemptionsRecompute, s.preemptionsSwap)
    }
}
