import Foundation
import SwiftletKernels
import SwiftletModels
import SwiftletTokenizers

/// Progress of an offline batch, for progress bars.
public struct GenerationProgress: Sendable {
    public var finishedRequests: Int
    public var totalRequests: Int
    public var promptTokens: Int
    public var generatedTokens: Int
    public var elapsed: TimeInterval
    public var statistics: EngineStatistics

    public init(finishedRequests: Int, totalRequests: Int, promptTokens: Int, generatedTokens: Int, elapsed: TimeInterval,
                statistics: EngineStatistics) {
        self.finishedRequests = finishedRequests
        self.totalRequests = totalRequests
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.elapsed = elapsed
        self.statistics = statistics
    }

    public var outputTokensPerSecond: Double { elapsed > 0 ? Double(generatedTokens) / elapsed : 0 }
}

/// Offline batch generation (vLLM's `LLM` class): load a model once, then hand it lists of prompts.
///
/// ```swift
/// let llm = try LLM(model: "SmolLM2-135M-Instruct.Q4_1.gguf")
/// let outputs = try llm.generate(prompts: ["Hello", "The sky is"], params: .greedy(maxTokens: 32))
/// print(outputs[0].outputs[0].text)
/// ```
public final class LLM {
    public let engine: LLMEngine
    public let tokenizer: any Tokenizer
    public let cache: PagedKVCache
    private var nextID = 0

    /// Loads a GGUF model and sizes its KV cache from `kvCacheMemory` (bytes, or a fraction of RAM below 1).
    public init(model path: String, precision: ComputePrecision = .fast, kvCacheDType: KVCacheDType = .bf16,
                blockSize: Int = 16, kvCacheMemory: Double = 256 * 1024 * 1024, config: EngineConfig = EngineConfig()) throws {
        let loaded = try loadModel(path: path, precision: precision)
        let groups = config.kvCacheGroups(for: loaded.model)
        let budget = KVCacheBudget(budget: kvCacheMemory, config: loaded.config, blockSize: blockSize, dtype: kvCacheDType, groups: groups)
        guard budget.numBlocks > 0 else {
            throw EngineError.invalidConfiguration("--kv-cache-memory \(Int(kvCacheMemory)) holds no KV block of \(budget.bytesPerToken * blockSize) bytes")
        }
        let c = loaded.config
        cache = try PagedKVCache(numBlocks: budget.numBlocks, blockSize: blockSize, groups: groups,
                                 numKVHeads: c.numKVHeads, headDim: c.headDim, dtype: kvCacheDType)
        tokenizer = loaded.tokenizer
        engine = try LLMEngine(model: loaded.model, cache: cache, tokenizer: loaded.tokenizer, config: config)
    }

    /// Wraps an already loaded model and cache.
    public init(loaded: LoadedModel, cache: PagedKVCache, config: EngineConfig = EngineConfig()) throws {
        self.cache = cache
        tokenizer = loaded.tokenizer
        engine = try LLMEngine(model: loaded.model, cache: cache, tokenizer: loaded.tokenizer, config: config)
    }

    /// Generates completions of text prompts; outputs come back in the prompts' order.
    public func generate(prompts: [String], params: SamplingParams = SamplingParams(),
                         progress: ((GenerationProgress) -> Void)? = nil) throws -> [RequestOutput] {
        try generate(promptTokenIDs: prompts.map { tokenizer.encode($0) }, params: Array(repeating: params, count: prompts.count),
                     progress: progress)
    }

    /// Generates completions of tokenized prompts; outputs come back in the prompts' order.
    public func generate(promptTokenIDs: [[Int]], params: SamplingParams = SamplingParams(),
                         progress: ((GenerationProgress) -> Void)? = nil) throws -> [RequestOutput] {
        try generate(promptTokenIDs: promptTokenIDs, params: Array(repeating: params, count: promptTokenIDs.count), progress: progress)
    }

    /// Generates with parameters per prompt. A prompt the engine refuses throws before anything runs.
    public func generate(promptTokenIDs: [[Int]], params: [SamplingParams], priorities: [Int]? = nil,
                         progress: ((GenerationProgress) -> Void)? = nil) throws -> [RequestOutput] {
        precondition(params.count == promptTokenIDs.count, "one SamplingParams per prompt")
        var order: [String: Int] = [:]
        var added: [String] = []
        do {
            for (i, prompt) in promptTokenIDs.enumerated() {
                let id = "offline-\(nextID)"
                nextID += 1
                try engine.addRequest(id: id, promptTokenIDs: prompt, params: params[i], priority: priorities?[i] ?? 0)
                order[id] = i
                added.append(id)
            }
        } catch {
            for id in added { engine.abort(id) }
            throw error
        }
        var results = [RequestOutput?](repeating: nil, count: promptTokenIDs.count)
        let start = Date()
        let base = engine.statistics
        var done = 0
        var lastReport = Date.distantPast
        while done < results.count && engine.hasUnfinishedRequests {
            for o in engine.step() where o.finished {
                guard let i = order[o.requestID] else { continue }
                results[i] = o
                done += 1
            }
            if let progress {
                let now = Date()
                if now.timeIntervalSince(lastReport) >= 0.1 || done == results.count {
                    lastReport = now
                    let s = engine.statistics
                    progress(GenerationProgress(finishedRequests: done, totalRequests: results.count,
                                                promptTokens: s.promptTokens - base.promptTokens,
                                                generatedTokens: s.generationTokens - base.generationTokens,
                                                elapsed: now.timeIntervalSince(start), statistics: s))
                }
            }
        }
        return results.map { $0! }
    }
}
