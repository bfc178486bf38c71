import Foundation

/// All sequences of one request. The scheduler admits, preempts and resumes a group whole: its
/// sequences share blocks, so freeing only some of them would save little and stall the rest.
public final class SequenceGroup {
    public enum Status: Sendable, Equatable {
        case waiting, running, swapped, finished
    }

    public let requestID: String
    /// Order of arrival; ties in priority go to the earlier request.
    public let arrivalIndex: Int
    /// Lower runs first under the priority policy (as in vLLM).
    public let priority: Int
    public let params: SamplingParams
    public let promptTokenIDs: [Int]
    /// Root of the prompt's prefix-cache hash chain (carries the extra keys).
    public let cacheRoot: BlockHash
    public internal(set) var sequences: [TokenSequence]
    public internal(set) var status: Status = .waiting
    public internal(set) var metrics: RequestMetrics
    /// Prompt tokens served from the prefix cache at the latest admission.
    public internal(set) var numCachedTokens = 0
    /// Why the engine ended the request itself.
    public internal(set) var error: String?
    /// One entry per prompt token when the request asked for prompt logprobs; filled as the
    /// prompt is computed (the first token has none).
    public internal(set) var promptLogprobs: [PositionLogprobs?]?
    /// Beam search: the finished hypotheses kept so far, best first.
    var beamHypotheses: [BeamHypothesis] = []
    /// Beam search: false once the running beams can no longer beat the kept hypotheses.
    var beamsCanImprove = true

    init(requestID: String, arrivalIndex: Int, priority: Int, params: SamplingParams, prompt: [Int],
         cacheRoot: BlockHash, first: TokenSequence, arrival: Date) {
        self.requestID = requestID
        self.arrivalIndex = arrivalIndex
        self.priority = priority
        self.params = params
        promptTokenIDs = prompt
        self.cacheRoot = cacheRoot
        sequences = [first]
        metrics = RequestMetrics(arrival: arrival)
        if params.promptLogprobs != nil { promptLogprobs = Array(repeating: nil, count: prompt.count) }
    }

    public var isFinished: Bool { sequences.allSatisfy(\.isFinished) }
    /// Indices of the sequences still generating.
    public var unfinishedIndices: [Int] { sequences.indices.filter { !sequences[$0].isFinished } }
    public var unfinishedCount: Int { sequences.reduce(0) { $0 + ($1.isFinished ? 0 : 1) } }
    /// Whether the request still has to fork into its completions (done at its first sample).
    /// Beam search forks as its beams are chosen instead.
    var needsFork: Bool { !params.useBeamSearch && params.numSequences > sequences.count }
    /// Whether some prompt position still lacks its logprobs (the prefix cache must not skip it).
    var needsPromptLogprobs: Bool { promptLogprobs?.dropFirst().contains { $0 == nil } ?? false }
}
