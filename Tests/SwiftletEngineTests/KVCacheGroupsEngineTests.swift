import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// KV cache groups on the tiny Gemma 3 checkpoint (layers sliding, full, sliding; window 6): the
/// two sliding groups free the blocks behind the window, the full group keeps them all, and the
/// tokens and logprobs are those of keeping every block.
@Suite(.serialized) struct KVCacheGroupsEngineTests {
    static let directory = FamilyFidelityTests.directory("gemma3")
    /// A model instance of this suite's own: scratch buffers serve one forward pass at a time.
    static let loaded = try! loadModel(path: directory, precision: .fp32)
    static let bs = 2

    /// A cache laid out one storage layer per model layer, as callers that know nothing of
    /// groups make it; the engine lays the same bytes out for its groups.
    static func makeCache(blocks: Int, blockSize: Int = bs) -> PagedKVCache {
        let c = loaded.config
        return try! PagedKVCache(numBlocks: blocks, blockSize: blockSize, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                 headDim: c.headDim, dtype: .fp32)
    }

    static func engine(blocks: Int, frees: Bool, scheduler: SchedulerConfig, swapBlocks: Int = 0) throws -> LLMEngine {
        let cache = makeCache(blocks: blocks)
        // A swap block has the bytes of a device block: one group's layers.
        let groupLayers = frees ? KVCacheGroups(layerWindows: loaded.model.layerSlidingWindows).layersPerGroup : loaded.config.numLayers
        var config = EngineConfig(scheduler: scheduler, swapSpaceBytes: swapBlocks * 2 * groupLayers * cache.blockBytes)
        config.freesSlidingWindowBlocks = frees
        return try LLMEngine(model: loaded.model, cache: cache, tokenizer: loaded.tokenizer, config: config)
    }

    /// The same bytes buy numLayers / layersPerGroup times the blocks (3 here: groups of one
    /// layer), through the budget and through the engine's own layout; without freeing nothing
    /// changes.
    @Test func theSameMemoryHoldsMoreBlocks() throws {
        let c = Self.loaded.config
        let groups = EngineConfig().kvCacheGroups(for: Self.loaded.model)
        #expect(groups.windows == [6, 6, nil] && groups.layersPerGroup == 1)
        // A budget of exactly 100 blocks of every layer, so that no rounding hides the ratio.
        let budget = Double(100 * 16 * KVCacheBudget(budget: 1, config: c, blockSize: 16, dtype: .bf16).bytesPerToken)
        let plain = KVCacheBudget(budget: budget, config: c, blockSize: 16, dtype: .bf16)
        let grouped = KVCacheBudget(budget: budget, config: c, blockSize: 16, dtype: .bf16, groups: groups)
        #expect(plain.numBlocks == 100)
        #expect(grouped.numBlocks == 3 * plain.numBlocks)
        let scheduler = SchedulerConfig(maxNumBatchedTokens: 64)
        let freeing = try Self.engine(blocks: 40, frees: true, scheduler: scheduler)
        let keeping = try Self.engine(blocks: 40, frees: false, scheduler: scheduler)
        #expect(freeing.runner.cache.numBlocks == 120 && freeing.scheduler.manager.numBlocks == 120)
        #expect(freeing.runner.cache.totalBytes == Self.makeCache(blocks: 40).totalBytes)
        #expect(keeping.runner.cache.numBlocks == 40 && keeping.scheduler.manager.numGroups == 1)
        #expect(freeing.summary.contains("KV cache groups: 2 sliding (window 6) + 1 full, 1 layer each"), "\(freeing.summary)")
        #expect(!keeping.summary.contains("groups"))
        print("gemma3 fixture, same bytes: \(keeping.runner.cache.numBlocks) blocks kept whole, \(freeing.runner.cache.numBlocks) in groups; \(freeing.summary)")
    }

    typealias Run = (outputs: [String: RequestOutput], mostHeld: [Int], statistics: EngineStatistics)

    /// Steps until done, checking the engine's invariants after every step and, in each group
    /// with a window, that no running sequence holds more than the window's blocks. Returns the
    /// most blocks one sequence held in each group.
    static func run(_ engine: LLMEngine, _ requests: [EngineSchedulingTests.Request]) -> Run {
        let m = { engine.scheduler.manager }
        var mostHeld = Array(repeating: 0, count: m().numGroups)
        let finished = SlidingWindowEngineTests.drive(engine, requests) { step in
            for g in engine.scheduler.running {
                for s in g.sequences where !s.isFinished {
                    for group in 0..<m().numGroups {
                        let held = m().heldBlocks(s.id, group: group)
                        mostHeld[group] = max(mostHeld[group], held)
                        if let w = m().groupWindows[group], held > w / bs + 1 {
                            Issue.record("step \(step): sequence \(s.id) holds \(held) blocks in group \(group)")
                        }
                    }
                }
            }
        }
        return (finished, mostHeld, engine.statistics)
    }

    /// Every reference prompt generating greedily to 240 tokens (near the fixtures' context of
    /// 256) with `logprobs`, in two waves three steps apart (the second hits the prefix cache),
    /// and n = 2 samples (seeded `seed`) of case `sampledCase`.
    static func longGenerationRequests(_ reference: ReferenceFixture, logprobs: Int, sampledCase: Int,
                                       seed: UInt64) -> [EngineSchedulingTests.Request] {
        var requests: [EngineSchedulingTests.Request] = []
        for wave in 0..<2 {
            for (i, k) in reference.cases.enumerated() {
                var p = SamplingParams.greedy(maxTokens: 240 - k.prompt_ids.count, ignoreEOS: true)
                p.logprobs = logprobs
                requests.append(.init(id: "\(wave)-\(i)", prompt: k.prompt_ids, params: p, arrivalStep: 3 * wave))
            }
        }
        var sampled = SamplingParams(n: 2, maxTokens: 120, temperature: 0.8, ignoreEOS: true)
        sampled.seed = seed
        requests.append(.init(id: "n2", prompt: reference.cases[sampledCase].prompt_ids, params: sampled, arrivalStep: 1))
        return requests
    }

    /// Both runs finished all `count` requests without preemption, with identical tokens and logprobs.
    static func expectSameOutputs(_ kept: Run, _ freed: Run, count: Int) {
        #expect(kept.outputs.count == count && freed.outputs.count == count)
        #expect(kept.statistics.preemptions == 0 && freed.statistics.preemptions == 0)
        for (id, want) in kept.outputs.sorted(by: { $0.key < $1.key }) {
            let got = freed.outputs[id]?.outputs
            #expect(got?.map(\.tokenIDs) == want.outputs.map(\.tokenIDs), "\(id)")
            #expect(got?.map(\.logprobs) == want.outputs.map(\.logprobs), "\(id): logprobs")
        }
    }

    /// Every fixture prompt generating to near the context's end (256), with logprobs, twice
    /// (the second wave hits the prefix cache), and n = 2 samples: identical tokens and logprobs
    /// with and without freeing, transformers' greedy tokens where it has them.
    @Test func longGenerationMatchesKeepingEveryBlock() throws {
        let reference = try FamilyFidelityTests.reference("gemma3")
        let requests = Self.longGenerationRequests(reference, logprobs: 2, sampledCase: 0, seed: 7)
        let scheduler = SchedulerConfig(maxNumBatchedTokens: 32, maxNumSeqs: 16)
        let kept = Self.run(try Self.engine(blocks: 2048, frees: false, scheduler: scheduler), requests)
        let freed = Self.run(try Self.engine(blocks: 2048, frees: true, scheduler: scheduler), requests)
        Self.expectSameOutputs(kept, freed, count: requests.count)
        for (i, k) in reference.cases.enumerated() {
            #expect(Array(freed.outputs["0-\(i)"]?.outputs[0].tokenIDs.prefix(k.greedy_ids.count) ?? []) == k.greedy_ids,
                    "case \(i): transformers' greedy tokens")
        }
        // Groups 0 and 1 slide (window 6, blocks of 2: at most 4 blocks, checked after every
        // step); group 2 keeps a whole sequence (up to 238 tokens between steps: 119 blocks).
        #expect(freed.mostHeld.count == 3 && freed.mostHeld[0...1].allSatisfy { $0 <= 4 })
        #expect(freed.mostHeld[2] == 119 && kept.mostHeld == [119])
        #expect(freed.statistics.prefixCacheHits > 0 && kept.statistics.prefixCacheHits > 0)
        print("gemma3 fixture, window 6, blocks of 2: most blocks one sequence held per group \(freed.mostHeld) freed, \(kept.mostHeld) kept; prefix hits \(freed.statistics.prefixCacheHits) / \(kept.statistics.prefixCacheHits) tokens")
    }

    /// A cache too small for the load: every group's blocks are swapped, recomputed, shared by
    /// forks and prefixes, and tokens stay those of keeping every block in a roomy cache.
    @Test func preemptionUnderGroupsKeepsTokens() throws {
        let reference = try FamilyFidelityTests.reference("gemma3")
        var requests: [EngineSchedulingTests.Request] = []
        for (i, k) in reference.cases.enumerated() {
            requests.append(.init(id: "g\(i)", prompt: k.prompt_ids, params: .greedy(maxTokens: 90, ignoreEOS: true), arrivalStep: i))
            var beams = SamplingParams(n: 2, maxTokens: 30, ignoreEOS: true)
            beams.useBeamSearch = true
            beams.bestOf = 2
            requests.append(.init(id: "b\(i)", prompt: k.prompt_ids, params: beams, arrivalStep: i + 1))
        }
        let scheduler = SchedulerConfig(maxNumBatchedTokens: 24, maxNumSeqs: 16, preemptionMode: .auto)
        let roomy = Self.run(try Self.engine(blocks: 2048, frees: false, scheduler: scheduler), requests)
        let tight = Self.run(try Self.engine(blocks: 70, frees: true, scheduler: scheduler, swapBlocks: 100), requests)
        #expect(tight.statistics.preemptionsSwap > 0 && tight.statistics.preemptionsRecompute > 0, "\(tight.statistics)")
        for (id, want) in roomy.outputs.sorted(by: { $0.key < $1.key }) {
            #expect(tight.outputs[id]?.outputs.map(\.tokenIDs) == want.outputs.map(\.tokenIDs), "\(id)")
        }
        print("gemma3 fixture in 210 grouped blocks: preemptions \(tight.statistics.preemptionsSwap) swap / \(tight.statistics.preemptionsRecompute) recompute, most held per group \(tight.mostHeld)")
    }
}
