import Foundation

/// Log-probabilities of one row of logits: the normaliser once, then any token's logprob and rank
/// and the best `k` tokens without sorting the row.
public struct LogprobsComputer {
    public let logits: UnsafeBufferPointer<Float>
    /// log(sum(exp(logits))), accumulated in double precision.
    public let logNormalizer: Double

    public init(logits: UnsafeBufferPointer<Float>) {
        self.logits = logits
        let top = StandardSampler.argmax(logits).value
        var sum = 0.0
        if top.isFinite {
            for x in logits { sum += Double(exp(x - top)) }
        }
        logNormalizer = top.isFinite ? Double(top) + log(sum) : -.infinity
    }

    public func logprob(_ token: Int) -> Double { Double(logits[token]) - logNormalizer }

    /// 1 for the most likely token; ties share the better rank (as vLLM counts).
    public func rank(_ token: Int) -> Int {
        let x = logits[token]
        var above = 0
        for v in logits where v > x { above += 1 }
        return above + 1
    }

    /// The chosen token's logprob and rank, and the `k` most likely tokens, most likely first.
    public func position(chosen: Int, top k: Int) -> PositionLogprobs {
        let best = k > 0 ? StandardSampler.topIndices(logits, count: k) : []
        let top = best.enumerated().map { TokenLogprob(tokenID: $1, logprob: Float(logprob($1)), rank: $0 + 1) }
        let rank = best.firstIndex(of: chosen).map { $0 + 1 } ?? rank(chosen)
        return PositionLogprobs(chosen: TokenLogprob(tokenID: chosen, logprob: Float(logprob(chosen)), rank: rank), top: top)
    }
}
