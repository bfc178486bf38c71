import SwiftletKernels

/// The request-dependent changes to one row of logits before sampling, in vLLM's order: the
/// `minTokens` mask, logit bias, then the repetition, frequency and presence penalties.
///
/// Temperature and truncation are the sampler's; they do not depend on the sequence's history.
public enum LogitsProcessor {
    /// Whether `apply` would change anything for these parameters at this length.
    public static func isIdentity(_ params: SamplingParams, outputCount: Int) -> Bool {
        params.logitBias.isEmpty && params.repetitionPenalty == 1 && params.presencePenalty == 0
            && params.frequencyPenalty == 0 && outputCount >= params.minTokens
    }

    /// Applies the controls to `logits` in place.
    /// - Parameters:
    ///   - tokens: the sequence so far, prompt first.
    ///   - promptLength: how many of `tokens` are the prompt (penalised only by `repetitionPenalty`).
    ///   - stopTokens: ids that end a sequence (EOS and stop tokens), masked while too few tokens
    ///     were generated.
    public static func apply(to logits: UnsafeMutableBufferPointer<Float>, params: SamplingParams, tokens: [Int],
                             promptLength: Int, stopTokens: Set<Int>) {
        let v = logits.count
        if tokens.count - promptLength < params.minTokens {
            for t in stopTokens where t >= 0 && t < v { logits[t] = -.infinity }
        }
        for (t, bias) in params.logitBias where t >= 0 && t < v { logits[t] += Float(bias) }
        // CTRL's repetition penalty once per distinct token of prompt and output (dividing a
        // positive logit and multiplying a negative one both make the token less likely), then the
        // frequency and presence penalties over the output; a per-thread table in C replaces the
        // hash set and dictionary that dominated this for long prompts.
        if params.repetitionPenalty != 1 || params.frequencyPenalty != 0 || params.presencePenalty != 0 {
            SamplingKernels.applyPenalties(to: logits, tokens: tokens, promptLength: min(promptLength, tokens.count),
                                           repetition: Float(params.repetitionPenalty),
                                           frequency: Float(params.frequencyPenalty), presence: Float(params.presencePenalty))
        }
    }
}
