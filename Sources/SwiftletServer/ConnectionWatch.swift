import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// The request context of the server's routes: Hummingbird's basics plus the connection, so a
/// handler can learn that its client has gone.
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Calls `onClose` (on the connection's event loop) when the client closes its side of the
    /// connection, or at once if it already has. Returns a handle that stops the watch.
    ///
    /// Hummingbird keeps half-closed connections open, so a client that hangs up is seen only as
    /// the end of its input: a handler in the pipeline from the connection's start
    /// (`ClientCloseDetector`, installed by `OpenAIServer.run`) remembers that event, so a watch
    /// registered after it (the request was still being decoded or queued) fires at once. Without
    /// that handler (a router used on its own) one is added here, and then only a full close
    /// before the watch is seen.
    func whenClientCloses(_ onClose: @escaping @Sendable () -> Void) -> ClientCloseWatch {
        let watch = ClientCloseWatch(onClose)
        let channel = self.channel
        channel.eventLoop.execute {
            let pipeline = channel.pipeline.syncOperations
            let detector: ClientCloseDetector
            if let existing = try? pipeline.handler(type: ClientCloseDetector.self) {
                detector = existing
            } else {
                detector = ClientCloseDetector()
                try? pipeline.addHandler(detector, position: .first)
            }
            detector.add(watch, inputClosed: !channel.isActive)
        }
        return watch
    }
}

/// One handler's interest in its client's hang-up.
final class ClientCloseWatch: Sendable {
    private let action: NIOLockedValueBox<(@Sendable () -> Void)?>

    init(_ action: @escaping @Sendable () -> Void) { self.action = NIOLockedValueBox(action) }

    /// The response is done: a later hang-up is no longer this request's business.
    func cancel() { action.withLockedValue { $0 = nil } }

    var isCancelled: Bool { action.withLockedValue { $0 == nil } }

    func fire() { action.withLockedValue { a in let f = a; a = nil; return f }?() }
}

/// Sees the end of a connection's input (or its closing) and tells the watches registered for it.
///
/// One per connection, for its whole life: a keep-alive connection carries many requests, so
/// watches whose response is done are dropped as new ones come, keeping the list as short as
/// the requests in flight.
final class ClientCloseDetector: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    // Touched on the channel's event loop only.
    private var watches: [ClientCloseWatch] = []
    private var closed = false

    func add(_ watch: ClientCloseWatch, inputClosed: Bool) {
        if closed || inputClosed {
            watch.fire()
            return
        }
        watches.removeAll { $0.isCancelled }
        watches.append(watch)
    }

    /// Watches waiting on this connection (for tests).
    var count: Int { watches.count }

    private func fireAll() {
        closed = true
        let w = watches
        watches = []
        w.forEach { $0.fire() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { fireAll() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fireAll()
        context.fireChannelInactive()
    }
}
