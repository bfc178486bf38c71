import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import SwiftletAPI

/// Answers a request the HTTP decoder rejects (a head over `--max-header-bytes`, a malformed
/// request line or header) with an OpenAI-shaped JSON error instead of the framework's bare
/// 400, then closes the connection, as a request the decoder cannot frame leaves nothing to
/// resume from.
///
/// Only between requests: when a request is in flight its response may already be under way,
/// so the error goes on to the framework, which ends the connection as before. Sits after the
/// HTTP codec, where decoder errors pass on their way to the application.
///
/// The close is a lingering one: the client may still be sending the rest of what was refused,
/// and closing a socket with unread input sends a reset that can destroy the response before
/// the client reads it. So the output is shut first, input is read and dropped, and the
/// connection closes when the client closes its side or after `lingerTime`.
final class MalformedRequestResponder: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let lingerTime = TimeAmount.seconds(2)

    // Touched on the channel's event loop only: request heads read minus response ends written,
    // and whether this handler has answered (the connection is then only drained).
    private var inFlight = 0
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if answered { return }
        if case .head = unwrapInboundIn(data) { inFlight += 1 }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if answered, let e = event as? ChannelEvent, e == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { inFlight = max(inFlight - 1, 0) }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if answered { return }  // the decoder's later complaints about the input being drained
        guard inFlight == 0, let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let e = Self.openAIError(for: parserError)
        let body = context.channel.allocator.buffer(data: e.jsonBody())
        let head = HTTPResponse(status: .init(code: e.status), headerFields: [
            .contentType: "application/json", .contentLength: String(body.readableBytes), .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        answered = true
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            context.close(mode: .output, promise: nil)
            context.eventLoop.scheduleTask(in: Self.lingerTime) { context.close(promise: nil) }
        }
    }

    /// 431 for a head over the limit (RFC 6585), 400 for anything else the decoder refuses.
    static func openAIError(for error: HTTPParserError) -> OpenAIError {
        if error == .headerOverflow {
            return OpenAIError(status: 431, message: "The request's header fields are too large.",
                               type: "invalid_request_error", code: "request_header_fields_too_large")
        }
        return OpenAIError(status: 400, message: "The request is not valid HTTP/1.1 (\(error)).", type: "invalid_request_error")
    }
}
