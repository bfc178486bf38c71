import Foundation
import SwiftletKernels
import SwiftletModels

/// Everything the engine needs besides the model and its cache.
public struct EngineConfig: Sendable {
    public var scheduler: SchedulerConfig
    /// Size of the swap tier for swap preemption; 0 means recompute only.
    public var swapSpaceBytes: Int
    /// Seed for requests that bring none.
    public var seed: UInt64
    /// Seconds between status lines passed to the engine's log handler; nil for none.
    public var logStatsInterval: TimeInterval?
    /// Give KV blocks that a sliding-window model can no longer read back to the pool. Off, every
    /// block stays until its sequence ends: the baseline to compare against.
    public var freesSlidingWindowBlocks = true

    public init(scheduler: SchedulerConfig = SchedulerConfig(), swapSpaceBytes: Int = 4 << 30, seed: UInt64 = 0,
                logStatsInterval: TimeInterval? = nil) {
        self.scheduler = scheduler
        self.swapSpaceBytes = swapSpaceBytes
        self.seed = seed
        self.logStatsInterval = logStatsInterval
    }
}

/// How many KV blocks a memory budget buys.
public struct KVCacheBudget: Sendable, Equatable {
    public var numBlocks: Int
    public var blockSize: Int
    public var bytesPerToken: Int

    /// `budget` is in bytes, or a fraction of physical memory when below 1 (as `--kv-cache-memory`).
    public init(budget: Double, config c: ModelConfig, blockSize: Int, dtype: KVCacheDType) {
        let bytes = budget < 1 ? budget * Double(ProcessInfo.processInfo.physicalMemory) : budget
        bytesPerToken = PagedKVCache.bytesPerToken(numLayers: c.numLayers, numKVHeads: c.numKVHeads, headDim: c.headDim, dtype: dtype)
        self.blockSize = blockSize
        numBlocks = Int(bytes) / (bytesPerToken * blockSize)
    }

    public var tokens: Int { numBlocks * blockSize }
    public var bytes: Int { tokens * bytesPerToken }

    /// The line the engine logs at start-up.
    public var description: String {
        String(format: "KV cache: %d blocks of %d tokens = %d tokens (%.1f MiB, %d bytes per token)",
               numBlocks, blockSize, tokens, Double(bytes) / 1_048_576, bytesPerToken)
    }
}
