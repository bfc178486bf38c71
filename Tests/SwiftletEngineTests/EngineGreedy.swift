import Foundation
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// One greedily chosen token and the log-probabilities of the best candidates at its position.
struct GreedyStep {
    let token: Int
    let topLogprobs: [(token: Int, logprob: Float)]

    /// The argmax of one row of logits and, if asked, its `topK` best log-probabilities: the
    /// reference the teacher-forced checks read straight off `forward`.
    static func pick(logits: [Float], topK: Int) -> GreedyStep {
        var best = 0
        var bestValue = -Float.infinity
        for (i, v) in logits.enumerated() where v > bestValue { best = i; bestValue = v }
        guard topK > 0 else { return GreedyStep(token: best, topLogprobs: []) }
        var sum: Double = 0
        for v in logits { sum += exp(Double(v - bestValue)) }
        let logZ = Double(bestValue) + log(sum)
        let top = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(topK)
        return GreedyStep(token: best, topLogprobs: top.map { ($0, Float(Double(logits[$0]) - logZ)) })
    }
}

/// How far `top` (token, logprob) pairs are from one position of a reference's top logprobs
/// (`[token, logprob]` pairs, as the fixtures hold them): the largest difference over the
/// reference's tokens, infinity when one of them is not in `top` at all.
func topLogprobError(_ reference: [[Double]], _ top: [(token: Int, logprob: Float)]) -> Double {
    let mine = Dictionary(top.map { ($0.token, Double($0.logprob)) }, uniquingKeysWith: { a, _ in a })
    return reference.reduce(0) { worst, pair in max(worst, mine[Int(pair[0])].map { abs($0 - pair[1]) } ?? .infinity) }
}

/// Greedy decoding of one prompt through the engine, as the CLI runs it: `maxTokens` tokens
/// (EOS ignored), prompts chunked `prefillChunk` tokens at a time, each position's `topK` best
/// logprobs, in an engine of max model length `maxModelLen` (`--max-model-len`; nil: the default).
func engineGreedy(model: any CausalLanguageModel, cache: PagedKVCache, prompt: [Int], maxTokens: Int, topK: Int = 0,
                  prefillChunk: Int = 512, maxModelLen: Int? = nil) throws -> [GreedyStep] {
    try engineGreedy(model: model, cache: cache, prompts: [(prompt, maxTokens)], topK: topK, prefillChunk: prefillChunk,
                     maxModelLen: maxModelLen)[0]
}

/// Greedy decoding of several prompts, all queued at once in one engine (so that they prefill,
/// chunked, beside one another's decodes, and decode as one batch): each prompt's steps, in the
/// order given. A sequence's logits do not depend on its batch, so each equals its run alone;
/// in fp32 a batch reads the weights once a step for all prompts rather than once for each.
func engineGreedy(model: any CausalLanguageModel, cache: PagedKVCache, prompts: [(prompt: [Int], maxTokens: Int)], topK: Int = 0,
                  prefillChunk: Int = 512, maxModelLen: Int? = nil) throws -> [[GreedyStep]] {
    let config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: prefillChunk, maxNumSeqs: max(1, prompts.count),
                                                         maxModelLen: maxModelLen),
                              swapSpaceBytes: 0)
    let engine = try LLMEngine(model: model, cache: cache, tokenizer: nil, config: config)
    for (n, p) in prompts.enumerated() {
        let params = SamplingParams(maxTokens: p.maxTokens, temperature: 0, ignoreEOS: true, logprobs: topK > 0 ? topK : nil)
        try engine.addRequest(id: "greedy-\(n)", promptTokenIDs: p.prompt, params: params)
    }
    var finals: [String: RequestOutput] = [:]
    while engine.hasUnfinishedRequests {
        for o in engine.step() where o.finished { finals[o.requestID] = o }
    }
    return try prompts.indices.map { n in
        let final = finals["greedy-\(n)"]
        if let e = final?.error { throw EngineError.invalidConfiguration(e) }
        guard let out = final?.outputs.first else { return [] }
        return out.tokenIDs.enumerated().map { i, t in
            let top = out.logprobs.map { lp in lp[i].top.map { ($0.tokenID, $0.logprob) } } ?? []
            return GreedyStep(token: t, topLogprobs: top)
        }
    }
}
