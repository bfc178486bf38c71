import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// The engine on a real model (stories260K, fp32): greedy outputs under continuous batching,
/// chunked prefill, prefix-cache hits and both kinds of preemption must be token-identical to
/// each request run alone.
@Suite(.serialized) struct EngineModelTests {
    static let loaded = try! loadModel(path: TestPaths.stories260K, precision: .fp32)

    static let prompts = [
        "Once upon a time",
        "Lily wanted to play",
        "The big dog ran to the park and",
        "Tom had a red ball.",
        "One day, a little bird",
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. One day,",
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. Her mom",
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. The",
        "Sue and Ben were friends.",
        "The sun was hot, so",
    ]

    static func makeCache(blocks: Int, blockSize: Int, dtype: KVCacheDType = .fp32) -> PagedKVCache {
        let c = loaded.config
        return try! PagedKVCache(numBlocks: blocks, blockSize: blockSize, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                 headDim: c.headDim, dtype: dtype)
    }

    /// The request alone: a batch of one, whole prompt in one pass.
    static func alone(_ prompt: [Int], maxTokens: Int, dtype: KVCacheDType = .fp32) -> [Int] {
        try! engineGreedy(model: loaded.model, cache: makeCache(blocks: 64, blockSize: 16, dtype: dtype), prompt: prompt,
                          maxTokens: maxTokens).map(\.token)
    }

    /// Every prompt's 30 greedy tokens, computed once for all modes.
    static let aloneOutputs = prompts.map { alone(loaded.tokenizer.encode($0), maxTokens: 30) }

    /// With an int8 cache every token's keys and values are quantized on their own, so batching,
    /// chunking, block copies and swapping (blocks carry their scales) still change nothing.
    @Test func batchedGreedyMatchesAloneWithInt8Cache() throws {
        let tokenizer = Self.loaded.tokenizer
        let ids = Self.prompts.map { tokenizer.encode($0) }
        let config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: 24, maxNumSeqs: 8, preemptionMode: .auto),
                                  swapSpaceBytes: 1 << 20)
        let engine = try LLMEngine(model: Self.loaded.model, cache: Self.makeCache(blocks: 44, blockSize: 4, dtype: .int8),
                                   tokenizer: tokenizer, config: config)
        var expected: [String: [[Int]]] = [:]
        for (i, p) in ids.enumerated() {
            var params = SamplingParams.greedy(maxTokens: 30, ignoreEOS: true)
            if i % 3 == 0 { params.n = 2 }
            try engine.addRequest(id: "r\(i)", promptTokenIDs: p, params: params)
            expected["r\(i)"] = Array(repeating: Self.alone(p, maxTokens: 30, dtype: .int8), count: params.n)
        }
        var results: [String: RequestOutput] = [:]
        while engine.hasUnfinishedRequests {
            for o in engine.step() where o.finished { results[o.requestID] = o }
        }
        for (id, want) in expected { #expect(results[id]?.outputs.map(\.tokenIDs) == want, "\(id)") }
        let s = engine.statistics
        #expect(s.preemptionsSwap > 0 && s.prefixCacheHits > 0)
        #expect(s.kvBlocksUsed == 0 && s.swapBlocksUsed == 0)
    }

    @Test(arguments: [PreemptionMode.recompute, .swap, .auto])
    func batchedGreedyMatchesAlone(mode: PreemptionMode) throws {
        let tokenizer = Self.loaded.tokenizer
        let ids = Self.prompts.map { tokenizer.encode($0) }
        let maxTokens = 30
        // 44 blocks of 4 tokens cannot hold ten requests of about 50 tokens: preemption is certain.
        let config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: 24, maxNumSeqs: 8, preemptionMode: mode),
                                  swapSpaceBytes: 1 << 20)
        let engine = try LLMEngine(model: Self.loaded.model, cache: Self.makeCache(blocks: 44, blockSize: 4),
                                   tokenizer: tokenizer, config: config)
        var expected: [String: [[Int]]] = [:]
        for (i, p) in ids.enumerated() {
            var params = SamplingParams.greedy(maxTokens: maxTokens, ignoreEOS: true)
            if mode == .auto && i % 3 == 0 { params.n = 2 } // groups of two are swapped under auto
            try engine.addRequest(id: "r\(i)", promptTokenIDs: p, params: params)
            expected["r\(i)"] = Array(repeating: Self.aloneOutputs[i], count: params.n)
        }
        var results: [String: RequestOutput] = [:]
        while engine.hasUnfinishedRequests {
            for o in engine.step() where o.finished { results[o.requestID] = o }
            #expect(engine.scheduler.manager.validate().isEmpty)
        }
        for (id, want) in expected {
            #expect(results[id]?.outputs.map(\.tokenIDs) == want, "\(id) (\(mode))")
        }
        let s = engine.statistics
        print("stories260K \(mode): \(s.steps) steps, preemptions \(s.preemptionsRecompute) recompute / \(s.preemptionsSwap) swap, prefix hits \(s.prefixCacheHits)/\(s.prefixCacheQueries)")
        #expect(s.preemptions > 0)
        if mode == .swap || mode == .auto { #expect(s.preemptionsSwap > 0) }
        #expect(s.prefixCacheHits > 0)
        #expect(s.kvBlocksUsed == 0 && s.swapBlocksUsed == 0)
        // Text matches a full decode of the tokens.
        let text = results["r1"]!.outputs[0].text
        #expect(text == tokenizer.decode(ids[1] + expected["r1"]![0]).dropFirst(tokenizer.decode(ids[1]).count).description)
    }

    @Test func offlineAPIReturnsOutputsInInputOrder() throws {
        let llm = try LLM(loaded: Self.loaded, cache: Self.makeCache(blocks: 128, blockSize: 16),
                          config: EngineConfig(swapSpaceBytes: 0))
        var progressCalls = 0
        let outs = try llm.generate(prompts: Self.prompts, params: .greedy(maxTokens: 12)) { p in
            progressCalls += 1
            #expect(p.finishedRequests <= p.totalRequests)
        }
        #expect(outs.count == Self.prompts.count)
        #expect(progressCalls > 0)
        for (i, o) in outs.enumerated() {
            #expect(o.promptTokenIDs == llm.tokenizer.encode(Self.prompts[i]))
            #expect(o.finished && !o.outputs[0].tokenIDs.isEmpty)
            let stopped = o.outputs[0].finishReason == .stop
            #expect(stopped || o.outputs[0].tokenIDs.count == 12)
        }
        // Stop strings cut the text before the match.
        var params = SamplingParams.greedy(maxTokens: 40, ignoreEOS: true)
        params.stop = [" the"]
        let cut = try llm.generate(prompts: [Self.prompts[0]], params: params)[0].outputs[0]
        if cut.finishReason == .stop {
            #expect(!cut.text.contains(" the"))
            #expect(cut.stopReason == .string(" the"))
        }
    }
}
