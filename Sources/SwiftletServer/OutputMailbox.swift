import Foundation
import SwiftletEngine

/// The outputs of a generation job on their way to the response writer, at most one waiting per
/// prompt.
///
/// The engine reports every step and never waits for the network; a client that reads slowly (or
/// not at all) would otherwise leave one output per step queued, each with the completion's
/// tokens and text so far: memory growing with the square of the output length. Here an output
/// that arrives while an earlier one of the same prompt still waits is merged into it: the latest
/// cumulative state, with the new tokens and text of both, which is what a response writes.
final class OutputMailbox: AsyncSequence, @unchecked Sendable {
    typealias Element = (Int, RequestOutput)

    private let lock = NSLock()
    // Guarded by `lock`.
    private var pending: [Int: RequestOutput] = [:]
    private var order: [Int] = []
    private var closed = false
    private var waiter: CheckedContinuation<Element?, Never>?

    /// Outputs waiting to be taken (for tests).
    var waitingCount: Int { lock.withLock { order.count } }

    /// Hands an output of prompt `index` over, merging it into one of the same prompt still waiting.
    func put(_ index: Int, _ out: RequestOutput) {
        lock.lock()
        if let w = waiter {
            waiter = nil
            lock.unlock()
            w.resume(returning: (index, out))
            return
        }
        if let earlier = pending[index] {
            pending[index] = Self.merge(earlier, out)
        } else {
            pending[index] = out
            order.append(index)
        }
        lock.unlock()
    }

    /// No more outputs: the reader ends after the waiting ones.
    func finish() {
        lock.lock()
        closed = true
        let w = waiter
        waiter = nil
        lock.unlock()
        w?.resume(returning: nil)
    }

    /// The next output, or nil once finished (or when the reading task is cancelled).
    func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Element?, Never>) in
                lock.lock()
                if !order.isEmpty {
                    let i = order.removeFirst()
                    let out = pending.removeValue(forKey: i)!
                    lock.unlock()
                    c.resume(returning: (i, out))
                } else if closed || Task.isCancelled {
                    lock.unlock()
                    c.resume(returning: nil)
                } else {
                    waiter = c
                    lock.unlock()
                }
            }
        } onCancel: {
            lock.lock()
            let w = waiter
            waiter = nil
            lock.unlock()
            w?.resume(returning: nil)
        }
    }

    /// `later` with the new tokens, text and logprobs of `earlier` in front of its own.
    static func merge(_ earlier: RequestOutput, _ later: RequestOutput) -> RequestOutput {
        var merged = later
        for k in merged.outputs.indices {
            guard let e = earlier.outputs.first(where: { $0.index == merged.outputs[k].index }) else { continue }
            merged.outputs[k].newTokenIDs = e.newTokenIDs + merged.outputs[k].newTokenIDs
            merged.outputs[k].newText = e.newText + merged.outputs[k].newText
        }
        for e in earlier.outputs where !merged.outputs.contains(where: { $0.index == e.index }) { merged.outputs.append(e) }
        return merged
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let mailbox: OutputMailbox
        mutating func next() async -> Element? { await mailbox.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(mailbox: self) }
}
