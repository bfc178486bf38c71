import Foundation
import Hummingbird
import SwiftletAPI
import SwiftletFormats

extension OpenAIError {
    var response: Response { Response.json(jsonBody(), status: HTTPResponse.Status(code: status)) }
}

extension Response {
    /// A JSON response.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        json(value.data(), status: status)
    }

    static func json(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func text(_ text: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Sends errors in OpenAI's shape: those the handlers throw, and the framework's own (no such
/// route, body too large, ...), so every error a client sees has the same JSON form.
struct OpenAIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as OpenAIError {
            return error.response
        } catch let error as HTTPError {
            switch error.status {
            case .notFound: return OpenAIError.notFound("Not found: \(request.method) \(request.uri.path)").response
            case .contentTooLarge: return OpenAIError.bodyTooLarge().response
            default:
                return OpenAIError(status: error.status.code, message: error.body ?? error.status.reasonPhrase,
                                   type: error.status.code < 500 ? "invalid_request_error" : "internal_server_error").response
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            return OpenAIError(status: 500, message: "Internal error: \(error)", type: "internal_server_error").response
        }
    }
}

/// Checks `Authorization: Bearer <key>` on the OpenAI routes (those under /v1), as vLLM's
/// `--api-key` does; the page, health and metrics stay open.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // /pause and /resume change what every client gets, so they need the key too.
        let path = request.uri.path
        guard path.hasPrefix("/v1") || path == "/pause" || path == "/resume" else { return try await next(request, context) }
        guard let header = request.headers[.authorization], header == "Bearer " + apiKey else {
            throw OpenAIError.unauthorized()
        }
        return try await next(request, context)
    }
}
