import Foundation
import Hummingbird
import SwiftletAPI
import SwiftletEngine
import SwiftletModels
import SwiftletFormats
import SwiftletJinja

/// The embedding model a server answers POST /v1/embeddings with, and the name clients use for it.
public struct EmbeddingService: Sendable {
    public let engine: EmbeddingEngine
    public let modelName: String

    public init(engine: EmbeddingEngine, modelName: String) {
        self.engine = engine
        self.modelName = modelName
    }
}

/// POST /v1/embeddings in OpenAI's shape: `input` as a string, a list of strings, a list of token
/// ids or a list of such lists; `encoding_format` "float" (default) or "base64" (little-endian
/// float32, what the official Python client asks for by default); usage counts the input tokens.
extension OpenAIServer {
    func embeddingsRoutes(_ service: EmbeddingService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.post("/v1/embeddings") { request, _ in try await self.embeddings(self.fields(request), service) }
        return routes
    }

    func embeddings(_ f: RequestFields, _ service: EmbeddingService) async throws -> Response {
        if let m = try f.string("model"), m != service.modelName {
            throw OpenAIError(status: 400, message: "The model `\(m)` does not exist.", type: "invalid_request_error",
                              param: "model", code: "model_not_found")
        }
        let base64: Bool
        switch try f.string("encoding_format") ?? "float" {
        case "float": base64 = false
        case "base64": base64 = true
        case let other: throw OpenAIError.invalidRequest("'encoding_format' must be 'float' or 'base64', not '\(other)'.", param: "encoding_format")
        }
        let dimensions = service.engine.model.dimensions
        if let asked = try f.int("dimensions"), asked != dimensions {
            throw OpenAIError.invalidRequest("This model's embeddings have \(dimensions) dimensions; it cannot return \(asked).",
                                             param: "dimensions")
        }
        let inputs = try embeddingInputs(f)

        let results: [EmbeddingResult]
        do {
            results = try await service.engine.embed(inputs)
        } catch let error as EmbeddingError {
            throw OpenAIError.invalidRequest(error.description, param: "input")
        }
        let data: [JSONValue] = results.enumerated().map { i, r in
            let vector: JSONValue = base64 ? .string(Self.base64(r.embedding))
                // A float's shortest decimal form, not that of the double it widens to.
                : .array(r.embedding.map { .double(Double("\($0)")!) })
            return ["object": "embedding", "index": .int(i), "embedding": vector]
        }
        let tokens = results.reduce(0) { $0 + $1.promptTokens }
        return Response.json([
            "id": .string(Self.newID("embd")), "object": "list", "created": .int(Int(Date().timeIntervalSince1970)),
            "model": .string(service.modelName), "data": .array(data),
            "usage": ["prompt_tokens": .int(tokens), "total_tokens": .int(tokens)],
        ])
    }

    /// Little-endian float32 bytes, base64: what clients decode with `numpy.frombuffer(..., "float32")`.
    static func base64(_ vector: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for v in vector {
            let bits = v.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return Data(bytes).base64EncodedString()
    }
}
