import SwiftletDistributed

/// Carries `StepMessage`s from rank 0 to the other ranks of a tensor-parallel group, and checks
/// that the others still answer.
///
/// Every exchange is a collective of the group, so a rank that died or stopped answering shows
/// up as the group's `failure` once its timeout has passed, on whichever rank was waiting.
public final class TensorParallelLink {
    public let group: any CollectiveGroup

    public init(group: any CollectiveGroup) {
        self.group = group
    }

    /// The first failed exchange; nil while all have completed.
    public var failure: CollectiveFailure? { group.failure }

    /// Rank 0: sends `message` to every other rank.
    public func send(_ message: StepMessage) {
        precondition(group.rank == 0, "only rank 0 sends steps")
        var payload = message.payload()
        var head: [Int32] = [message.kind.rawValue, Int32(payload.count)]
        head.withUnsafeMutableBytes { group.broadcast($0.baseAddress!, bytes: $0.count, root: 0) }
        if !payload.isEmpty {
            payload.withUnsafeMutableBytes { group.broadcast($0.baseAddress!, bytes: $0.count, root: 0) }
        }
        if message == .ping { confirmEveryRankAnswers() }
    }

    /// Other ranks: waits up to `timeout` (nil: for ever) for rank 0's next message. Returns nil
    /// when the wait failed (see `failure`).
    public func receive(timeout: Duration?) throws -> StepMessage? {
        var head: [Int32] = [0, 0]
        head.withUnsafeMutableBytes { group.broadcast($0.baseAddress!, bytes: $0.count, root: 0, timeout: timeout) }
        guard group.failure == nil else { return nil }
        guard head[1] >= 0 && head[1] <= Int32.max / 4 else {
            throw StepMessage.DecodingError(description: "a payload of \(head[1]) values")
        }
        var payload = [Int32](repeating: 0, count: Int(head[1]))
        if !payload.isEmpty {
            payload.withUnsafeMutableBytes { group.broadcast($0.baseAddress!, bytes: $0.count, root: 0) }
            guard group.failure == nil else { return nil }
        }
        let message = try StepMessage.decode(kind: head[0], payload: payload)
        if message == .ping { confirmEveryRankAnswers() }
        return message
    }

    /// A broadcast completes on its root without waiting for the others, so a ping is followed
    /// by a sum of ones that completes only when every rank has taken part.
    private func confirmEveryRankAnswers() {
        var one: Float = 1
        group.allReduceSum(&one, count: 1)
    }
}
