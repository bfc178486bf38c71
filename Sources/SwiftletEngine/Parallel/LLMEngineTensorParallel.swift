import Foundation
import SwiftletDistributed

/// Rank 0's side of tensor parallelism, beyond sending each step (which `ModelRunner` does).
extension LLMEngine {
    /// Why the engine cannot go on: an exchange with another rank failed. Every request was then
    /// ended with finish reason `error`, and new ones are refused.
    public var failure: CollectiveFailure? { runner.link?.failure }

    /// Whether the engine has other ranks to keep informed (and to ping while idle).
    public var isTensorParallel: Bool { runner.link != nil }

    /// The collectives' cost so far on this rank (all zero without tensor parallelism).
    public var collectiveStatistics: CollectiveStatistics { runner.link?.group.statistics ?? CollectiveStatistics() }

    /// While idle, checks that every other rank still answers (about once a second), so that a
    /// rank that died is noticed without a request having to run into it. Returns the failure,
    /// if there is one now.
    @discardableResult
    public func heartbeat() -> CollectiveFailure? {
        guard let link = runner.link, link.failure == nil, !hasUnfinishedRequests else { return failure }
        link.send(.ping)
        return link.failure
    }

    /// Tells the other ranks to stop (rank 0 is stopping cleanly).
    public func stopWorkers() {
        guard let link = runner.link, link.failure == nil else { return }
        link.send(.stop)
    }

    /// Ends every request with finish reason `error` and `why` as its error, freeing its blocks.
    func endEverything(because why: String) -> [RequestOutput] {
        let now = Date()
        var outputs: [RequestOutput] = []
        for id in groups.keys.sorted() {
            groups[id] = nil
            guard let g = scheduler.abort(id) else { continue }
            for k in g.sequences.indices where g.sequences[k].finishReason == .abort { g.sequences[k].finishReason = .error }
            g.error = "request \(id) was ended: \(why)"
            g.metrics.finished = now
            totals.numFinished += 1
            outputs.append(report(g))
        }
        logHandler?("error: \(why); every request was ended")
        return outputs
    }
}
