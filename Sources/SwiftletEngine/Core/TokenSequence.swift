import SwiftletGrammar
import SwiftletModels
import SwiftletTokenizers

/// One token stream: a prompt and the tokens generated after it (vLLM's `Sequence`; renamed so it does not
/// shadow the standard library protocol).
///
/// `numComputedTokens` counts the leading tokens whose KV is in the cache. Every step the scheduler
/// lets a sequence catch up towards `tokenIDs.count` within the step's token budget; a sequence
/// that has caught up gets a new token sampled. That one rule covers a prompt's prefill (in chunks
/// or whole), decoding, prefix-cache hits (which start the count above zero) and recompute after
/// preemption (which resets it to zero, so prompt and generated tokens are prefilled again).
public struct TokenSequence: Sendable {
    public private(set) var id: Int
    /// The completion's index within its request.
    public internal(set) var index: Int
    public internal(set) var tokenIDs: [Int]
    public let promptLength: Int
    public internal(set) var numComputedTokens = 0
    public internal(set) var finishReason: FinishReason?
    public internal(set) var stopReason: StopReason?
    /// Sum of the generated tokens' logprobs under the model's raw distribution (kept when the
    /// request needs it: logprobs, best_of or beam search).
    public internal(set) var cumulativeLogprob = 0.0
    /// Per generated token, when the request asked for logprobs.
    public internal(set) var logprobs: [PositionLogprobs]?
    /// Beam search: the sum of the logprobs of the processed distribution (what beams are ranked by).
    var beamLogprob = 0.0
    var generator: SeededGenerator
    var detokenizer: IncrementalDetokenizer?
    /// Where the output is in its request's constraint (`SamplingParams.structuredOutput`). It
    /// depends only on the accepted tokens, so forks copy it and recompute after preemption keeps it.
    var grammar: GrammarMatcher?
    /// Tokens and text not yet reported in a `RequestOutput`.
    var unreportedTokens = 0
    var unreportedText = ""

    init(id: Int, index: Int, prompt: [Int], generator: SeededGenerator, detokenizer: IncrementalDetokenizer?) {
        self.id = id
        self.index = index
        tokenIDs = prompt
        promptLength = prompt.count
        self.generator = generator
        self.detokenizer = detokenizer
    }

    /// A sequence that continues this one under a new id (a fork: parallel samples, beams).
    func forked(id: Int, index: Int, generator: SeededGenerator) -> TokenSequence {
        var child = self
        child.id = id
        child.index = index
        child.generator = generator
        return child
    }

    public var isFinished: Bool { finishReason != nil }
    public var outputCount: Int { tokenIDs.count - promptLength }
    public var outputTokenIDs: ArraySlice<Int> { tokenIDs[promptLength...] }
    /// Tokens still to be computed before the next token can be sampled.
    public var numUncomputedTokens: Int { tokenIDs.count - numComputedTokens }
    public var text: String { detokenizer?.text ?? "" }

    /// Appends a sampled token and decides whether the sequence is done. EOS and stop tokens stay
    /// in the token ids but not in the text.
    mutating func accept(_ token: Int, params: SamplingParams, eos: Set<Int>, maxModelLen: Int) {
        tokenIDs.append(token)
        unreportedTokens += 1
        if !params.ignoreEOS, eos.contains(token) {
            finish(.stop)
            return
        }
        if params.stopTokenIDs.contains(token) {
            finish(.stop, .token(token))
            return
        }
        if detokenizer != nil {
            let (text, stopped) = detokenizer!.append(token)
            unreportedText += text
            if stopped {
                finishReason = .stop
                stopReason = detokenizer!.matchedStop.map { .string($0) }
                return
            }
        }
        if let m = params.maxTokens, outputCount >= m {
            finish(.length)
        } else if tokenIDs.count >= maxModelLen {
            finish(.length)
        }
    }

    /// Ends the sequence, releasing any text the detokenizer still held back.
    mutating func finish(_ reason: FinishReason, _ stop: StopReason? = nil) {
        guard finishReason == nil else { return }
        finishReason = reason
        stopReason = stop
        if detokenizer != nil { unreportedText += detokenizer!.finish() }
    }

    /// The completion as reported now; clears what was unreported.
    mutating func report() -> CompletionOutput {
        let out = CompletionOutput(index: index, tokenIDs: Array(outputTokenIDs), text: text,
                                   newTokenIDs: Array(tokenIDs.suffix(unreportedTokens)), newText: unreportedText,
                                   finishReason: finishReason, stopReason: stopReason, cumulativeLogprob: cumulativeLogprob,
                                   logprobs: logprobs)
        unreportedTokens = 0
        unreportedText = ""
        return out
    }
}
