import Foundation
import Testing
@testable import SwiftletEngine
@testable import SwiftletServer

/// Outputs waiting for a slow reader are merged per prompt: one waits at a time, carrying every
/// new token and all new text.
struct OutputMailboxTests {
    static func output(step: Int, finished: Bool = false) -> RequestOutput {
        let tokens = Array(0...step)
        let completion = CompletionOutput(index: 0, tokenIDs: tokens, text: tokens.map { "t\($0)" }.joined(), newTokenIDs: [step],
                                          newText: "t\(step)", finishReason: finished ? .length : nil, stopReason: nil)
        return RequestOutput(requestID: "r", promptTokenIDs: [1], numCachedTokens: 0, outputs: [completion], promptLogprobs: nil,
                             finished: finished, metrics: RequestMetrics(arrival: Date()), error: nil)
    }

    @Test func aReaderThatFallsBehindGetsOneMergedOutput() async {
        let mailbox = OutputMailbox()
        for step in 0..<1000 { mailbox.put(0, Self.output(step: step, finished: step == 999)) }
        mailbox.put(1, Self.output(step: 0))
        #expect(mailbox.waitingCount == 2)
        mailbox.finish()
        var got: [(Int, RequestOutput)] = []
        for await item in mailbox { got.append(item) }
        #expect(got.map(\.0) == [0, 1])
        let c = got[0].1.outputs[0]
        #expect(c.newTokenIDs == Array(0..<1000))
        #expect(c.newText == c.text && c.tokenIDs.count == 1000 && c.finished)
        #expect(got[0].1.finished)
    }

    @Test func aWaitingReaderGetsEachOutputAsItComes() async {
        let mailbox = OutputMailbox()
        let reader = Task { () -> [String] in
            var texts: [String] = []
            for await (_, out) in mailbox { texts.append(out.outputs[0].newText) }
            return texts
        }
        for step in 0..<3 {
            // Wait until the reader has taken the previous output, so nothing is merged.
            while mailbox.waitingCount > 0 { await Task.yield() }
            mailbox.put(0, Self.output(step: step))
        }
        while mailbox.waitingCount > 0 { await Task.yield() }
        mailbox.finish()
        #expect(await reader.value == ["t0", "t1", "t2"])
    }

    @Test func cancellingTheReaderEndsIt() async {
        let mailbox = OutputMailbox()
        let reader = Task { () -> Int in
            var n = 0
            for await _ in mailbox { n += 1 }
            return n
        }
        reader.cancel()
        #expect(await reader.value == 0)
    }
}
