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

extension EngineConfig {
    /// How `model`'s layers share the KV cache: grouped by window when the engine frees blocks
    /// behind sliding windows (one group when every layer has the same window), one group of all
    /// layers that frees nothing otherwise.
    public func kvCacheGroups(for model: any CausalLanguageModel) -> KVCacheGroups {
        freesSlidingWindowBlocks ? KVCacheGroups(layerWindows: model.layerSlidingWindows) : .single(numLayers: model.config.numLayers)
    }
}

/// How many KV blocks a memory budget buys.
public struct KVCacheBudget: Sendable, Equatable {
    public var numBlocks: Int
    public var blockSize: Int
    public var bytesPerToken: Int
    /// The budget in bytes (a fraction of physical memory resolved).
    public var budgetBytes: Int

    /// `budget` is in bytes, or a fraction of physical memory when below 1 (as `--kv-cache-memory`).
    /// With KV cache `groups` a block holds one group's layers, so the budget buys
    /// `numLayers / groups.layersPerGroup` times as many blocks (`bytesPerToken` is then per token
    /// slot of a block). `kvHeads`: the heads this process's cache holds (a tensor-parallel
    /// rank's share; all of the model's by default).
    public init(budget: Double, config c: ModelConfig, blockSize: Int, dtype: KVCacheDType, groups: KVCacheGroups? = nil,
                kvHeads: Int? = nil) {
        budgetBytes = Int(budget < 1 ? budget * Double(ProcessInfo.processInfo.physicalMemory) : budget)
        bytesPerToken = PagedKVCache.bytesPerToken(numLayers: groups?.layersPerGroup ?? c.numLayers, numKVHeads: kvHeads ?? c.numKVHeads,
                                                   headDim: c.headDim, dtype: dtype)
        self.blockSize = blockSize
        numBlocks = budgetBytes / (bytesPerToken * blockSize)
    }

    public var tokens: Int { numBlocks * blockSize }
    public var bytes: Int { tokens * bytesPerToken }

    /// The line the engine logs at start-up.
    public var description: String {
        String(format: "KV cache: %d blocks of %d tokens = %d tokens (%.1f MiB, %d bytes per token)",
               numBlocks, blockSize, tokens, Double(bytes) / 1_048_576, bytesPerToken)
    }
}
