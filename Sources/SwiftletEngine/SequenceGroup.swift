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
    }

    public var isFinished: Bool { sequences.allSatisfy(\.isFinished) }
    /// Indices of the sequences still generating.
    public var unfinishedIndices: [Int] { sequences.indices.filter { !sequences[$0].isFinished } }
    public var unfinishedCount: Int { sequences.reduce(0) { $0 + ($1.isFinished ? 0 : 1) } }
    /// Whether the request still has to fork into its `n` completions (done at its first sample).
    var needsFork: Bool { params.n > sequences.count }
}
