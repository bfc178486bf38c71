import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// The start-up pass over the largest batch (`LLMEngine.warmUp`): a valid batch of the right
/// shape, and nothing of it reaches later requests.
@Suite struct WarmUpTests {
    @Test(arguments: [(2048, 256, 4096), (2048, 1, 512), (100, 7, 64), (5, 8, 64), (1, 1, 1)])
    func batchHasTheLargestStepsShape(tokens: Int, sequences: Int, maxModelLen: Int) throws {
        let (ids, meta) = ModelRunner.warmUpBatch(tokens: tokens, sequences: sequences, maxModelLen: maxModelLen,
                                                  numBlocks: 10, blockSize: 4, vocabSize: 50, groups: 3)
        #expect(ids.count == tokens && meta.numTokens == tokens)
        let lengths = meta.contextLengths.map(Int.init)
        #expect(lengths.allSatisfy { $0 >= 1 && $0 <= maxModelLen })
        // As many sequences as the scheduler may run, unless the tokens or the length cap decide.
        #expect(lengths.count == min(tokens, max(sequences, (tokens + maxModelLen - 1) / maxModelLen)))
        #expect(meta.logitsIndices.count == lengths.count)
        #expect(ids.allSatisfy { $0 >= 0 && $0 < 50 })
        #expect(meta.numGroups == 3)
        #expect(meta.validate(numBlocks: 10, blockSize: 4, groupWindows: [0, 4, 0]) == nil)
    }

    /// stories260K, and the Gemma 3 fixture, whose sliding and global layers are KV cache groups.
    @Test(arguments: ["stories260K", "gemma3"])
    func warmUpChangesNoLaterOutput(model: String) throws {
        let path = model == "gemma3" ? FamilyFidelityTests.directory("gemma3") : TestPaths.stories260K
        let loaded = try loadModel(path: path, precision: .fp32)
        let prompt = Array(loaded.tokenizer.encode("Once upon a time, there was a little girl named Lily.").prefix(12))
        func run(warm: Bool) throws -> [[Int]] {
            let c = loaded.config
            let cache = try PagedKVCache(numBlocks: 24, blockSize: 4, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                         headDim: c.headDim, dtype: .fp32)
            let config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: 64, maxNumSeqs: 4), swapSpaceBytes: 0)
            let engine = try LLMEngine(model: loaded.model, cache: cache, tokenizer: loaded.tokenizer, config: config)
            if warm { engine.warmUp() }
            var params = SamplingParams.greedy(maxTokens: 24, ignoreEOS: true)
            params.n = 2
            try engine.addRequest(id: "a", promptTokenIDs: prompt, params: params)
            var tokens: [[Int]] = []
            while engine.hasUnfinishedRequests {
                for o in engine.step() where o.finished { tokens = o.outputs.map(\.tokenIDs) }
            }
            #expect(engine.statistics.kvBlocksUsed == 0)
            return tokens
        }
        let cold = try run(warm: false)
        #expect(cold.count == 2 && cold[0].count == 24)
        #expect(try run(warm: true) == cold)
    }
}
