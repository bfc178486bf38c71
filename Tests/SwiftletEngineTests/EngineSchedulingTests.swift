import Foundation
import Testing
import SwiftletTestSupport
import SwiftletModels
@testable import SwiftletEngine

/// The engine end to end on the mock model, whose output depends on every KV slot it reads back:
/// continuous batching, chunked prefill, prefix-cache hits, preemption by swap and by recompute,
/// forks with copy-on-write, beam search and aborts must all leave each request's tokens exactly as
/// when it runs alone.
@Suite struct EngineSchedulingTests {
    struct Request {
        var id: String
        var prompt: [Int]
        var params: SamplingParams
        var arrivalStep: Int
        var priority = 0
    }

    static func makeEngine(blocks: Int, blockSize: Int, swapBlocks: Int = 64, scheduler: SchedulerConfig) -> (LLMEngine, MockModel) {
        let model = MockModel()
        let cache = MockModel.makeCache(numBlocks: blocks, blockSize: blockSize)
        let swapBytes = swapBlocks * 2 * cache.blockBytes
        let engine = try! LLMEngine(model: model, cache: cache, tokenizer: nil,
                                    config: EngineConfig(scheduler: scheduler, swapSpaceBytes: swapBytes))
        return (engine, model)
    }

    /// Each request alone in a roomy engine: the reference outputs.
    static func alone(_ r: Request, blockSize: Int) -> [[Int]] {
        let (engine, model) = makeEngine(blocks: 512, blockSize: blockSize, scheduler: SchedulerConfig(maxNumBatchedTokens: 4096))
        try! engine.addRequest(id: r.id, promptTokenIDs: r.prompt, params: r.params)
        var last: RequestOutput?
        while engine.hasUnfinishedRequests { for o in engine.step() where o.finished { last = o } }
        #expect(model.corruptions == 0)
        return last!.outputs.map(\.tokenIDs)
    }

    /// Runs requests arriving at their steps; checks the block manager after every step.
    static func runMixed(_ requests: [Request], engine: LLMEngine, aborts: [String: Int] = [:]) -> [String: RequestOutput] {
        var finished: [String: RequestOutput] = [:]
        var step = 0
        var pending = requests.sorted { $0.arrivalStep < $1.arrivalStep }
        while !pending.isEmpty || engine.hasUnfinishedRequests {
            while let r = pending.first, r.arrivalStep <= step {
                pending.removeFirst()
                do {
                    try engine.addRequest(id: r.id, promptTokenIDs: r.prompt, params: r.params, priority: r.priority)
                } catch {
                    Issue.record("\(r.id) refused: \(error)")
                }
            }
            for (id, at) in aborts where at == step {
                if let o = engine.abort(id) { finished[id] = o }
            }
            for o in engine.step() where o.finished { finished[o.requestID] = o }
            let problems = engine.scheduler.manager.validate()
            if !problems.isEmpty {
                Issue.record("step \(step): \(problems.prefix(3))")
                break
            }
            step += 1
            if step > 20_000 { Issue.record("no progress"); break }
        }
        return finished
    }

    static func randomRequests(count: Int, seed: UInt64, maxPrompt: Int, maxTokens: Int, spread: Int) -> [Request] {
        var rng = SeededGenerator(seed: seed)
        let stems = (0..<3).map { _ in (0..<maxPrompt).map { _ in Int.random(in: 3..<MockModel.vocabSize, using: &rng) } }
        return (0..<count).map { i in
            let stem = stems[Int.random(in: 0..<stems.count, using: &rng)]
            var prompt = Array(stem.prefix(Int.random(in: 0...(maxPrompt * 3 / 4), using: &rng)))
            prompt += (0..<Int.random(in: 1...8, using: &rng)).map { _ in Int.random(in: 3..<MockModel.vocabSize, using: &rng) }
            prompt = Array(prompt.prefix(maxPrompt))
            var p = SamplingParams(maxTokens: Int.random(in: 1...maxTokens, using: &rng), temperature: 0,
                                   ignoreEOS: Bool.random(using: &rng))
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: p.n = 2
            case 1:
                p.n = 2
                p.temperature = 0.8
                p.seed = UInt64(i)
            case 2:
                p.temperature = 1.0
                p.seed = UInt64(1000 + i)
            case 3:
                // Beams fork, drop and copy on write every step.
                p.useBeamSearch = true
                p.n = 2
                p.bestOf = 2
            default: break
            }
            return Request(id: "r\(i)", prompt: prompt, params: p, arrivalStep: Int.random(in: 0...spread, using: &rng))
        }
    }

    static func checkSameAsAlone(_ requests: [Request], _ results: [String: RequestOutput], blockSize: Int) {
        for r in requests {
            guard let got = results[r.id] else { Issue.record("\(r.id) never finished"); continue }
            #expect(got.outputs.count == r.params.n)
            let want = alone(r, blockSize: blockSize)
            #expect(got.outputs.map(\.tokenIDs) == want, "\(r.id): batched \(got.outputs.map(\.tokenIDs)) alone \(want)")
        }
    }

    @Test(arguments: [
        (PreemptionMode.recompute, true, true), (.swap, true, true), (.auto, true, true),
        (.recompute, false, true), (.swap, false, false), (.auto, true, false),
    ])
    func continuousBatchingUnderPressureMatchesRunningAlone(mode: PreemptionMode, prefixCaching: Bool, chunked: Bool) {
        let bs = 4
        let config = SchedulerConfig(maxNumBatchedTokens: 24, maxNumSeqs: 8, enableChunkedPrefill: chunked,
                                     enablePrefixCaching: prefixCaching, preemptionMode: mode)
        let (engine, model) = Self.makeEngine(blocks: 36, blockSize: bs, scheduler: config)
        let requests = Self.randomRequests(count: 28, seed: 42 + UInt64(mode.rawValue.count) + (prefixCaching ? 1 : 0), maxPrompt: 36, maxTokens: 24, spread: 30)
        let results = Self.runMixed(requests, engine: engine)
        #expect(model.corruptions == 0)
        Self.checkSameAsAlone(requests, results, blockSize: bs)
        let s = engine.statistics
        #expect(s.preemptions > 0, "the budget should force preemption")
        switch mode {
        case .recompute: #expect(s.preemptionsSwap == 0)
        case .swap: #expect(s.preemptionsSwap > 0)
        case .auto: break
        }
        if prefixCaching { #expect(s.prefixCacheHits > 0) }
        #expect(s.kvBlocksUsed == 0 && s.kvBlocksUsed + s.kvBlocksFree + s.kvBlocksCached == s.kvBlocksTotal)
        #expect(s.swapBlocksUsed == 0)
        #expect(s.numRunning + s.numWaiting + s.numSwapped == 0)
    }

    @Test func manySeedsOfRandomTraffic() {
        for seed in 0..<6 as Range<UInt64> {
            let config = SchedulerConfig(maxNumBatchedTokens: 16, maxNumSeqs: 6, preemptionMode: seed % 2 == 0 ? .auto : .swap)
            let (engine, model) = Self.makeEngine(blocks: 40, blockSize: 2, swapBlocks: 40, scheduler: config)
            let requests = Self.randomRequests(count: 20, seed: 100 + seed, maxPrompt: 20, maxTokens: 12, spread: 15)
            let results = Self.runMixed(requests, engine: engine)
            #expect(model.corruptions == 0)
            Self.checkSameAsAlone(requests, results, blockSize: 2)
            #expect(engine.statistics.kvBlocksUsed == 0)
        }
    }

    @Test func abortAtAnyMomentFreesEverything() {
        let config = SchedulerConfig(maxNumBatchedTokens: 16, maxNumSeqs: 6, preemptionMode: .swap)
        let (engine, _) = Self.makeEngine(blocks: 24, blockSize: 4, scheduler: config)
        let requests = Self.randomRequests(count: 16, seed: 7, maxPrompt: 24, maxTokens: 20, spread: 4)
        var aborts: [String: Int] = [:]
        for (i, r) in requests.enumerated() where i % 3 == 0 { aborts[r.id] = i % 7 }
        let results = Self.runMixed(requests, engine: engine, aborts: aborts)
        for (id, _) in aborts {
            if let o = results[id], o.outputs.contains(where: { $0.finishReason == .abort }) { continue }
            // An abort may come after the request already finished on its own.
            #expect(results[id]?.finished == true)
        }
        #expect(results.values.contains { $0.outputs.contains { $0.finishReason == .abort } })
        #expect(engine.abort("no-such-request") == nil)
        let s = engine.statistics
        #expect(s.kvBlocksUsed == 0 && s.swapBlocksUsed == 0)
        #expect(engine.scheduler.manager.validate().isEmpty)
    }

    @Test func refusesWhatCanNeverFitWithAClearError() throws {
        let (engine, _) = Self.makeEngine(blocks: 8, blockSize: 4, scheduler: SchedulerConfig())
        #expect(engine.maxModelLen == 32)
        #expect(throws: EngineError.promptTooLong(request: "long", tokens: 40, limit: 32)) {
            try engine.addRequest(id: "long", promptTokenIDs: Array(repeating: 5, count: 40), params: SamplingParams())
        }
        var wide = SamplingParams(maxTokens: 20)
        wide.n = 4
        #expect(throws: EngineError.requestTooLarge(request: "wide", blocksNeeded: 24, blocksInCache: 8)) {
            try engine.addRequest(id: "wide", promptTokenIDs: [3, 4, 5, 6], params: wide)
        }
        #expect(throws: EngineError.emptyPrompt("empty")) { try engine.addRequest(id: "empty", promptTokenIDs: [], params: SamplingParams()) }
        #expect(throws: EngineError.tokenOutOfRange(request: "oov", token: 999)) {
            try engine.addRequest(id: "oov", promptTokenIDs: [999], params: SamplingParams())
        }
        try engine.addRequest(id: "a", promptTokenIDs: [3], params: SamplingParams())
        #expect(throws: EngineError.duplicateRequest("a")) { try engine.addRequest(id: "a", promptTokenIDs: [3], params: SamplingParams()) }
        // A lone sequence may grow to the whole cache and then ends with `length`.
        let (small, _) = Self.makeEngine(blocks: 4, blockSize: 4, scheduler: SchedulerConfig())
        try small.addRequest(id: "grow", promptTokenIDs: [3, 4, 5], params: SamplingParams(maxTokens: nil, temperature: 0, ignoreEOS: true))
        var last: RequestOutput?
        while small.hasUnfinishedRequests { for o in small.step() where o.finished { last = o } }
        #expect(last?.outputs[0].finishReason == .length)
        #expect(last?.outputs[0].tokenIDs.count == 16 - 3)
    }

    @Test func stopTokensMinTokensAndMaxTokens() throws {
        let prompt = [10, 11, 12]
        let first = MockModel.greedyNext(context: prompt)
        let (engine, _) = Self.makeEngine(blocks: 32, blockSize: 4, scheduler: SchedulerConfig())
        try engine.addRequest(id: "stop", promptTokenIDs: prompt, params: SamplingParams(maxTokens: 10, temperature: 0, ignoreEOS: true, stopTokenIDs: [first]))
        try engine.addRequest(id: "min", promptTokenIDs: prompt, params: SamplingParams(maxTokens: 10, minTokens: 3, temperature: 0, ignoreEOS: true, stopTokenIDs: [first]))
        try engine.addRequest(id: "len", promptTokenIDs: prompt, params: SamplingParams(maxTokens: 5, temperature: 0, ignoreEOS: true))
        var done: [String: RequestOutput] = [:]
        while engine.hasUnfinishedRequests { for o in engine.step() where o.finished { done[o.requestID] = o } }
        #expect(done["stop"]?.outputs[0].tokenIDs == [first])
        #expect(done["stop"]?.outputs[0].stopReason == .token(first))
        #expect(done["stop"]?.outputs[0].finishReason == .stop)
        #expect(done["min"]!.outputs[0].tokenIDs.count >= 3)
        #expect(!done["min"]!.outputs[0].tokenIDs.prefix(3).contains(first))
        #expect(done["len"]?.outputs[0].finishReason == .length)
        #expect(done["len"]?.outputs[0].tokenIDs.count == 5)
    }

    @Test func incrementalOutputsAddUpToTheFinalOne() throws {
        let (engine, _) = Self.makeEngine(blocks: 32, blockSize: 4, scheduler: SchedulerConfig(maxNumBatchedTokens: 4))
        var p = SamplingParams(maxTokens: 9, temperature: 0, ignoreEOS: true)
        p.n = 2
        try engine.addRequest(id: "x", promptTokenIDs: Array(3..<14), params: p)
        var pieces: [[Int]] = [[], []]
        var final: RequestOutput?
        while engine.hasUnfinishedRequests {
            for o in engine.step() {
                for c in o.outputs { pieces[c.index] += c.newTokenIDs }
                if o.finished { final = o }
            }
        }
        #expect(final?.outputs.map(\.tokenIDs) == pieces)
        #expect(pieces[0].count == 9 && pieces[0] == pieces[1]) // greedy completions agree
    }

    @Test func prefixCacheSkipsPrefillForSharedPrompts() throws {
        let bs = 4
        let (engine, model) = Self.makeEngine(blocks: 200, blockSize: bs, scheduler: SchedulerConfig(maxNumBatchedTokens: 512))
        let prefix = Array(repeating: 0, count: 40).indices.map { 3 + ($0 * 7) % 50 }
        let requests = (0..<8).map { i in
            Request(id: "q\(i)", prompt: prefix + [3 + i, 4 + i, 5 + i], params: SamplingParams(maxTokens: 6, temperature: 0, ignoreEOS: true), arrivalStep: 0)
        }
        let results = Self.runMixed(requests, engine: engine)
        #expect(model.corruptions == 0)
        Self.checkSameAsAlone(requests, results, blockSize: bs)
        let s = engine.statistics
        // All eight are admitted in the same step; the seven later ones share the first one's
        // blocks as it computes them.
        #expect(s.prefixCacheHits == 7 * 40)
        #expect(s.promptTokens == 43 + 7 * 3)
        #expect(results["q5"]?.numCachedTokens == 40)
        // Later, after everyone finished, the cached blocks still serve a new request.
        try engine.addRequest(id: "later", promptTokenIDs: prefix + [9], params: SamplingParams(maxTokens: 2, temperature: 0))
        while engine.hasUnfinishedRequests { _ = engine.step() }
        #expect(engine.statistics.prefixCacheHits == 8 * 40)
        // Different salts never share.
        try engine.addRequest(id: "salted", promptTokenIDs: prefix + [9], params: SamplingParams(maxTokens: 2, temperature: 0),
                              cacheSalt: "tenant-b")
        while engine.hasUnfinishedRequests { _ = engine.step() }
        #expect(engine.statistics.prefixCacheHits == 8 * 40)
    }

    @Test func chunkedPrefillNeverStallsRunningDecodes() throws {
        let (engine, _) = Self.makeEngine(blocks: 64, blockSize: 4, scheduler: SchedulerConfig(maxNumBatchedTokens: 8))
        try engine.addRequest(id: "decode", promptTokenIDs: [3, 4], params: SamplingParams(maxTokens: 20, temperature: 0, ignoreEOS: true))
        _ = engine.step()
        try engine.addRequest(id: "long", promptTokenIDs: Array(repeating: 7, count: 60), params: SamplingParams(maxTokens: 2, temperature: 0, ignoreEOS: true))
        // While the long prompt is prefilled in chunks, the running request gets a token every step.
        for _ in 0..<8 {
            let outs = engine.step()
            #expect(outs.contains { $0.requestID == "decode" && $0.outputs[0].newTokenIDs.count == 1 })
        }
    }

    @Test func priorityPolicyServesLowerValuesFirst() throws {
        let config = SchedulerConfig(maxNumSeqs: 1, policy: .priority)
        let (engine, _) = Self.makeEngine(blocks: 64, blockSize: 4, scheduler: config)
        for (i, prio) in [5, 1, 3].enumerated() {
            try engine.addRequest(id: "p\(prio)", promptTokenIDs: [3 + i], params: SamplingParams(maxTokens: 3, temperature: 0, ignoreEOS: true), priority: prio)
        }
        var order: [String] = []
        while engine.hasUnfinishedRequests { for o in engine.step() where o.finished { order.append(o.requestID) } }
        #expect(order == ["p1", "p3", "p5"])
    }
}
