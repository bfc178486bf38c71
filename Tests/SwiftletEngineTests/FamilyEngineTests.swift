import Foundation
import Testing
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// The tiny checkpoint of every family through `LLMEngine` (fp32): continuous batching of
/// requests of different lengths, chunked prefill and prefix-cache hits, against transformers'
/// greedy tokens and top-5 logprobs, both as the engine reports them.
@Suite(.serialized) struct FamilyEngineTests {
    /// Counts the sequences of each forward pass, to show that requests really were batched.
    final class BatchObservingModel: CausalLanguageModel {
        let inner: any CausalLanguageModel
        private(set) var mostSequences = 0
        init(_ inner: any CausalLanguageModel) { self.inner = inner }
        var config: ModelConfig { inner.config }
        var residentBytes: Int { inner.residentBytes }
        var layerSlidingWindows: [Int?] { inner.layerSlidingWindows }
        func prepare(maxModelLength: Int) { inner.prepare(maxModelLength: maxModelLength) }
        func forward(tokens: [Int32], metadata: AttentionMetadata, cache: PagedKVCache) -> [Float] {
            mostSequences = max(mostSequences, metadata.numSequences)
            return inner.forward(tokens: tokens, metadata: metadata, cache: cache)
        }
    }

    /// Every fixture prompt twice: a first wave, and after a few steps a second wave of the same
    /// prompts, which finds their blocks in the prefix cache while the first wave still decodes.
    @Test(arguments: FamilyFidelityTests.families)
    func batchedWithPrefixCachingMatchesTransformers(_ family: String) throws {
        try Self.expectBatchedMatch(path: FamilyFidelityTests.directory(family), family: family)
    }

    /// The same on the GGUF conversions of family checkpoints.
    @Test(arguments: FamilyFidelityTests.ggufFamilies)
    func ggufBatchedWithPrefixCachingMatchesTransformers(_ family: String) throws {
        try Self.expectBatchedMatch(path: FamilyFidelityTests.gguf(family), family: family)
    }

    static func expectBatchedMatch(path: String, family: String) throws {
        let loaded = try loadModel(path: path, precision: .fp32)
        let reference = try FamilyFidelityTests.reference(family)
        let source = (path as NSString).lastPathComponent
        let c = loaded.config
        let cache = try PagedKVCache(numBlocks: 160, blockSize: 4, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                     headDim: c.headDim, dtype: .fp32)
        let model = BatchObservingModel(loaded.model)
        // 40 tokens a step: the long prompts are prefilled in chunks beside other requests' decodes.
        let config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: 40, maxNumSeqs: 8,
                                                             maxModelLen: FamilyFidelityTests.maxModelLen(c), enableChunkedPrefill: true,
                                                             enablePrefixCaching: true),
                                  swapSpaceBytes: 0)
        let engine = try LLMEngine(model: model, cache: cache, tokenizer: loaded.tokenizer, config: config)

        func add(wave: Int) throws {
            for (i, k) in reference.cases.enumerated() {
                var params = SamplingParams.greedy(maxTokens: k.greedy_ids.count, ignoreEOS: true)
                // More than five, so that a near tie for fifth place cannot drop a reference token.
                params.logprobs = 8
                try engine.addRequest(id: "\(wave)-\(i)", promptTokenIDs: k.prompt_ids, params: params)
            }
        }
        try add(wave: 0)
        var outputs: [String: RequestOutput] = [:]
        for _ in 0..<4 { for o in engine.step() where o.finished { outputs[o.requestID] = o } }
        try add(wave: 1)
        while engine.hasUnfinishedRequests {
            for o in engine.step() where o.finished { outputs[o.requestID] = o }
            #expect(engine.scheduler.manager.validate().isEmpty)
        }

        var maxError = 0.0
        for wave in 0..<2 {
            for (i, k) in reference.cases.enumerated() {
                let out = try #require(outputs["\(wave)-\(i)"])
                #expect(out.outputs[0].tokenIDs == k.greedy_ids, "\(source) request \(wave)-\(i): greedy tokens differ")
                let positions = out.outputs[0].logprobs ?? []
                #expect(positions.count == k.greedy_ids.count)
                for (step, position) in zip(k.top5, positions) {
                    maxError = max(maxError, topLogprobError(step, position.top.map { ($0.tokenID, $0.logprob) }))
                }
            }
        }
        let s = engine.statistics
        print("\(source) engine: \(2 * reference.cases.count) requests, \(s.steps) steps, up to \(model.mostSequences) sequences a pass, prefix hits \(s.prefixCacheHits)/\(s.prefixCacheQueries), max top-5 logprob error \(String(format: "%.2e", maxError))")
        #expect(maxError < 1e-3, "\(source): max logprob error \(maxError)")
        #expect(s.prefixCacheHits > 0)
        #expect(model.mostSequences >= 4)
        #expect(s.kvBlocksUsed == 0)
    }

    /// Mistral's sliding window in the paged kernel: once a block lies wholly before the window of
    /// every later query, it is never read again, so the engine may free it. Poisoning such blocks
    /// with NaN while decoding must leave every logit finite and the greedy tokens unchanged.
    @Test func blocksOutsideTheSlidingWindowAreNotRead() throws {
        let loaded = try loadModel(path: FamilyFidelityTests.directory("mistral"), precision: .fp32)
        let c = loaded.config
        let window = try #require(c.slidingWindow)
        let k = try #require(try FamilyFidelityTests.reference("mistral").cases.max { $0.prompt_ids.count < $1.prompt_ids.count })
        let bs = 4
        let total = k.prompt_ids.count + k.greedy_ids.count
        let cache = try PagedKVCache(numBlocks: (total + bs - 1) / bs, blockSize: bs, numLayers: c.numLayers,
                                     numKVHeads: c.numKVHeads, headDim: c.headDim, dtype: .fp32)
        let table = (0..<Int32(cache.numBlocks)).map { $0 }
        var logits = loaded.model.forward(tokens: k.prompt_ids.map(Int32.init),
                                          metadata: .build(sequences: [(k.prompt_ids.count, 0, table)], blockSize: bs), cache: cache)
        var poisoned = 0
        var tokens: [Int] = []
        for i in 0..<k.greedy_ids.count {
            let finite = logits.allSatisfy { $0.isFinite }
            #expect(finite, "step \(i)")
            let token = logits.withUnsafeBufferPointer { StandardSampler.argmax($0).index }
            tokens.append(token)
            let position = k.prompt_ids.count + i
            // The query at `position` sees keys after position - window; blocks ending before that are dead.
            let firstLive = (position - window + 1) / bs
            while poisoned < firstLive {
                for layer in 0..<c.numLayers {
                    let (key, value) = cache.blockPointers(layer: layer, block: poisoned)
                    for p in [key, value] {
                        p.bindMemory(to: Float.self, capacity: cache.blockBytes / 4).update(repeating: .nan, count: cache.blockBytes / 4)
                    }
                }
                poisoned += 1
            }
            logits = loaded.model.forward(tokens: [Int32(token)],
                                          metadata: .build(sequences: [(1, position, table)], blockSize: bs), cache: cache)
        }
        #expect(tokens == k.greedy_ids)
        #expect(poisoned > total / bs / 2, "\(poisoned) of \(cache.numBlocks) blocks poisoned")
    }
}

