import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// Sampling controls through the whole engine: seeded streams that do not depend on the batch,
/// logprobs and prompt logprobs against a direct forward pass, best_of, parallel samples sharing
/// their prompt's blocks, and stop strings split across tokens.
@Suite(.serialized) struct SamplingEngineTests {
    /// Its own copy: a model's scratch buffers serve one forward pass at a time, and suites run in parallel.
    static let loaded = try! loadModel(path: TestPaths.stories260K, precision: .fp32)

    static func run(_ engine: LLMEngine) -> [String: RequestOutput] {
        var done: [String: RequestOutput] = [:]
        while engine.hasUnfinishedRequests { for o in engine.step() where o.finished { done[o.requestID] = o } }
        return done
    }

    static func storiesEngine(blocks: Int = 256, scheduler: SchedulerConfig = SchedulerConfig()) throws -> LLMEngine {
        try LLMEngine(model: loaded.model, cache: EngineModelTests.makeCache(blocks: blocks, blockSize: 16),
                      tokenizer: loaded.tokenizer, config: EngineConfig(scheduler: scheduler, swapSpaceBytes: 0))
    }

    @Test func seededRequestGivesTheSameTokensAloneAndInABatchOf31() throws {
        let tokenizer = Self.loaded.tokenizer
        var target = SamplingParams(maxTokens: 40, temperature: 0.9, topP: 0.92, topK: 40, minP: 0.02,
                                    repetitionPenalty: 1.1, seed: 77, ignoreEOS: true)
        target.logprobs = 2
        let prompt = tokenizer.encode("Once upon a time, there was a little girl named Lily.")

        let alone = try Self.storiesEngine()
        try alone.addRequest(id: "target", promptTokenIDs: prompt, params: target)
        let want = Self.run(alone)["target"]!.outputs[0]

        let batch = try Self.storiesEngine(scheduler: SchedulerConfig(maxNumBatchedTokens: 64))
        var rng = SeededGenerator(seed: 5)
        for i in 0..<31 {
            if i == 15 { try batch.addRequest(id: "target", promptTokenIDs: prompt, params: target) }
            var p = SamplingParams(maxTokens: Int.random(in: 10...50, using: &rng), temperature: Double.random(in: 0...1.2, using: &rng),
                                   topP: [1, 0.9, 0.5].randomElement(using: &rng)!, topK: [0, 10, 100].randomElement(using: &rng)!,
                                   seed: UInt64(i), ignoreEOS: true)
            if i % 4 == 0 { p.n = 2 }
            if i % 5 == 0 { p.presencePenalty = 0.5 }
            let text = EngineModelTests.prompts[i % EngineModelTests.prompts.count]
            try batch.addRequest(id: "other\(i)", promptTokenIDs: tokenizer.encode(text), params: p)
        }
        let got = Self.run(batch)["target"]!.outputs[0]
        #expect(got.tokenIDs == want.tokenIDs)
        #expect(got.tokenIDs.count == 40)
        #expect(got.logprobs?.count == 40)
        #expect(abs(got.cumulativeLogprob - want.cumulativeLogprob) < 1e-3)

        // Another seed takes another path: the comparison above is not vacuous.
        target.seed = 78
        let other = try Self.storiesEngine()
        try other.addRequest(id: "target", promptTokenIDs: prompt, params: target)
        #expect(Self.run(other)["target"]!.outputs[0].tokenIDs != want.tokenIDs)
    }

    @Test func logprobsAndPromptLogprobsMatchADirectForwardPass() throws {
        let model = Self.loaded.model
        let prompt = Self.loaded.tokenizer.encode("Once upon a time, there was a little girl named Lily. She loved to play")
        var params = SamplingParams.greedy(maxTokens: 8, ignoreEOS: true)
        params.logprobs = 3
        params.promptLogprobs = 2
        // Small steps chunk the prompt; a first request puts the prompt in the prefix cache, which
        // the second must not use for its prompt logprobs.
        let engine = try Self.storiesEngine(scheduler: SchedulerConfig(maxNumBatchedTokens: 7))
        try engine.addRequest(id: "warm", promptTokenIDs: prompt, params: .greedy(maxTokens: 2))
        _ = Self.run(engine)
        try engine.addRequest(id: "x", promptTokenIDs: prompt, params: params)
        let out = Self.run(engine)["x"]!
        let completion = out.outputs[0]

        let all = prompt + completion.tokenIDs
        let cache = EngineModelTests.makeCache(blocks: 16, blockSize: 16)
        let table = (0..<Int32((all.count + 15) / 16)).map { $0 }
        let logits = model.forward(tokens: all.map { Int32($0) },
                                   metadata: .build(sequences: [(all.count, 0, table)], blockSize: 16, allLogits: true), cache: cache)
        let V = model.config.vocabSize
        func reference(_ position: Int) -> [Double] {
            let row = logits[(position * V)..<((position + 1) * V)].map(Double.init)
            let m = row.max()!
            let z = m + log(row.reduce(0) { $0 + exp($1 - m) })
            return row.map { $0 - z }
        }
        let pl = try #require(out.promptLogprobs)
        #expect(pl.count == prompt.count && pl[0] == nil)
        for j in 1..<prompt.count {
            let ref = reference(j - 1)
            let e = try #require(pl[j])
            #expect(e.chosen.tokenID == prompt[j])
            #expect(abs(Double(e.chosen.logprob) - ref[prompt[j]]) < 1e-4, "prompt position \(j)")
            #expect(e.chosen.rank == 1 + ref.filter { $0 > ref[prompt[j]] }.count)
            #expect(e.top.map(\.tokenID) == Array(ref.indices.sorted { ref[$0] > ref[$1] }.prefix(2)))
        }
        let lps = try #require(completion.logprobs)
        #expect(lps.count == completion.tokenIDs.count)
        var sum = 0.0
        for (i, e) in lps.enumerated() {
            let ref = reference(prompt.count - 1 + i)
            #expect(e.chosen.tokenID == completion.tokenIDs[i])
            #expect(e.top.count == 3 && e.top[0].tokenID == e.chosen.tokenID) // greedy takes the best
            #expect(abs(Double(e.chosen.logprob) - ref[e.chosen.tokenID]) < 1e-4, "output position \(i)")
            sum += Double(e.chosen.logprob)
        }
        #expect(abs(completion.cumulativeLogprob - sum) < 1e-6)
    }

    @Test func stopStringsSplitAcrossTokensAreCaught() throws {
        let tokenizer = Self.loaded.tokenizer
        let prompt = tokenizer.encode("Once upon a time")
        let engine = try Self.storiesEngine()
        try engine.addRequest(id: "free", promptTokenIDs: prompt, params: .greedy(maxTokens: 30, ignoreEOS: true))
        let free = Self.run(engine)["free"]!.outputs[0]
        // A stop string made of the end of one token and the start of the next.
        var pieces: [String] = []
        var previous = ""
        for i in 1...free.tokenIDs.count {
            let text = tokenizer.decode(prompt + Array(free.tokenIDs.prefix(i)))
            pieces.append(String(text.dropFirst(previous.count)))
            previous = text
        }
        let i = try #require((3..<pieces.count - 1).first { pieces[$0].count >= 2 && pieces[$0 + 1].count >= 2 })
        let stop = String(pieces[i].suffix(2)) + String(pieces[i + 1].prefix(2))
        let full = free.text
        let cut = try #require(full.range(of: stop))
        for include in [false, true] {
            var params = SamplingParams.greedy(maxTokens: 30, ignoreEOS: true)
            params.stop = [stop]
            params.includeStopStringInOutput = include
            try engine.addRequest(id: "stop\(include)", promptTokenIDs: prompt, params: params)
            var streamed = ""
            var final: RequestOutput?
            while engine.hasUnfinishedRequests {
                for o in engine.step() {
                    streamed += o.outputs[0].newText
                    if o.finished { final = o }
                }
            }
            let c = try #require(final?.outputs[0])
            let want = String(full[..<(include ? cut.upperBound : cut.lowerBound)])
            #expect(c.text == want)
            #expect(streamed == want) // the stream never showed part of the stop string
            #expect(c.finishReason == .stop && c.stopReason == .string(stop))
        }
    }

    // MARK: On the mock model

    static func mockEngine(blocks: Int = 256, blockSize: Int = 4) -> (LLMEngine, MockModel) {
        EngineSchedulingTests.makeEngine(blocks: blocks, blockSize: blockSize, scheduler: SchedulerConfig())
    }

    static func mockLogprob(context: [Int], token: Int) -> Double {
        let l = MockModel.logits(context: context).map(Double.init)
        let m = l.max()!
        return l[token] - (m + log(l.reduce(0) { $0 + exp($1 - m) }))
    }

    @Test func bestOfReturnsTheCompletionsWithTheHighestCumulativeLogprob() throws {
        let prompt = [5, 9, 11, 13]
        var all = SamplingParams(n: 5, maxTokens: 6, temperature: 1.0, seed: 3, ignoreEOS: true)
        let (e1, _) = Self.mockEngine()
        try e1.addRequest(id: "all", promptTokenIDs: prompt, params: all)
        let five = Self.run(e1)["all"]!.outputs
        #expect(five.count == 5)
        for c in five {
            // Kept for best_of ranking only; plain n = 5 does not compute it.
            #expect(c.cumulativeLogprob == 0)
        }
        all.n = 2
        all.bestOf = 5
        let (e2, _) = Self.mockEngine()
        try e2.addRequest(id: "best", promptTokenIDs: prompt, params: all)
        var outputsSeen = 0
        var final: RequestOutput?
        while e2.hasUnfinishedRequests {
            for o in e2.step() {
                outputsSeen += 1
                if o.finished { final = o }
            }
        }
        #expect(outputsSeen == 1) // only the end knows which completions are best
        let best = try #require(final?.outputs)
        #expect(best.map(\.index) == [0, 1])
        // The same five samples (same seed), ranked by their summed logprobs.
        let scored = five.map { c -> (tokens: [Int], logprob: Double) in
            var context = prompt
            var sum = 0.0
            for t in c.tokenIDs {
                sum += Self.mockLogprob(context: context, token: t)
                context.append(t)
            }
            return (c.tokenIDs, sum)
        }.sorted { $0.logprob > $1.logprob }
        #expect(best.map(\.tokenIDs) == scored.prefix(2).map(\.tokens))
        for (b, s) in zip(best, scored) { #expect(abs(b.cumulativeLogprob - s.logprob) < 1e-4) }
        #expect(scored[0].tokens != scored[4].tokens)
    }

    @Test func parallelSamplesShareThePromptBlocksUntilTheyWrite() throws {
        let prompt = Array(3..<33) // 30 tokens: 7 full blocks of 4 and one holding 2
        var outputs: [Bool: [[Int]]] = [:]
        for sharing in [true, false] {
            let (engine, model) = Self.mockEngine()
            engine.sharesForkedBlocks = sharing
            try engine.addRequest(id: "p", promptTokenIDs: prompt, params: SamplingParams(n: 4, maxTokens: 12, temperature: 1, seed: 8, ignoreEOS: true))
            _ = engine.step() // prefill, fork, first tokens
            let m = engine.scheduler.manager
            #expect(m.pool.usedCount == 8 && m.logicalBlocks == 32)
            _ = engine.step() // each writes its first token's KV into the shared last block
            if sharing {
                // Three copy the partly filled block; the last holder keeps it. Full blocks stay shared.
                #expect(engine.scheduler.manager.pool.usedCount == 8 + 3)
            } else {
                #expect(engine.scheduler.manager.pool.usedCount == 32)
            }
            #expect(engine.scheduler.manager.validate().isEmpty)
            var last: RequestOutput?
            while engine.hasUnfinishedRequests { for o in engine.step() where o.finished { last = o } }
            #expect(model.corruptions == 0)
            outputs[sharing] = last!.outputs.map(\.tokenIDs)
            #expect(engine.statistics.kvBlocksUsed == 0)
        }
        #expect(outputs[true] == outputs[false])
        #expect(Set(outputs[true]!).count > 1)
    }
}
