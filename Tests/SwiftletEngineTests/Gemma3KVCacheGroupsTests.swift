import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// Gemma 3 270M with KV cache groups: five sliding groups (window 512) and one global group of
/// three layers each. Runs when `scripts/bootstrap.sh --with-gemma3` installed the file.
@Suite(.serialized, .enabled(if: TestPaths.gemma3IfInstalled != nil, "gemma-3-270m-q4_k_m.gguf not found; run scripts/bootstrap.sh --with-gemma3"))
struct Gemma3KVCacheGroupsTests {
    static let bs = 16

    /// A 700-token prompt (past the window) and 32 greedy tokens: the same text whether the
    /// sliding groups free their blocks or every block is kept, while a sliding group holds at
    /// most the window's blocks and the same memory holds six times the blocks.
    @Test func freeingKeepsTheGreedyTextPastTheWindow() throws {
        let loaded = try loadModel(path: TestPaths.gemma3, precision: .fast)
        let c = loaded.config
        let groups = EngineConfig().kvCacheGroups(for: loaded.model)
        #expect(groups.description == "5 sliding (window 512) + 1 full, 3 layers each")
        // A budget of exactly 200 blocks of every layer, so that no rounding hides the ratio.
        let budget = Double(200 * Self.bs * KVCacheBudget(budget: 1, config: c, blockSize: Self.bs, dtype: .bf16).bytesPerToken)
        let plain = KVCacheBudget(budget: budget, config: c, blockSize: Self.bs, dtype: .bf16)
        let grouped = KVCacheBudget(budget: budget, config: c, blockSize: Self.bs, dtype: .bf16, groups: groups)
        #expect(plain.numBlocks == 200)
        #expect(grouped.numBlocks == 6 * plain.numBlocks, "\(grouped.numBlocks) blocks in groups, \(plain.numBlocks) without")

        let paragraph = """
            The lighthouse keeper wrote in his log every evening: the wind, the colour of the sea, the ships \
            that passed and the birds that rested on the rail. Some nights were calm and the lamp turned \
            slowly over a flat grey water; others the storm shook the windows and he climbed the stairs \
            again and again to wipe the glass. In spring the supply boat brought letters, flour, oil and news \
            from the town, and he read the letters twice before he answered them.
            """
        let prompt = Array(loaded.tokenizer.encode(Array(repeating: paragraph, count: 12).joined(separator: "\n")).prefix(700))
        #expect(prompt.count == 700)

        func run(frees: Bool) throws -> (text: String, tokens: [Int], mostHeld: [Int], blocks: Int) {
            // 64 blocks of 16 tokens per layer; in groups the same bytes make 384 blocks.
            let cache = try PagedKVCache(numBlocks: 64, blockSize: Self.bs, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                         headDim: c.headDim, dtype: .bf16)
            var config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: 256), swapSpaceBytes: 0)
            config.freesSlidingWindowBlocks = frees
            let engine = try LLMEngine(model: loaded.model, cache: cache, tokenizer: loaded.tokenizer, config: config)
            try engine.addRequest(id: "long", promptTokenIDs: prompt, params: .greedy(maxTokens: 32, ignoreEOS: true))
            let m = { engine.scheduler.manager }
            var mostHeld = Array(repeating: 0, count: m().numGroups)
            var last: RequestOutput?
            while engine.hasUnfinishedRequests {
                for o in engine.step() where o.finished { last = o }
                #expect(engine.validate().isEmpty, "\(engine.validate())")
                for g in engine.scheduler.running {
                    for s in g.sequences {
                        for group in 0..<m().numGroups { mostHeld[group] = max(mostHeld[group], m().heldBlocks(s.id, group: group)) }
                    }
                }
            }
            let out = try #require(last?.outputs.first)
            return (out.text, out.tokenIDs, mostHeld, engine.runner.cache.numBlocks)
        }
        let kept = try run(frees: false)
        let freed = try run(frees: true)
        #expect(freed.tokens == kept.tokens)
        #expect(freed.text == kept.text)
        #expect(kept.blocks == 64 && freed.blocks == 384)
        // Sliding groups: at most 512 / 16 + 1 blocks; the global one: up to 730 tokens, 46 blocks.
        #expect(freed.mostHeld.count == 6 && freed.mostHeld[0..<5].allSatisfy { $0 <= 33 } && freed.mostHeld[5] == 46)
        #expect(kept.mostHeld == [46])
        print("gemma 3 270M, 700-token prompt + 32: most blocks held per group \(freed.mostHeld) freed, \(kept.mostHeld) kept; cache \(freed.blocks) blocks in groups, \(kept.blocks) kept whole; text equal: \(freed.text == kept.text)")
    }
}
