import SwiftletGrammar

/// How the finished hypotheses of a beam search decide that the search is over (Hugging Face's
/// `early_stopping`).
public enum BeamEarlyStopping: Sendable, Equatable {
    /// Stop as soon as `beamWidth` hypotheses are finished (`early_stopping=True`).
    case always
    /// Stop when the best running beam, scored at its current length, cannot beat the worst kept
    /// hypothesis (`early_stopping=False`, the default).
    case heuristic
    /// Stop only when no running beam could ever beat the worst kept hypothesis, given the longest
    /// length it may still reach (`early_stopping="never"`).
    case never
}

/// How to generate the completions of one request: the controls of vLLM's `SamplingParams` and of
/// the OpenAI API.
///
/// The order in which the sampler applies them follows vLLM: logit bias, then the repetition,
/// frequency and presence penalties (on raw logits), then temperature, then top-k, top-p and min-p.
/// Logprobs are reported from the model's raw distribution (log-softmax of the logits before any
/// of these), as vLLM does by default.
public struct SamplingParams: Sendable, Equatable {
    /// Completions to return.
    public var n: Int
    /// Completions to generate, of which the `n` with the highest cumulative logprob are returned;
    /// nil means `n`. With beam search it is the beam width.
    public var bestOf: Int?
    /// 0 picks the most likely token (greedy); above 0 samples from the softened distribution.
    public var temperature: Double
    /// Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches
    /// `topP`. 1 turns it off.
    public var topP: Double
    /// Keep only the `topK` most likely tokens; 0 or -1 turns it off.
    public var topK: Int
    /// Drop tokens whose probability is below `minP` times the most likely token's. 0 turns it off.
    public var minP: Double
    /// Above 1 discourages tokens already in the prompt or the output (CTRL-style: positive logits
    /// are divided by it, negative ones multiplied). 1 turns it off.
    public var repetitionPenalty: Double
    /// Subtracted once from the logit of every token that already appears in the output.
    public var presencePenalty: Double
    /// Subtracted from a token's logit once per time it appears in the output.
    public var frequencyPenalty: Double
    /// Added to the logits of the given token ids before anything else.
    public var logitBias: [Int: Double]
    /// Seed of the request's random stream; nil draws one from the engine's generator.
    public var seed: UInt64?
    /// Strings that end a completion; the text stops before them unless `includeStopStringInOutput`.
    public var stop: [String]
    /// Token ids that end a completion (kept in its token ids, like EOS).
    public var stopTokenIDs: [Int]
    public var includeStopStringInOutput: Bool
    /// Keep generating past the model's end-of-sequence tokens.
    public var ignoreEOS: Bool
    /// Most tokens to generate per completion; nil runs until a stop or the model's length limit.
    public var maxTokens: Int?
    /// Tokens to generate before EOS or a stop token may end a completion.
    public var minTokens: Int
    /// Report the logprob of each generated token and of this many most likely alternatives
    /// (0 reports only the chosen token's); nil reports none.
    public var logprobs: Int?
    /// Like `logprobs`, for the prompt's tokens (the first has none).
    public var promptLogprobs: Int?
    public var skipSpecialTokens: Bool
    /// Produce text as well as token ids (needs the engine to have a tokenizer).
    public var detokenize: Bool
    /// Beam search instead of sampling; the beam width is `bestOf ?? n`.
    public var useBeamSearch: Bool
    /// Beam scores are the cumulative logprob divided by length ** `lengthPenalty`.
    public var lengthPenalty: Double
    public var earlyStopping: BeamEarlyStopping
    /// What the output must match (a JSON schema, any JSON object, a regular expression, one of a
    /// list of strings, a GBNF grammar), or nil for free text. Tokens the constraint forbids are
    /// masked before the logits processors and the sampler, so every completion follows it; one
    /// whose constraint is complete (nothing may follow) ends with finish reason `stop`. Reported
    /// logprobs come from the masked distribution, as vLLM's do. The engine compiles each distinct
    /// constraint once (`LLMEngine.grammarCompiler`) and refuses a request whose constraint does
    /// not compile.
    public var structuredOutput: GrammarSpec?

    /// The most tokens a single position may ask to see alternatives for (`logprobs`, `prompt_logprobs`).
    public static let maxLogprobs = 20

    public init(n: Int = 1, bestOf: Int? = nil, maxTokens: Int? = 16, minTokens: Int = 0, temperature: Double = 1.0,
                topP: Double = 1.0, topK: Int = 0, minP: Double = 0, repetitionPenalty: Double = 1.0,
                presencePenalty: Double = 0, frequencyPenalty: Double = 0, logitBias: [Int: Double] = [:],
                seed: UInt64? = nil, ignoreEOS: Bool = false, stopTokenIDs: [Int] = [], stop: [String] = [],
                includeStopStringInOutput: Bool = false, logprobs: Int? = nil, promptLogprobs: Int? = nil,
                skipSpecialTokens: Bool = true, detokenize: Bool = true, useBeamSearch: Bool = false,
                lengthPenalty: Double = 1.0, earlyStopping: BeamEarlyStopping = .heuristic,
                structuredOutput: GrammarSpec? = nil) {
        self.n = n
        self.bestOf = bestOf
        self.maxTokens = maxTokens
        self.minTokens = minTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.logitBias = logitBias
        self.seed = seed
        self.ignoreEOS = ignoreEOS
        self.stopTokenIDs = stopTokenIDs
        self.stop = stop
        self.includeStopStringInOutput = includeStopStringInOutput
        self.logprobs = logprobs
        self.promptLogprobs = promptLogprobs
        self.skipSpecialTokens = skipSpecialTokens
        self.detokenize = detokenize
        self.useBeamSearch = useBeamSearch
        self.lengthPenalty = lengthPenalty
        self.earlyStopping = earlyStopping
        self.structuredOutput = structuredOutput
    }

    /// Greedy decoding of up to `maxTokens` tokens.
    public static func greedy(maxTokens: Int?, ignoreEOS: Bool = false) -> SamplingParams {
        SamplingParams(maxTokens: maxTokens, temperature: 0, ignoreEOS: ignoreEOS)
    }

    /// Picks the single most likely token each step (temperature 0, no beam search).
    public var isGreedy: Bool { temperature == 0 && !useBeamSearch }
    /// Sequences generated for the request: `bestOf` if set, else `n`.
    public var numSequences: Int { bestOf ?? n }
    /// The beam width when `useBeamSearch`.
    public var beamWidth: Int { bestOf ?? n }
    /// True when some control changes the distribution beyond temperature (penalties, bias, truncation).
    public var needsFullSampler: Bool {
        topP < 1 || (topK > 0) || minP > 0 || repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0
            || !logitBias.isEmpty
    }
    /// Whether the engine must normalise every row (a pass of exponentials over the vocabulary): for
    /// reported logprobs, for ranking best_of completions and for beam search. Plain greedy and
    /// sampling skip it, so `cumulativeLogprob` is only kept for such requests.
    public var needsLogprobs: Bool { logprobs != nil || numSequences > n || useBeamSearch }
    /// Whether outputs can be streamed before the request ends: not when only the best completions
    /// are returned (best_of, beam search), which is known only at the end.
    public var streamsPartialOutputs: Bool { !useBeamSearch && numSequences == n }

    /// Why these parameters cannot be used, or nil. Messages name the OpenAI/vLLM parameter.
    public func problem(vocabSize: Int? = nil) -> String? {
        if n < 1 { return "n must be at least 1, got \(n)" }
        if let b = bestOf {
            if b < n { return "best_of must be greater than or equal to n, got n=\(n) and best_of=\(b)" }
        }
        if let m = maxTokens, m < 1 { return "max_tokens must be at least 1, got \(m)" }
        if minTokens < 0 { return "min_tokens must be greater than or equal to 0, got \(minTokens)" }
        if let m = maxTokens, minTokens > m { return "min_tokens must be less than or equal to max_tokens=\(m), got \(minTokens)" }
        if !temperature.isFinite || temperature < 0 { return "temperature must be non-negative, got \(temperature)" }
        if !(topP > 0 && topP <= 1) { return "top_p must be in (0, 1], got \(topP)" }
        if topK < -1 { return "top_k must be -1 (disable), 0 (disable) or at least 1, got \(topK)" }
        if !(minP >= 0 && minP <= 1) { return "min_p must be in [0, 1], got \(minP)" }
        if !(repetitionPenalty > 0) || !repetitionPenalty.isFinite { return "repetition_penalty must be greater than zero, got \(repetitionPenalty)" }
        if !(presencePenalty >= -2 && presencePenalty <= 2) { return "presence_penalty must be in [-2, 2], got \(presencePenalty)" }
        if !(frequencyPenalty >= -2 && frequencyPenalty <= 2) { return "frequency_penalty must be in [-2, 2], got \(frequencyPenalty)" }
        for (token, bias) in logitBias {
            if token < 0 || (vocabSize.map { token >= $0 } ?? false) { return "logit_bias has token id \(token) outside the vocabulary" }
            if !(bias >= -100 && bias <= 100) { return "logit_bias values must be in [-100, 100], got \(bias) for token \(token)" }
        }
        if let v = vocabSize, let bad = stopTokenIDs.first(where: { $0 < 0 || $0 >= v }) {
            return "stop_token_ids has token id \(bad) outside the vocabulary"
        }
        if stop.contains(where: \.isEmpty) { return "stop strings must not be empty" }
        if let k = logprobs, !(0...Self.maxLogprobs).contains(k) { return "logprobs must be between 0 and \(Self.maxLogprobs), got \(k)" }
        if let k = promptLogprobs, !(0...Self.maxLogprobs).contains(k) {
            return "prompt_logprobs must be between 0 and \(Self.maxLogprobs), got \(k)"
        }
        if useBeamSearch {
            if beamWidth < 2 && n > 1 { return "beam search needs best_of >= n" }
            if temperature != 0 && temperature != 1 { return "beam search does not sample: temperature must be 0 (or left at 1), got \(temperature)" }
            if topP < 1 || topK > 0 || minP > 0 { return "top_p, top_k and min_p must be left off with beam search" }
            if !lengthPenalty.isFinite { return "length_penalty must be finite, got \(lengthPenalty)" }
            if !stop.isEmpty { return "stop strings are not supported with beam search (use stop_token_ids)" }
        } else if lengthPenalty != 1 || earlyStopping != .heuristic {
            return "length_penalty and early_stopping apply only to beam search"
        }
        return nil
    }
}
