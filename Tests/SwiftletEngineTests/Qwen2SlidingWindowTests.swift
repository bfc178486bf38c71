import Foundation
import Testing
import SwiftletKernels
import SwiftletModels
import SwiftletFormats
@testable import SwiftletEngine

/// Qwen2's sliding window as transformers applies it: with `use_sliding_window`, only the layers
/// from `max_window_layers` on (or those `layer_types` marks) slide. The tiny `qwen2-swa`
/// checkpoint (four layers, the last two sliding with window 6) runs its two full layers and its
/// two sliding ones in separate KV cache groups: the sliding group frees behind the window while
/// the full group keeps every block, with transformers' tokens and logprobs either way.
@Suite(.serialized) struct Qwen2SlidingWindowTests {
    static let family = "qwen2-swa"
    static let directory = FamilyFidelityTests.directory(family)
    /// A model instance of this suite's own: scratch buffers serve one forward pass at a time.
    static let loaded = try! loadModel(path: directory, precision: .fp32)

    /// The fixture's config.json with `change` applied.
    static func config(_ change: (inout [String: Any]) -> Void = { _ in }) throws -> ModelConfig {
        let url = URL(fileURLWithPath: directory).appendingPathComponent("config.json")
        var j = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        change(&j)
        return try ModelConfig(configJSON: JSONSerialization.data(withJSONObject: j))
    }

    static func windows(_ c: ModelConfig) -> [Int?] { (0..<c.numLayers).map { c.slidingWindow(layer: $0) } }

    /// Which layers slide follows transformers' Qwen2Config: `layer_types` when given, else the
    /// layers from `max_window_layers` on (28 by default), and none without `use_sliding_window`.
    @Test func slidingLayersFollowTransformers() throws {
        #expect(Self.windows(try Self.config()) == [nil, nil, 6, 6])
        #expect(Self.loaded.model.layerSlidingWindows == [nil, nil, 6, 6])
        let groups = EngineConfig().kvCacheGroups(for: Self.loaded.model)
        #expect(groups.windows == [nil, 6] && groups.layerGroup == [0, 0, 1, 1] && groups.layerSlot == [0, 1, 0, 1])
        // An explicit layer_types list wins over max_window_layers.
        let explicit = try Self.config {
            $0["layer_types"] = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]
        }
        #expect(Self.windows(explicit) == [6, nil, 6, nil])
        // Without layer_types, max_window_layers decides; transformers' default (28) leaves all four full.
        let fromIndex = try Self.config { $0["layer_types"] = nil; $0["max_window_layers"] = 1 }
        #expect(Self.windows(fromIndex) == [nil, 6, 6, 6])
        let byDefault = try Self.config { $0["layer_types"] = nil; $0["max_window_layers"] = nil }
        #expect(Self.windows(byDefault) == [nil, nil, nil, nil])
        // No window at all without use_sliding_window, whatever layer_types says.
        let off = try Self.config { $0["use_sliding_window"] = false }
        #expect(off.slidingWindow == nil && Self.windows(off) == [nil, nil, nil, nil])
        let error = #expect(throws: ModelLoadError.self) { try Self.config { $0["layer_types"] = ["chunked_attention", "full_attention", "full_attention", "full_attention"] } }
        #expect(error?.description.contains("layer type \"chunked_attention\"") == true, "\(String(describing: error))")
    }

    /// Every fixture prompt generating to near the context's end (256), with logprobs, in two
    /// waves (the second hits the prefix cache), and n = 2 samples, batched: identical tokens and
    /// logprobs with and without freeing, transformers' greedy tokens and top-5 logprobs (to 1e-3)
    /// where it has them, and the sliding group holding at most its window's blocks.
    @Test func longGenerationMatchesKeepingEveryBlockAndTransformers() throws {
        let reference = try FamilyFidelityTests.reference(Self.family)
        // More logprobs than five, so that a near tie for fifth place cannot drop a reference token.
        let requests = KVCacheGroupsEngineTests.longGenerationRequests(reference, logprobs: 8, sampledCase: 2, seed: 5)
        let scheduler = SchedulerConfig(maxNumBatchedTokens: 32, maxNumSeqs: 16)
        func engine(frees: Bool) throws -> LLMEngine {
            let c = Self.loaded.config
            let cache = try PagedKVCache(numBlocks: 1024, blockSize: KVCacheGroupsEngineTests.bs, numLayers: c.numLayers,
                                         numKVHeads: c.numKVHeads, headDim: c.headDim, dtype: .fp32)
            var config = EngineConfig(scheduler: scheduler, swapSpaceBytes: 0)
            config.freesSlidingWindowBlocks = frees
            return try LLMEngine(model: Self.loaded.model, cache: cache, tokenizer: nil, config: config)
        }
        let keeping = try engine(frees: false), freeing = try engine(frees: true)
        #expect(keeping.scheduler.manager.groupWindows == [nil])
        #expect(freeing.scheduler.manager.groupWindows == [nil, 6])
        let kept = KVCacheGroupsEngineTests.run(keeping, requests)
        let freed = KVCacheGroupsEngineTests.run(freeing, requests)
        KVCacheGroupsEngineTests.expectSameOutputs(kept, freed, count: requests.count)
        var maxError = 0.0
        for run in [kept, freed] {
            for wave in 0..<2 {
                for (i, k) in reference.cases.enumerated() {
                    let out = try #require(run.outputs["\(wave)-\(i)"]?.outputs[0])
                    #expect(Array(out.tokenIDs.prefix(k.greedy_ids.count)) == k.greedy_ids, "case \(wave)-\(i): transformers' greedy tokens")
                    for (step, position) in zip(k.top5, out.logprobs ?? []) {
                        maxError = max(maxError, topLogprobError(step, position.top.map { ($0.tokenID, $0.logprob) }))
                    }
                }
            }
        }
        #expect(maxError < 1e-3, "max top-5 logprob error \(maxError)")
        // Group 1 slides (window 6, blocks of 2: at most 4, checked after every step by `run`);
        // group 0 keeps a whole sequence (up to 238 tokens between steps: 119 blocks).
        #expect(freed.mostHeld.count == 2 && freed.mostHeld[1] <= 6 / KVCacheGroupsEngineTests.bs + 1)
        #expect(freed.mostHeld[0] == 119 && kept.mostHeld == [119])
        #expect(freed.statistics.prefixCacheHits > 0 && kept.statistics.prefixCacheHits > 0)
        print("qwen2-swa fixture, window 6 on layers 2-3, blocks of 2: most blocks one sequence held per group \(freed.mostHeld) freed, \(kept.mostHeld) kept; prefix hits \(freed.statistics.prefixCacheHits) / \(kept.statistics.prefixCacheHits) tokens; max top-5 logprob error \(String(format: "%.2e", maxError))")
    }
}
