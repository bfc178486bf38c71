import Foundation
import SwiftletFormats

/// An error in the shape the OpenAI API returns (`{"error": {"message", "type", "param", "code"}}`),
/// with the HTTP status it goes out with.
public struct OpenAIError: Error, Sendable, Equatable {
    public let status: Int
    public let message: String
    public let type: String
    public let param: String?
    public let code: String?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    /// 400: the request is malformed or a parameter is out of range.
    public static func invalidRequest(_ message: String, param: String? = nil) -> OpenAIError {
        OpenAIError(status: 400, message: message, type: "invalid_request_error", param: param)
    }

    /// 401: missing or wrong API key.
    public static func unauthorized() -> OpenAIError {
        OpenAIError(status: 401, message: "Incorrect or missing API key.", type: "authentication_error", code: "invalid_api_key")
    }

    /// 404: no such route or model.
    public static func notFound(_ message: String) -> OpenAIError {
        OpenAIError(status: 404, message: message, type: "not_found_error")
    }

    /// 503: the waiting queue is full; the client should retry later.
    public static func overloaded() -> OpenAIError {
        OpenAIError(status: 503, message: "The server is overloaded; retry later.", type: "server_overloaded")
    }

    /// The JSON body. `param` and `code` are always present, as null when unset, as OpenAI sends them.
    public func jsonBody() -> Data {
        let inner: JSONValue = ["message": .string(message), "type": .string(type), "param": param.json, "code": code.json]
        return JSONValue.object([("error", inner)]).data(JSONWriteOptions(sortKeys: true))
    }
}

extension OpenAIError {
    /// 413: the request body is larger than the server accepts.
    public static func bodyTooLarge(limit: Int? = nil) -> OpenAIError {
        OpenAIError(status: 413, message: "The request body is too large\(limit.map { " (limit \($0) bytes)" } ?? "").",
                    type: "invalid_request_error", code: "request_too_large")
    }
}
