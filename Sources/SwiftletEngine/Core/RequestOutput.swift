import Foundation

/// Why a completion ended (OpenAI's and vLLM's `finish_reason`).
public enum FinishReason: String, Sendable, Equatable, Codable {
    /// EOS, a stop token or a stop string.
    case stop
    /// `maxTokens`, or the model's (or KV cache's) length limit.
    case length
    /// The request was aborted.
    case abort
    /// The engine could not go on (a tensor-parallel rank died): the output's `error` says why.
    case error
}

/// What stopped a completion that finished with `.stop`, besides EOS (vLLM's `stop_reason`).
public enum StopReason: Sendable, Equatable {
    case token(Int)
    case string(String)
}

/// The logprob of one token at one position, and its rank in the model's distribution there
/// (1 is the most likely).
public struct TokenLogprob: Sendable, Equatable {
    public var tokenID: Int
    public var logprob: Float
    public var rank: Int

    public init(tokenID: Int, logprob: Float, rank: Int) {
        self.tokenID = tokenID
        self.logprob = logprob
        self.rank = rank
    }
}

/// Logprobs at one position: the token that was chosen (generated, or the prompt's token) and the
/// `k` most likely tokens there, most likely first (vLLM returns both in one dictionary).
public struct PositionLogprobs: Sendable, Equatable {
    public var chosen: TokenLogprob
    public var top: [TokenLogprob]

    public init(chosen: TokenLogprob, top: [TokenLogprob]) {
        self.chosen = chosen
        self.top = top
    }
}

/// One completion of a request, as of the latest step.
public struct CompletionOutput: Sendable {
    /// The completion's place among the request's `n` completions.
    public var index: Int
    /// Every token generated so far.
    public var tokenIDs: [Int]
    /// The text of `tokenIDs` released so far (empty unless the request detokenizes).
    public var text: String
    /// Tokens generated since the previous output of this request.
    public var newTokenIDs: [Int]
    /// Text released since the previous output of this request.
    public var newText: String
    public var finishReason: FinishReason?
    public var stopReason: StopReason?
    /// Sum of the logprobs of `tokenIDs` under the model's raw distribution. Kept when the request
    /// needs it (`SamplingParams.needsLogprobs`: logprobs, best_of above n, beam search); 0 otherwise,
    /// as normalising every row costs a pass of exponentials over the vocabulary.
    public var cumulativeLogprob: Double = 0
    /// One entry per token of `tokenIDs` when the request asked for `logprobs`; the last
    /// `newTokenIDs.count` entries belong to the new tokens.
    public var logprobs: [PositionLogprobs]?

    public var finished: Bool { finishReason != nil }
}

/// Timestamps of a request's life, for latency metrics.
public struct RequestMetrics: Sendable {
    public var arrival: Date
    public var firstScheduled: Date?
    public var firstToken: Date?
    public var finished: Date?
}

/// The state of one request after an engine step: incremental and cumulative.
public struct RequestOutput: Sendable {
    public var requestID: String
    public var promptTokenIDs: [Int]
    /// Prompt tokens found in the prefix cache at (the latest) admission.
    public var numCachedTokens: Int
    public var outputs: [CompletionOutput]
    /// One entry per prompt token when the request asked for `promptLogprobs`; the first is nil.
    public var promptLogprobs: [PositionLogprobs?]?
    public var finished: Bool
    public var metrics: RequestMetrics
    /// Set when the engine ended the request itself, saying why (e.g. it could not fit).
    public var error: String?
}
