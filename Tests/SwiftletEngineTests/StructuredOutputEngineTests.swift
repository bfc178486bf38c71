import Foundation
import Testing
import SwiftletTestSupport
import SwiftletFormats
import SwiftletGrammar
import SwiftletKernels
import SwiftletModels
import SwiftletTokenizers
@testable import SwiftletEngine

/// Constrained decoding through the whole engine on stories260K and its real tokenizer: every
/// completion follows its constraint whatever the sampling controls, forks and preemption do; a
/// complete constraint ends the completion with `stop`; the greedy shortcut (mask only when the
/// best token is forbidden) gives the tokens of the full mask; logprobs are the masked row's.
@Suite(.serialized) struct StructuredOutputEngineTests {
    static let loaded = try! loadModel(path: TestPaths.stories260K, precision: .fp32)
    static var tokenizer: any Tokenizer { loaded.tokenizer }
    static let prompt = "Once upon a time, there was a little girl named Lily."
    /// Bounded, so a completion always completes within 60 tokens (each token adds a byte or more);
    /// outputs are checked against the same language as a regular expression of Foundation's.
    static let sentence = "[A-Z][a-z]{1,8}( [a-z]{1,8}){2,4}[.!]"
    static let sentenceGrammar = GrammarSpec.gbnf(#"root ::= [A-Z] [a-z]{1,8} (" " [a-z]{1,8}){2,4} [.!]"#)

    static func engine(blocks: Int = 256, blockSize: Int = 16, scheduler: SchedulerConfig = SchedulerConfig()) throws -> LLMEngine {
        try LLMEngine(model: loaded.model, cache: EngineModelTests.makeCache(blocks: blocks, blockSize: blockSize),
                      tokenizer: loaded.tokenizer, config: EngineConfig(scheduler: scheduler, swapSpaceBytes: 0))
    }

    static func run(_ engine: LLMEngine) -> [String: RequestOutput] {
        var done: [String: RequestOutput] = [:]
        while engine.hasUnfinishedRequests { for o in engine.step() where o.finished { done[o.requestID] = o } }
        return done
    }

    static func generate(_ params: SamplingParams, prompt: String = prompt) throws -> (RequestOutput, EngineStatistics) {
        let e = try engine()
        try e.addRequest(id: "r", promptTokenIDs: tokenizer.encode(prompt), params: params)
        return (run(e)["r"]!, e.statistics)
    }

    static func fullMatch(_ pattern: String, _ text: String) -> Bool {
        text.range(of: "^(?:" + pattern + ")$", options: .regularExpression) != nil
    }

    @Test func choiceEndsWithStopWhenTheChoiceIsComplete() throws {
        let choices = ["a happy dog", "a sad cat", "the big moon"]
        for ignoreEOS in [false, true] {
            let p = SamplingParams(maxTokens: 40, temperature: 0, ignoreEOS: ignoreEOS, structuredOutput: .choice(choices))
            let c = try Self.generate(p).0.outputs[0]
            #expect(choices.contains(c.text), "\(c.text)")
            #expect(c.finishReason == .stop)
        }
        // Unconstrained, the model writes something else: the constraint is what made the choice.
        let free = try Self.generate(.greedy(maxTokens: 8)).0.outputs[0].text
        #expect(!choices.contains(where: { free.hasPrefix($0) }), "\(free)")
    }

    @Test func sampledCompletionsAllMatchTheRegex() throws {
        var p = SamplingParams(n: 8, maxTokens: 60, temperature: 1.0, seed: 11, structuredOutput: Self.sentenceGrammar)
        p.topK = 0
        let (out, stats) = try Self.generate(p)
        #expect(out.outputs.count == 8)
        for c in out.outputs {
            #expect(Self.fullMatch(Self.sentence, c.text), "\(c.text)")
            #expect(c.finishReason == .stop)
        }
        #expect(Set(out.outputs.map(\.text)).count > 1)
        #expect(stats.structuredTokens == out.outputs.reduce(0) { $0 + $1.tokenIDs.count })
        #expect(stats.grammarMasks <= stats.structuredTokens)
        #expect(stats.grammarCompiles == 1 && stats.grammarSeconds > 0)
    }

    @Test func greedyShortcutGivesTheTokensOfTheFullMask() throws {
        let spec = GrammarSpec.gbnf(#"root ::= [a-z ,]{10,60} "." "#)
        let (fast, fastStats) = try Self.generate(SamplingParams(maxTokens: 70, temperature: 0, structuredOutput: spec))
        // Logprobs need the whole masked row, so this run masks every token.
        let (full, fullStats) = try Self.generate(SamplingParams(maxTokens: 70, temperature: 0, logprobs: 0, structuredOutput: spec))
        #expect(fast.outputs[0].tokenIDs == full.outputs[0].tokenIDs)
        #expect(Self.fullMatch("[a-z ,]{10,60}\\.", fast.outputs[0].text), "\(fast.outputs[0].text)")
        #expect(fullStats.grammarMasks == fullStats.structuredTokens)
        #expect(fastStats.grammarMasks < fastStats.structuredTokens)
        // The prompt's own continuation starts with a capital, which the grammar forbids: the
        // shortcut did have to fall back to the mask at least once.
        #expect(fastStats.grammarMasks > 0)
    }

    @Test(arguments: [true, false])
    func temperatureSamplingDrawsFromTheMaskedDistribution(rejection: Bool) throws {
        // The comma the model wants after the prompt, or words it does not want: some first
        // draws are kept, the others are forbidden.
        let spec = GrammarSpec.gbnf(#"root ::= "," | " cat" | " dog" | " sun" | " red""#)
        let prompt = Self.tokenizer.encode("Once upon a time")
        // At temperature 1 the masked row's logprobs are the distribution to sample from.
        let exact = try Self.engine()
        try exact.addRequest(id: "p", promptTokenIDs: prompt, params: SamplingParams(maxTokens: 1, temperature: 1, logprobs: 20,
                                                                                        structuredOutput: spec))
        let top = try #require(Self.run(exact)["p"]?.outputs[0].logprobs?.first?.top)
        let probability = Dictionary(uniqueKeysWithValues: top.filter { $0.logprob > -.infinity }.map { ($0.tokenID, exp(Double($0.logprob))) })
        #expect(abs(probability.values.reduce(0, +) - 1) < 1e-3)

        let e = try Self.engine()
        e.samplesConstrainedRowsByRejection = rejection
        for r in 0..<40 {
            try e.addRequest(id: "s\(r)", promptTokenIDs: prompt, params: SamplingParams(n: 100, maxTokens: 1, temperature: 1, seed: UInt64(r),
                                                                                          structuredOutput: spec))
        }
        var counts: [Int: Int] = [:]
        for o in Self.run(e).values { for c in o.outputs { counts[c.tokenIDs[0], default: 0] += 1 } }
        let total = 4000.0
        #expect(Set(counts.keys).isSubset(of: Set(probability.keys)), "\(counts)")
        for (token, p) in probability {
            let expected = p * total
            let got = Double(counts[token] ?? 0)
            // Five standard deviations of a binomial count, plus one for the tiny ones.
            #expect(abs(got - expected) <= 5 * (expected * (1 - p)).squareRoot() + 1, "token \(token): \(got) drawn, \(expected) expected")
        }
        let s = e.statistics
        if rejection {
            // Both ways were taken: first draws kept, and forbidden ones drawn again from the mask.
            #expect(s.grammarMasks > 0 && s.grammarMasks < s.structuredTokens, "\(s.grammarMasks) masks for \(s.structuredTokens) tokens")
        } else {
            #expect(s.grammarMasks == s.structuredTokens)
        }
    }

    @Test func logprobsAreThoseOfTheMaskedRow() throws {
        let spec = GrammarSpec.choice(["yes", "no", "maybe"])
        let (out, _) = try Self.generate(SamplingParams(maxTokens: 10, temperature: 0, logprobs: 20, structuredOutput: spec))
        let c = out.outputs[0]
        #expect(c.logprobs?.count == c.tokenIDs.count)
        let grammar = try #require(try Self.engine().structuredOutputCompiler).compile(spec)
        var matcher = GrammarMatcher(grammar)
        for (i, position) in (c.logprobs ?? []).enumerated() {
            let finite = position.top.filter { $0.logprob > -.infinity }
            for t in finite { #expect(matcher.allows(t.tokenID), "position \(i): token \(t.tokenID) is forbidden") }
            // Few tokens are allowed at any point of this choice: the top 20 hold all the mass.
            let mass = finite.reduce(0.0) { $0 + exp(Double($1.logprob)) }
            #expect(abs(mass - 1) < 1e-3, "position \(i): \(mass)")
            #expect(position.chosen.rank == 1)
            let accepted = matcher.accept(position.chosen.tokenID)
            #expect(accepted)
        }
        #expect(["yes", "no", "maybe"].contains(c.text) && c.finishReason == .stop)
    }

    @Test func parallelSamplesBestOfAndBeamsFollowTheConstraint() throws {
        let spec = Self.sentenceGrammar
        let parallel = try Self.generate(SamplingParams(n: 3, bestOf: 5, maxTokens: 60, temperature: 0.8, seed: 3,
                                                        structuredOutput: spec)).0
        var beams = SamplingParams(n: 2, bestOf: 3, maxTokens: 60, temperature: 0, structuredOutput: spec)
        beams.useBeamSearch = true
        let beam = try Self.generate(beams).0
        #expect(parallel.outputs.count == 3 && beam.outputs.count == 2)
        for c in parallel.outputs + beam.outputs {
            #expect(Self.fullMatch(Self.sentence, c.text), "\(c.text)")
            #expect(c.finishReason == .stop)
        }
    }

    @Test func penaltiesAndLogitBiasCannotBreakTheConstraint() throws {
        let tokenizer = Self.tokenizer
        // Push hard towards the tokens the model would write anyway, which the grammar forbids.
        let favoured = tokenizer.encode(" Once upon a time there was", addSpecialTokens: false, parseSpecial: false)
        var p = SamplingParams(n: 4, maxTokens: 60, temperature: 1.2, repetitionPenalty: 1.3, presencePenalty: 1,
                               frequencyPenalty: 0.5, seed: 9, structuredOutput: .gbnf(#"root ::= [0-9]{1,4} (" " [0-9]{1,4}){1,3}"#))
        for t in favoured { p.logitBias[t] = 100 }
        p.minTokens = 3
        for c in try Self.generate(p).0.outputs {
            #expect(Self.fullMatch("[0-9]{1,4}( [0-9]{1,4}){1,3}", c.text), "\(c.text)")
            #expect(c.tokenIDs.count >= 3)
        }
    }

    @Test func stopStringsAndStreamedTextWithAConstraint() throws {
        let e = try Self.engine()
        var p = SamplingParams(maxTokens: 60, temperature: 0, structuredOutput: .gbnf(#"root ::= [a-z ]{5,50} ".""#))
        p.stop = [" the"]
        try e.addRequest(id: "s", promptTokenIDs: Self.tokenizer.encode(Self.prompt), params: p)
        var streamed = ""
        var final: CompletionOutput?
        while e.hasUnfinishedRequests {
            for o in e.step() {
                streamed += o.outputs[0].newText
                if o.finished { final = o.outputs[0] }
            }
        }
        let c = try #require(final)
        #expect(streamed == c.text)
        #expect(!c.text.contains(" the"))
        // Either the stop string cut it, or it completed its sentence.
        #expect(c.stopReason == .string(" the") || Self.fullMatch("[a-z ]{5,50}\\.", c.text), "\(c.text)")
    }

    @Test func preemptionByRecomputeKeepsEachConstraint() throws {
        let tokenizer = Self.tokenizer
        let specs: [GrammarSpec] = (0..<8).map { i in
            i % 2 == 0 ? .gbnf(#"root ::= [a-z]{2,6} (" " [a-z]{2,6}){3,5} ".""#) : .choice(["the cat sat on the mat", "a dog ran in the big park", "lily and tom"])
        }
        let prompts = EngineModelTests.prompts.prefix(8).map { tokenizer.encode($0) }
        var alone: [[Int]] = []
        for (i, p) in prompts.enumerated() {
            let e = try Self.engine()
            try e.addRequest(id: "a", promptTokenIDs: p, params: SamplingParams(maxTokens: 40, temperature: 0, structuredOutput: specs[i]))
            alone.append(Self.run(e)["a"]!.outputs[0].tokenIDs)
        }
        // 24 blocks of 4 tokens cannot hold eight requests of 20-60 tokens at once.
        let e = try Self.engine(blocks: 24, blockSize: 4,
                                scheduler: SchedulerConfig(maxNumBatchedTokens: 24, maxNumSeqs: 8, preemptionMode: .recompute))
        for (i, p) in prompts.enumerated() {
            try e.addRequest(id: "r\(i)", promptTokenIDs: p, params: SamplingParams(maxTokens: 40, temperature: 0, structuredOutput: specs[i]))
        }
        let out = Self.run(e)
        for i in prompts.indices { #expect(out["r\(i)"]?.outputs[0].tokenIDs == alone[i], "r\(i)") }
        #expect(e.statistics.preemptionsRecompute > 0)
    }

    @Test func aConstraintThatDoesNotCompileIsRefused() throws {
        let e = try Self.engine()
        let prompt = Self.tokenizer.encode("Hi")
        for bad: GrammarSpec in [.regex("(ab"), .gbnf("root ::= missing"), .jsonSchema("{\"type\": 5}")] {
            #expect {
                try e.addRequest(id: "bad", promptTokenIDs: prompt, params: SamplingParams(structuredOutput: bad))
            } throws: { error in
                guard case EngineError.invalidParameters(_, let why)? = error as? EngineError else { return false }
                return why.contains("structured output")
            }
        }
        #expect(!e.hasUnfinishedRequests)
        // Without a tokenizer there is no vocabulary to constrain.
        let bare = try LLMEngine(model: Self.loaded.model, cache: EngineModelTests.makeCache(blocks: 16, blockSize: 16), tokenizer: nil)
        #expect(throws: EngineError.self) {
            try bare.addRequest(id: "x", promptTokenIDs: prompt, params: SamplingParams(structuredOutput: .choice(["a"])))
        }
    }

    @Test func theOfflineAPICarriesTheConstraint() throws {
        let llm = try LLM(loaded: Self.loaded, cache: EngineModelTests.makeCache(blocks: 64, blockSize: 16),
                          config: EngineConfig(swapSpaceBytes: 0))
        let outs = try llm.generate(prompts: ["Lily wanted", "The dog"],
                                    params: SamplingParams(maxTokens: 30, temperature: 0, structuredOutput: .choice(["red", "green", "blue"])))
        for o in outs { #expect(["red", "green", "blue"].contains(o.outputs[0].text), "\(o.outputs[0].text)") }
    }
}
