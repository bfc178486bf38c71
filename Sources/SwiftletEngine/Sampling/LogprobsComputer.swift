import Foundation
import SwiftletKernels

/// Log-probabilities of one row of logits: the normaliser once, then any token's logprob and rank
/// and the best `k` tokens without sorting the row (each a pass of the row kernels).
public struct LogprobsComputer {
    public let logits: UnsafeBufferPointer<Float>
    /// log(sum(exp(logits))), accumulated in double precision (the exp's last bits depend on the kernel level).
    public let logNormalizer: Double

    public init(logits: UnsafeBufferPointer<Float>) {
        self.logits = logits
        logNormalizer = SamplingKernels.logSumExp(logits)
    }

    public func logprob(_ token: Int) -> Double { Double(logits[token]) - logNormalizer }

    /// 1 for the most likely token; ties share the better rank (as vLLM counts).
    public func rank(_ token: Int) -> Int {
        SamplingKernels.countGreater(logits, than: logits[token]) + 1
    }

    /// The chosen token's logprob and rank, and the `k` most likely tokens, most likely first.
    public func position(chosen: Int, top k: Int) -> PositionLogprobs {
        let best = k > 0 ? StandardSampler.topIndices(logits, count: k) : []
        let top = best.enumerated().map { TokenLogprob(tokenID: $1, logprob: Float(logprob($1)), rank: $0 + 1) }
        let rank = best.firstIndex(of: chosen).map { $0 + 1 } ?? rank(chosen)
        return PositionLogprobs(chosen: TokenLogprob(tokenID: chosen, logprob: Float(logprob(chosen)), rank: rank), top: top)
    }
}
