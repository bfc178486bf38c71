import Foundation
import Testing
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// Mistral's tiny checkpoint (window 12) with the blocks behind the window freed: the real
/// attention kernels, at every kernel level, never read a freed entry, and a long generation
/// gives the same tokens as keeping every block, and transformers' tokens where it has them.
@Suite(.serialized) struct SlidingWindowFamilyTests {
    static let bs = 4

    /// Decoding with freed (-1) entries before the window gives logits identical to the full
    /// table, prompt chunks that start past the window included. The kernel refuses (aborts on)
    /// a freed entry inside a window, so reaching the end also shows none was read.
    @Test func freedEntriesGiveTheSameLogitsAtEveryKernelLevel() throws {
        let loaded = try loadModel(path: FamilyFidelityTests.directory("mistral"), precision: .fp32)
        let c = loaded.config
        let window = try #require(c.slidingWindow)
        let k = try #require(try FamilyFidelityTests.reference("mistral").cases.max { $0.prompt_ids.count < $1.prompt_ids.count })
        let cache = try PagedKVCache(numBlocks: (k.prompt_ids.count + 8 + Self.bs - 1) / Self.bs, blockSize: Self.bs,
                                     numLayers: c.numLayers, numKVHeads: c.numKVHeads, headDim: c.headDim, dtype: .fp32)
        let full = (0..<Int32(cache.numBlocks)).map { $0 }
        func freed(computed: Int) -> [Int32] {
            let dead = max(0, computed - window + 1) / Self.bs
            return full.enumerated().map { $0.offset < dead ? -1 : $0.element }
        }
        let tokens = k.prompt_ids.map(Int32.init)
        for level in KernelLevel.upToCurrent {
            KernelLevel.with(level) {
                // A prompt in chunks of 24: every chunk after the first starts past the window.
                var c0 = 0
                while c0 < tokens.count {
                    let n = min(24, tokens.count - c0)
                    let chunk = Array(tokens[c0..<(c0 + n)])
                    let want = loaded.model.forward(tokens: chunk, metadata: .build(sequences: [(n, c0, full)], blockSize: Self.bs,
                                                                                    allLogits: true), cache: cache)
                    let got = loaded.model.forward(tokens: chunk, metadata: .build(sequences: [(n, c0, freed(computed: c0))],
                                                                                   blockSize: Self.bs, allLogits: true), cache: cache)
                    #expect(got == want, "\(level): chunk at \(c0)")
                    c0 += n
                }
                for step in 0..<8 {
                    let position = tokens.count + step
                    let token: [Int32] = [Int32(k.greedy_ids[step])]
                    let want = loaded.model.forward(tokens: token, metadata: .build(sequences: [(1, position, full)], blockSize: Self.bs),
                                                    cache: cache)
                    let table = freed(computed: position)
                    #expect(table.contains(-1))
                    let got = loaded.model.forward(tokens: token, metadata: .build(sequences: [(1, position, table)], blockSize: Self.bs),
                                                   cache: cache)
                    #expect(got == want, "\(level): decode at \(position)")
                    let meta = AttentionMetadata.build(sequences: [(1, position, table)], blockSize: Self.bs)
                    #expect(meta.validate(numBlocks: cache.numBlocks, blockSize: Self.bs, slidingWindow: window) == nil)
                    #expect(meta.validate(numBlocks: cache.numBlocks, blockSize: Self.bs) != nil)
                }
            }
        }
    }

    /// Every fixture prompt (and one with n = 2 sampled completions) generating to near the
    /// context's end, with a second wave of the same prompts for prefix hits, the engine checked
    /// after every step. In a cache with room for the windows the steps are the same as keeping
    /// every block (in a cache eleven times larger), so the tokens must be identical; in a cache
    /// of 20 blocks, preemption and chunking still give transformers' tokens.
    @Test func longGenerationMatchesKeepingEveryBlock() throws {
        let reference = try FamilyFidelityTests.reference("mistral")
        typealias Run = (outputs: [String: RequestOutput], watcher: SlidingWindowEngineTests.WindowWatcher, statistics: EngineStatistics)
        func run(frees: Bool, blocks: Int) throws -> Run {
            let loaded = try loadModel(path: FamilyFidelityTests.directory("mistral"), precision: .fp32)
            let c = loaded.config
            let cache = try PagedKVCache(numBlocks: blocks, blockSize: Self.bs, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                         headDim: c.headDim, dtype: .fp32)
            let watcher = SlidingWindowEngineTests.WindowWatcher(loaded.model, blockSize: Self.bs)
            var config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: 32, maxNumSeqs: 8), swapSpaceBytes: 8 << 20)
            config.freesSlidingWindowBlocks = frees
            let engine = try LLMEngine(model: watcher, cache: cache, tokenizer: nil, config: config)
            var requests: [EngineSchedulingTests.Request] = []
            for wave in 0..<2 {
                for (i, k) in reference.cases.enumerated() {
                    requests.append(.init(id: "\(wave)-\(i)", prompt: k.prompt_ids,
                                          params: .greedy(maxTokens: 250 - k.prompt_ids.count, ignoreEOS: true), arrivalStep: 2 * wave))
                }
            }
            var sampled = SamplingParams(n: 2, maxTokens: 120, temperature: 0.8, ignoreEOS: true)
            sampled.seed = 11
            requests.append(.init(id: "n2", prompt: reference.cases[1].prompt_ids, params: sampled, arrivalStep: 1))
            let (outputs, _) = SlidingWindowEngineTests.run(engine, requests)
            #expect(outputs.count == requests.count)
            #expect(engine.statistics.kvBlocksUsed == 0)
            return (outputs, watcher, engine.statistics)
        }
        let window = try #require(try loadModel(path: FamilyFidelityTests.directory("mistral"), precision: .fp32).config.slidingWindow)
        let kept = try run(frees: false, blocks: 11 * 64)
        let roomy = try run(frees: true, blocks: 64)
        let tight = try run(frees: true, blocks: 20)
        #expect(kept.statistics.preemptions == 0 && roomy.statistics.preemptions == 0)
        for (id, want) in kept.outputs.sorted(by: { $0.key < $1.key }) {
            #expect(roomy.outputs[id]?.outputs.map(\.tokenIDs) == want.outputs.map(\.tokenIDs), "\(id)")
        }
        #expect(roomy.outputs["n2"]?.outputs.count == 2)
        for (i, k) in reference.cases.enumerated() {
            for wave in 0..<2 {
                #expect(Array(tight.outputs["\(wave)-\(i)"]?.outputs[0].tokenIDs.prefix(k.greedy_ids.count) ?? []) == k.greedy_ids,
                        "case \(wave)-\(i): transformers' greedy tokens")
            }
        }
        #expect(kept.watcher.mostDecodeBlocks > 40)
        for r in [roomy, tight] {
            #expect(r.watcher.mostDecodeBlocks == window / Self.bs + 1)
            #expect(r.statistics.prefixCacheHits > 0)
        }
        #expect(tight.statistics.preemptions > 0)
        print("mistral, window \(window): most blocks of a decoding sequence \(kept.watcher.mostDecodeBlocks) kept, \(roomy.watcher.mostDecodeBlocks) freed; prefix hits \(kept.statistics.prefixCacheHits) / \(roomy.statistics.prefixCacheHits) / \(tight.statistics.prefixCacheHits); preemptions in 20 blocks \(tight.statistics.preemptions)")
    }
}
