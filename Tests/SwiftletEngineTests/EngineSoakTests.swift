import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// A long seeded run on a real model (stories260K) under a KV budget far too small for its load:
/// requests arrive at random steps, some are aborted, they fork (`n`, `best_of`), search beams and
/// share prompt prefixes, and both kinds of preemption happen. After every step the engine's
/// invariants hold (reference counts, free queue, prefix-cache map, swap tier, queues); at the end
/// the pool is whole and every completed request's text equals the text it gets alone.
@Suite(.serialized) struct EngineSoakTests {
    /// A model instance of this suite's own: a model's scratch buffers serve one forward pass at a
    /// time, and other suites run beside this one.
    static let loaded = try! loadModel(path: TestPaths.stories260K, precision: .fp32)

    static func makeCache(blocks: Int, blockSize: Int) -> PagedKVCache {
        let c = loaded.config
        return try! PagedKVCache(numBlocks: blocks, blockSize: blockSize, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                 headDim: c.headDim, dtype: .fp32)
    }

    struct Plan {
        var id: String
        var prompt: [Int]
        var params: SamplingParams
        var arrivalStep: Int
        /// Aborted at this step if still unfinished.
        var abortStep: Int?
    }

    static let stems = [
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun.",
        "Tom and his dog went to the park. They saw a big red ball under a tree, and",
        "One day, a little bird flew to the top of the hill to look at the sea.",
    ]
    static let endings = [" One day,", " She", " The", " He was happy because", " Then", " They", " Mom said"]

    /// Seeded plans: prompts are a stem cut at a random word plus an ending (so they share
    /// prefixes of different lengths), or a short fresh prompt.
    static func plans(count: Int, seed: UInt64, spread: Int) -> [Plan] {
        let tokenizer = Self.loaded.tokenizer
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { i in
            var text: String
            if Int.random(in: 0..<5, using: &rng) == 0 {
                text = endings[Int.random(in: 0..<endings.count, using: &rng)].trimmingCharacters(in: .whitespaces)
            } else {
                let words = stems[Int.random(in: 0..<stems.count, using: &rng)].split(separator: " ")
                text = words.prefix(Int.random(in: 2...words.count, using: &rng)).joined(separator: " ")
                text += endings[Int.random(in: 0..<endings.count, using: &rng)]
            }
            var p = SamplingParams(maxTokens: Int.random(in: 4...24, using: &rng), temperature: 0,
                                   ignoreEOS: Int.random(in: 0..<3, using: &rng) > 0)
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: p.n = 2 // greedy completions fork and stay equal
            case 1:
                p.n = 2
                p.temperature = 0.9
                p.seed = UInt64(i)
            case 2:
                p.bestOf = 3
                p.temperature = 1.0
                p.seed = UInt64(500 + i)
            case 3:
                p.useBeamSearch = true
                p.n = 2
                p.bestOf = 2
                p.ignoreEOS = true
            case 4:
                p.temperature = 0.7
                p.seed = UInt64(1000 + i)
            default: break
            }
            let arrival = Int.random(in: 0...spread, using: &rng)
            let abort = Int.random(in: 0..<8, using: &rng) == 0 ? arrival + Int.random(in: 0...12, using: &rng) : nil
            return Plan(id: "r\(i)", prompt: tokenizer.encode(text), params: p, arrivalStep: arrival, abortStep: abort)
        }
    }

    /// The request alone in a roomy engine with the same block size: the reference texts.
    static func alone(_ plan: Plan, blockSize: Int) throws -> [String] {
        let config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: 512, maxNumSeqs: 8), swapSpaceBytes: 0)
        let engine = try LLMEngine(model: Self.loaded.model,
                                   cache: Self.makeCache(blocks: 512 / blockSize, blockSize: blockSize),
                                   tokenizer: Self.loaded.tokenizer, config: config)
        try engine.addRequest(id: plan.id, promptTokenIDs: plan.prompt, params: plan.params)
        var last: RequestOutput?
        while engine.hasUnfinishedRequests { for o in engine.step() where o.finished { last = o } }
        return try #require(last).outputs.map(\.text)
    }

    /// One soak run's engine: a cache of `blocks` blocks with a swap tier of `swapBlocks`.
    /// Runs `plans` through `engine`: arrivals and aborts at their steps, the engine's invariants
    /// checked after the aborts and after every step, and `afterStep` called after each step.
    /// Returns what finished, what was aborted, the steps taken, and the first broken invariant.
    static func drive(_ engine: LLMEngine, plans: [Plan], afterStep: (LLMEngine) -> Void = { _ in }) throws
        -> (finished: [String: RequestOutput], aborted: [String: RequestOutput], steps: Int, broken: String?) {
        var finished: [String: RequestOutput] = [:]
        var aborted: [String: RequestOutput] = [:]
        var pending = plans.sorted { $0.arrivalStep < $1.arrivalStep }
        var step = 0
        var broken: String?
        while broken == nil && (!pending.isEmpty || engine.hasUnfinishedRequests) {
            while let p = pending.first, p.arrivalStep <= step {
                pending.removeFirst()
                try engine.addRequest(id: p.id, promptTokenIDs: p.prompt, params: p.params)
            }
            for p in plans where p.abortStep == step {
                if let o = engine.abort(p.id) { aborted[p.id] = o }
            }
            broken = engine.validate().first.map { "after aborts at step \(step): \($0)" }
            for o in engine.step() where o.finished {
                if finished[o.requestID] != nil { broken = "\(o.requestID) finished twice" }
                finished[o.requestID] = o
            }
            if broken == nil { broken = engine.validate().first.map { "after step \(step): \($0)" } }
            afterStep(engine)
            step += 1
            if step > 50_000 { broken = "no progress after \(step) steps" }
        }
        return (finished, aborted, step, broken)
    }

    struct Setup: Sendable, CustomTestStringConvertible {
        var blockSize: Int
        var blocks: Int
        var swapBlocks: Int
        var maxNumBatchedTokens: Int
        var chunkedPrefill: Bool
        var seed: UInt64
        var testDescription: String {
            "\(blocks)x\(blockSize) blocks, swap \(swapBlocks), budget \(maxNumBatchedTokens)\(chunkedPrefill ? " chunked" : ""), seed \(seed)"
        }
    }

    // Each cache holds about 200 tokens while 16 requests of up to 60 tokens (and their forks) run
    // at once; the small swap tiers fill, so groups of several sequences are swapped until the
    // tier is full and recomputed after, as single sequences always are under `auto`.
    static let setups = [
        Setup(blockSize: 4, blocks: 48, swapBlocks: 12, maxNumBatchedTokens: 32, chunkedPrefill: true, seed: 0x50A4),
        Setup(blockSize: 8, blocks: 26, swapBlocks: 8, maxNumBatchedTokens: 64, chunkedPrefill: false, seed: 0x50A5),
        Setup(blockSize: 16, blocks: 14, swapBlocks: 6, maxNumBatchedTokens: 24, chunkedPrefill: true, seed: 0x50A6),
        Setup(blockSize: 4, blocks: 52, swapBlocks: 40, maxNumBatchedTokens: 48, chunkedPrefill: true, seed: 0x50A7),
    ]

    @Test(arguments: setups)
    func soakUnderPreemptionKeepsInvariantsAndOutputs(setup: Setup) throws {
        let started = Date()
        let plans = Self.plans(count: 1200, seed: setup.seed, spread: 3000)
        let cache = Self.makeCache(blocks: setup.blocks, blockSize: setup.blockSize)
        let scheduler = SchedulerConfig(maxNumBatchedTokens: setup.maxNumBatchedTokens, maxNumSeqs: 16,
                                        enableChunkedPrefill: setup.chunkedPrefill, preemptionMode: .auto)
        let config = EngineConfig(scheduler: scheduler,
                                  swapSpaceBytes: setup.swapBlocks * 2 * Self.loaded.config.numLayers * cache.blockBytes)
        let engine = try LLMEngine(model: Self.loaded.model, cache: cache, tokenizer: Self.loaded.tokenizer,
                                   config: config)
        let (finished, aborted, step, broken) = try Self.drive(engine, plans: plans)
        #expect(broken == nil, "\(broken ?? "")")
        let s = engine.statistics
        print("soak: \(plans.count) requests, \(step) steps, \(finished.count) finished, \(aborted.count) aborted, "
              + "preemptions \(s.preemptionsSwap) swap / \(s.preemptionsRecompute) recompute, "
              + "prefix hits \(s.prefixCacheHits)/\(s.prefixCacheQueries) tokens, evictions \(s.kvEvictions), "
              + String(format: "%.1f s", Date().timeIntervalSince(started)))
        #expect(s.preemptionsSwap > 0 && s.preemptionsRecompute > 0)
        #expect(s.prefixCacheHits > 0)
        #expect(!aborted.isEmpty)
        // The pool is whole: nothing held in either tier, and every block free or cached.
        #expect(s.kvBlocksUsed == 0 && s.swapBlocksUsed == 0)
        #expect(s.kvBlocksFree + s.kvBlocksCached == s.kvBlocksTotal)
        #expect(engine.validate().isEmpty)

        var compared = 0
        for p in plans {
            if let o = finished[p.id] {
                #expect(o.error == nil, "\(p.id): \(o.error ?? "")")
                let want = try Self.alone(p, blockSize: setup.blockSize)
                #expect(o.outputs.map(\.text) == want, "\(p.id) \(p.params): batched \(o.outputs.map(\.text)) alone \(want)")
                compared += 1
            } else if let o = aborted[p.id] {
                // What an aborted single greedy completion produced is the start of its text alone.
                guard p.params.isGreedy, p.params.numSequences == 1, let got = o.outputs.first else { continue }
                let want = try Self.alone(p, blockSize: setup.blockSize)[0]
                #expect(want.hasPrefix(got.text), "\(p.id): aborted with \(got.text), alone \(want)")
            } else {
                Issue.record("\(p.id) neither finished nor was aborted")
            }
        }
        #expect(compared > plans.count / 2)
        print("soak: \(compared) finished requests equal to alone, " + String(format: "%.1f s in all", Date().timeIntervalSince(started)))
    }
}
