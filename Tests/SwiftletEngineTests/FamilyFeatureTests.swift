import Foundation
import Testing
import SwiftletKernels
import SwiftletModels
import SwiftletFormats
@testable import SwiftletEngine

/// What the Qwen3, Llama 3.x and Phi-3 fixtures are made to exercise, read back from their
/// configurations, and Phi-3's long LongRoPE factors, which the greedy cases (all shorter than
/// the original context) never reach.
@Suite(.serialized) struct FamilyFeatureTests {
    /// `long_case` of the Phi-3 reference: a prompt longer than original_max_position_embeddings
    /// and transformers' top-5 logprobs at its last positions, from one uncached pass.
    struct LongCase: Decodable {
        let prompt_ids: [Int]
        let last_positions: Int
        let top5: [[[Double]]]
    }

    struct LongReference: Decodable { let long_case: LongCase }

    static func config(_ family: String) throws -> ModelConfig {
        try ModelConfig(directory: URL(fileURLWithPath: FamilyFidelityTests.directory(family)))
    }

    @Test func qwen3HeadDimensionComesFromTheConfig() throws {
        let c = try Self.config("qwen3")
        #expect(c.architecture == "qwen3" && c.headDim == 24 && c.hiddenSize / c.numHeads == 16)
        #expect(!c.attentionBias && !c.tieWordEmbeddings && c.slidingWindow == nil)
    }

    @Test func llama3ScalingIsReadAndTyingFollowsTheConfig() throws {
        for family in ["llama3", "llama3-tied"] {
            let c = try Self.config(family)
            let s = try #require(c.ropeScaling)
            #expect(s.kind == .llama3 && s.factor == 8 && s.lowFreqFactor == 1 && s.highFreqFactor == 4)
            #expect(s.originalMaxPositionEmbeddings == 64)
            #expect(c.tieWordEmbeddings == (family == "llama3-tied"))
            #expect(c.eosTokenIds == [1, 4])
        }
        // The fixture's head has 8 frequencies: the fastest kept, two on the ramp, the rest divided by 8.
        let c = try Self.config("llama3")
        var plain = c
        plain.ropeScaling = nil
        let scaled = RotaryEmbedding.inverseFrequencies(config: c), base = RotaryEmbedding.inverseFrequencies(config: plain)
        let ratios = zip(base, scaled).map { Double($0 / $1) }
        #expect(abs(ratios[0] - 1) < 1e-6)
        #expect(ratios[1] > 1.01 && ratios[2] < 7.99 && ratios[1] < ratios[2])
        #expect(ratios[3...].allSatisfy { abs($0 - 8) < 1e-5 })
    }

    @Test func phi3LongRopeAndPartialRotaryAreRead() throws {
        let c = try Self.config("phi3")
        #expect(c.headDim == 16 && c.ropeDimensions == 12 && c.slidingWindow == 24)
        let s = try #require(c.ropeScaling)
        #expect(s.kind == .longrope && s.originalMaxPositionEmbeddings == 4096)
        #expect(s.shortFactor.count == 6 && s.longFactor.count == 6 && s.shortFactor != s.longFactor)
        // transformers' default: sqrt(1 + ln(16384 / 4096) / ln(4096)).
        #expect(abs(s.attentionFactor - (1 + log(4.0) / log(4096.0)).squareRoot()) < 1e-12)
    }

    /// LongRoPE factor lists must cover the rotated dimensions; a damaged list is a load error
    /// naming the problem, not an out-of-bounds read.
    @Test func malformedLongRopeIsRejected() throws {
        let url = URL(fileURLWithPath: FamilyFidelityTests.directory("phi3")).appendingPathComponent("config.json")
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        func parse(_ change: (inout [String: Any]) -> Void) throws -> ModelConfig {
            var j = original, rope = original["rope_parameters"] as! [String: Any]
            change(&rope)
            j["rope_parameters"] = rope
            return try ModelConfig(configJSON: JSONSerialization.data(withJSONObject: j))
        }
        #expect(try parse { _ in }.ropeScaling?.kind == .longrope)
        #expect(try parse { $0["rope_type"] = "su" }.ropeScaling == parse { _ in }.ropeScaling)
        var error = #expect(throws: ModelLoadError.self) { try parse { $0["long_factor"] = [1.0, 2.0] } }
        #expect(error?.description.contains("longrope needs 6 short and long factors") == true, "\(String(describing: error))")
        error = #expect(throws: ModelLoadError.self) { try parse { $0["short_factor"] = ["a", 1, 1, 1, 1, 1] } }
        #expect(error?.description.contains("short_factor' is not a list of numbers") == true, "\(String(describing: error))")
        // An explicit attention factor wins over the one derived from the context lengths.
        #expect(try parse { $0["attention_factor"] = 1.5 }.ropeScaling?.attentionFactor == 1.5)
    }

    /// A cache that holds more than the original context rotates every position with the long
    /// factors, as transformers does for a prompt that long in one pass; whole and in chunks.
    @Test func phi3LongFactorsMatchTransformersBeyondTheOriginalContext() throws {
        let url = URL(fileURLWithPath: FamilyFidelityTests.directory("phi3")).appendingPathComponent("reference.json")
        let k = try JSONDecoder().decode(LongReference.self, from: Data(contentsOf: url)).long_case
        let loaded = try loadModel(path: FamilyFidelityTests.directory("phi3"), precision: .fp32)
        let c = loaded.config
        let original = Int(try #require(c.ropeScaling).originalMaxPositionEmbeddings)
        let n = k.prompt_ids.count, bs = 16
        #expect(n > original)
        for chunk in [n, 1100] {
            let cache = try PagedKVCache(numBlocks: (n + bs - 1) / bs, blockSize: bs, numLayers: c.numLayers,
                                         numKVHeads: c.numKVHeads, headDim: c.headDim, dtype: .fp32)
            let table = (0..<Int32(cache.numBlocks)).map { $0 }
            var logits: [Float] = []
            var done = 0
            while done < n {
                let m = min(chunk, n - done)
                var meta = AttentionMetadata.build(sequences: [(m, done, table)], blockSize: bs)
                // Logits for the positions of the reference that fall in this chunk.
                meta.logitsIndices = (done..<(done + m)).filter { $0 >= n - k.last_positions }.map { Int32($0 - done) }
                logits += loaded.model.forward(tokens: k.prompt_ids[done..<(done + m)].map(Int32.init), metadata: meta, cache: cache)
                done += m
            }
            let V = c.vocabSize
            #expect(logits.count == k.last_positions * V)
            var maxError = 0.0
            for (j, expected) in k.top5.enumerated() {
                let row = logits[(j * V)..<((j + 1) * V)].map(Double.init)
                let top = row.max()!
                let logSum = top + log(row.reduce(0) { $0 + exp($1 - top) })
                for pair in expected { maxError = max(maxError, abs(row[Int(pair[0])] - logSum - pair[1])) }
                #expect(row.firstIndex(of: top) == Int(expected[0][0]), "chunk \(chunk), position \(n - k.last_positions + j)")
            }
            print("phi3 long case (\(n) tokens, prefill chunk \(chunk)): max top-5 logprob error \(String(format: "%.2e", maxError))")
            #expect(maxError < 1e-3, "chunk \(chunk): max logprob error \(maxError)")
        }
    }

    /// LongRoPE's factors follow the engine's max model length (vLLM's `max_model_len`), not what
    /// the cache holds: over the same cache of 4800 tokens, an engine of max model length 4096
    /// (the original context) rotates with the short factors and gives transformers' tokens and
    /// logprobs on the reference cases (which stay inside the original context, where transformers
    /// uses them); an engine of the default length (the model's 16384) rotates with the long ones,
    /// so those logprobs move, and its next token after the long prompt is transformers'.
    @Test func phi3FactorsFollowTheEnginesMaxModelLength() throws {
        let dir = FamilyFidelityTests.directory("phi3")
        let loaded = try loadModel(path: dir, precision: .fp32)
        let c = loaded.config
        let original = Int(try #require(c.ropeScaling).originalMaxPositionEmbeddings)
        let cache = try PagedKVCache(numBlocks: 300, blockSize: 16, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                     headDim: c.headDim, dtype: .fp32)
        #expect(cache.numBlocks * cache.blockSize > original)
        let reference = try FamilyFidelityTests.reference("phi3")
        func maxError(maxModelLen: Int?) throws -> Double {
            var worst = 0.0
            for k in reference.cases {
                let steps = try engineGreedy(model: loaded.model, cache: cache, prompt: k.prompt_ids, maxTokens: k.greedy_ids.count,
                                             topK: 8, maxModelLen: maxModelLen)
                if maxModelLen == original { #expect(steps.map(\.token) == k.greedy_ids, "max model len \(original)") }
                for (step, expected) in zip(steps, k.top5) { worst = max(worst, topLogprobError(expected, step.topLogprobs)) }
            }
            return worst
        }
        let short = try maxError(maxModelLen: original), long = try maxError(maxModelLen: nil)
        #expect(short < 1e-3, "max model len \(original): max logprob error \(short)")
        #expect(long > 1e-2, "default max model len: the long factors should move the logprobs, max difference \(long)")

        let url = URL(fileURLWithPath: dir).appendingPathComponent("reference.json")
        let k = try JSONDecoder().decode(LongReference.self, from: Data(contentsOf: url)).long_case
        let next = try #require(try engineGreedy(model: loaded.model, cache: cache, prompt: k.prompt_ids, maxTokens: 1, topK: 8).first)
        let expected = try #require(k.top5.last)
        #expect(next.token == Int(expected[0][0]))
        let longCaseError = topLogprobError(expected, next.topLogprobs)
        #expect(longCaseError < 1e-3, "long prompt: max logprob error \(longCaseError)")
        print("phi3 through the engine: max top-5 logprob error \(String(format: "%.2e", short)) at max model len \(original) (short factors), \(String(format: "%.2e", long)) from the same reference at the default (long factors); long prompt \(String(format: "%.2e", longCaseError))")
    }
}

extension FamilyFeatureTests {
    /// What llama.cpp's converter makes of the Llama 3, Qwen3 and Phi-3 fixtures: Llama 3 scaling
    /// as a tensor of frequency divisors and Q/K permuted into adjacent pairs, Qwen3's head
    /// dimension as key_length, the head tied when output.weight is left out, Phi-3's LongRoPE.
    @Test func ggufConversionsCarryTheFamilyFeatures() throws {
        for family in ["llama3", "llama3-tied"] {
            let c = try loadModel(path: FamilyFidelityTests.gguf(family), precision: .fp32).config
            #expect(c.architecture == "llama" && c.ropeScaling == nil && c.ropeFrequencyFactorsTensor == "rope_freqs.weight")
            #expect(c.ropeStyle == .adjacentPairs && c.tieWordEmbeddings == (family == "llama3-tied"))
        }
        let q = try loadModel(path: FamilyFidelityTests.gguf("qwen3"), precision: .fp32).config
        #expect(q.architecture == "qwen3" && q.headDim == 24 && q.ropeStyle == .halves && !q.tieWordEmbeddings)
        // Phi-3: LongRoPE from tensors and metadata, equal to what config.json says.
        let p = try loadModel(path: FamilyFidelityTests.gguf("phi3"), precision: .fp32).config
        let d = try Self.config("phi3")
        #expect(p.architecture == "phi3" && p.ropeDimensions == 12 && p.slidingWindow == 24)
        let ps = try #require(p.ropeScaling), ds = try #require(d.ropeScaling)
        #expect(ps.kind == .longrope && ps.originalMaxPositionEmbeddings == ds.originalMaxPositionEmbeddings)
        #expect(zip(ps.shortFactor + ps.longFactor, ds.shortFactor + ds.longFactor).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(abs(ps.attentionFactor - ds.attentionFactor) < 1e-6)
    }
}
