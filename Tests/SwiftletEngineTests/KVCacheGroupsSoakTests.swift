import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// The soak of EngineSoakTests on the tiny Gemma 3 checkpoint, whose layers form KV cache groups
/// (two sliding of window 6, one full): seeded arrivals, aborts, forks (`n`, `best_of`), beams,
/// shared prefixes, swap and recompute preemption, in a cache far too small. After every step
/// the engine's invariants hold in every group; at the end the pool is whole and every finished
/// request's texts equal its texts alone in a roomy engine that keeps every block.
@Suite(.serialized) struct KVCacheGroupsSoakTests {
    /// The plans' token ids come from stories260K's tokenizer; both vocabularies have 512 entries.
    static let loaded = KVCacheGroupsEngineTests.loaded

    static func alone(_ plan: EngineSoakTests.Plan) throws -> [String] {
        var config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: 512, maxNumSeqs: 8), swapSpaceBytes: 0)
        config.freesSlidingWindowBlocks = false
        let engine = try LLMEngine(model: loaded.model, cache: KVCacheGroupsEngineTests.makeCache(blocks: 256),
                                   tokenizer: loaded.tokenizer, config: config)
        try engine.addRequest(id: plan.id, promptTokenIDs: plan.prompt, params: plan.params)
        var last: RequestOutput?
        while engine.hasUnfinishedRequests { for o in engine.step() where o.finished { last = o } }
        return try #require(last).outputs.map(\.text)
    }

    @Test func soakWithGroupsKeepsInvariantsAndOutputs() throws {
        let started = Date()
        let plans = EngineSoakTests.plans(count: 500, seed: 0x6E33, spread: 1200)
        // 48 blocks of 2 tokens per layer: 144 blocks in groups, against 16 requests of up to 60
        // tokens, each holding its whole length in the full group and 3 to 4 blocks in each sliding one.
        let scheduler = SchedulerConfig(maxNumBatchedTokens: 32, maxNumSeqs: 16, enableChunkedPrefill: true, preemptionMode: .auto)
        let engine = try KVCacheGroupsEngineTests.engine(blocks: 48, frees: true, scheduler: scheduler, swapBlocks: 40)
        #expect(engine.scheduler.manager.groupWindows == [6, 6, nil])
        var freedEntries = 0
        let (finished, aborted, step, broken) = try EngineSoakTests.drive(engine, plans: plans) { engine in
            for g in engine.scheduler.running { for s in g.sequences { freedEntries += engine.scheduler.manager.freedEntries(s.id) } }
        }
        #expect(broken == nil, "\(broken ?? "")")
        let s = engine.statistics
        print("groups soak: \(plans.count) requests, \(step) steps, \(finished.count) finished, \(aborted.count) aborted, "
              + "preemptions \(s.preemptionsSwap) swap / \(s.preemptionsRecompute) recompute, "
              + "prefix hits \(s.prefixCacheHits)/\(s.prefixCacheQueries) tokens, evictions \(s.kvEvictions), "
              + String(format: "%.1f s", Date().timeIntervalSince(started)))
        #expect(s.preemptionsSwap > 0 && s.preemptionsRecompute > 0)
        #expect(s.prefixCacheHits > 0)
        #expect(!aborted.isEmpty)
        #expect(freedEntries > 0, "the sliding groups freed blocks")
        #expect(s.kvBlocksUsed == 0 && s.swapBlocksUsed == 0)
        #expect(s.kvBlocksFree + s.kvBlocksCached == s.kvBlocksTotal)

        var compared = 0
        for p in plans {
            if let o = finished[p.id] {
                #expect(o.error == nil, "\(p.id): \(o.error ?? "")")
                let want = try Self.alone(p)
                #expect(o.outputs.map(\.text) == want, "\(p.id) \(p.params): batched \(o.outputs.map(\.text)) alone \(want)")
                compared += 1
            } else if aborted[p.id] == nil {
                Issue.record("\(p.id) neither finished nor was aborted")
            }
        }
        #expect(compared > plans.count / 2)
        print("groups soak: \(compared) finished requests equal to alone, " + String(format: "%.1f s in all", Date().timeIntervalSince(started)))
    }
}
