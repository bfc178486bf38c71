import Foundation

/// Why a completion ended (OpenAI's and vLLM's `finish_reason`).
public enum FinishReason: String, Sendable, Equatable, Codable {
    /// EOS, a stop token or a stop string.
    case stop
    /// `maxTokens`, or the model's (or KV cache's) length limit.
    case length
    /// The request was aborted.
    case abort
}

/// What stopped a completion that finished with `.stop`, besides EOS (vLLM's `stop_reason`).
public enum StopReason: Sendable, Equatable {
    case token(Int)
    case string(String)
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
    public var finished: Bool
    public var metrics: RequestMetrics
    /// Set when the engine ended the request itself, saying why (e.g. it could not fit).
    public var error: String?
}
