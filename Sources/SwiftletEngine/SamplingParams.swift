/// How to generate the completions of one request (vLLM's `SamplingParams`, the parts the engine
/// handles so far).
public struct SamplingParams: Sendable, Equatable {
    /// Completions to generate from the prompt; they share the prompt's KV blocks.
    public var n: Int
    /// Most tokens to generate per completion; nil runs until a stop or the model's length limit.
    public var maxTokens: Int?
    /// Tokens to generate before EOS or a stop token may end a completion.
    public var minTokens: Int
    /// 0 picks the most likely token (greedy); above 0 samples from the softened distribution.
    public var temperature: Double
    /// Seed of the request's random stream; nil draws one from the engine's generator.
    public var seed: UInt64?
    /// Keep generating past the model's end-of-sequence tokens.
    public var ignoreEOS: Bool
    /// Token ids that end a completion (kept in its token ids, like EOS).
    public var stopTokenIDs: [Int]
    /// Strings that end a completion; the text stops before them.
    public var stop: [String]
    public var includeStopStringInOutput: Bool
    public var skipSpecialTokens: Bool
    /// Produce text as well as token ids (needs the engine to have a tokenizer).
    public var detokenize: Bool

    public init(n: Int = 1, maxTokens: Int? = 16, minTokens: Int = 0, temperature: Double = 1.0, seed: UInt64? = nil,
                ignoreEOS: Bool = false, stopTokenIDs: [Int] = [], stop: [String] = [],
                includeStopStringInOutput: Bool = false, skipSpecialTokens: Bool = true, detokenize: Bool = true) {
        self.n = n
        self.maxTokens = maxTokens
        self.minTokens = minTokens
        self.temperature = temperature
        self.seed = seed
        self.ignoreEOS = ignoreEOS
        self.stopTokenIDs = stopTokenIDs
        self.stop = stop
        self.includeStopStringInOutput = includeStopStringInOutput
        self.skipSpecialTokens = skipSpecialTokens
        self.detokenize = detokenize
    }

    /// Greedy decoding of up to `maxTokens` tokens.
    public static func greedy(maxTokens: Int?, ignoreEOS: Bool = false) -> SamplingParams {
        SamplingParams(maxTokens: maxTokens, temperature: 0, ignoreEOS: ignoreEOS)
    }

    public var isGreedy: Bool { temperature == 0 }

    /// Why these parameters cannot be used, or nil.
    public func problem() -> String? {
        if n < 1 { return "n must be at least 1, got \(n)" }
        if let m = maxTokens, m < 1 { return "max_tokens must be at least 1, got \(m)" }
        if minTokens < 0 { return "min_tokens must be non-negative, got \(minTokens)" }
        if let m = maxTokens, minTokens > m { return "min_tokens (\(minTokens)) must not exceed max_tokens (\(m))" }
        if !(temperature >= 0) || !temperature.isFinite { return "temperature must be a finite number >= 0, got \(temperature)" }
        return nil
    }
}
