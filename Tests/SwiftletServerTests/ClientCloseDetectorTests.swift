import NIOCore
import NIOEmbedded
import NIOConcurrencyHelpers
import Testing
@testable import SwiftletServer

/// The per-connection hang-up detector: it remembers a hang-up for watches that come later, and
/// a keep-alive connection's finished requests do not pile up in it.
struct ClientCloseDetectorTests {
    @Test func watchesOfFinishedResponsesDoNotAccumulate() {
        let detector = ClientCloseDetector()
        for _ in 0..<1000 {
            let watch = ClientCloseWatch {}
            detector.add(watch, inputClosed: false)
            watch.cancel()
        }
        #expect(detector.count <= 1)
    }

    @Test func aHangUpBeforeTheWatchFiresItAtOnce() throws {
        let detector = ClientCloseDetector()
        let channel = EmbeddedChannel(handler: detector)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8000)).wait()
        let fired = NIOLockedValueBox(0)
        let early = ClientCloseWatch { fired.withLockedValue { $0 += 1 } }
        detector.add(early, inputClosed: false)
        // The client half-closes: the channel stays active, as Hummingbird keeps it.
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(fired.withLockedValue { $0 } == 1)
        #expect(channel.isActive)
        // A request decoded or queued before its watch is registered still learns of it.
        let late = ClientCloseWatch { fired.withLockedValue { $0 += 10 } }
        detector.add(late, inputClosed: !channel.isActive)
        #expect(fired.withLockedValue { $0 } == 11)
        _ = try channel.finish()
    }
}
