import Hummingbird
import SwiftletFormats

/// GET /openapi.json: an OpenAPI 3.0 document of the routes this server serves (a server without a
/// generative model lists no completion routes, one without an embedding model no embeddings),
/// with the request fields each route reads, the ranges it enforces for the loaded model, and the
/// OpenAI-shaped error every 4xx and 5xx carries. Property-based API tests are generated from it.
extension OpenAIServer {
    func openAPIRoutes() -> RouteCollection<ServerRequestContext> {
        let document = openAPIDocument().data(JSONWriteOptions(sortKeys: false))
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.get("/openapi.json") { _, _ in Response.json(document) }
        return routes
    }

    /// The document; it depends only on the configuration and the loaded models, so it is built once.
    public func openAPIDocument() -> JSONValue {
        typealias S = OpenAPISchema
        var paths: [(String, JSONValue)] = []
        var schemas: [(String, JSONValue)] = [("Error", S.error)]
        let secured = configuration.apiKey != nil
        /// One operation; `/v1` routes need the API key when the server has one (`APIKeyMiddleware`).
        func operation(_ path: String, _ method: String, id: String, summary: String, request: String? = nil,
                       response: JSONValue?, contentType: String = "application/json", streams: Bool = false) {
            var op: [(String, JSONValue)] = [("operationId", .string(id)), ("summary", .string(summary))]
            if let request {
                op.append(("requestBody", [
                    "required": true, "content": ["application/json": ["schema": S.ref(request)]],
                ]))
            }
            var ok: [(String, JSONValue)] = []
            if let response { ok.append((contentType, ["schema": response])) }
            if streams { ok.append(("text/event-stream", ["schema": S.serverSentEvent])) }
            var responses: [(String, JSONValue)] = [("200", ok.isEmpty ? ["description": "Success, no body."]
                                                                    : ["description": "Success.", "content": .object(ok)])]
            func error(_ status: String, _ why: String) {
                responses.append((status, ["description": .string(why), "content": ["application/json": ["schema": S.ref("Error")]]]))
            }
            if request != nil {
                error("400", "A malformed body, a field of the wrong type or out of range, an unknown model.")
                error("413", "The body is larger than the server accepts.")
            }
            if secured && path.hasPrefix("/v1") {
                error("401", "Missing or wrong API key.")
                op.append(("security", [["bearerAuth": []]]))
            }
            if streams { error("503", "The waiting queue is full, or the server is shutting down.") }
            op.append(("responses", .object(responses)))
            let entry = (method, JSONValue.object(op))
            if let i = paths.firstIndex(where: { $0.0 == path }), case .object(let ops) = paths[i].1 {
                paths[i].1 = .object(ops + [entry])
            } else {
                paths.append((path, .object([entry])))
            }
        }

        operation("/health", "get", id: "health", summary: "200 while the engine can run; 503 with an error once it cannot (a tensor-parallel rank died).", response: nil)
        operation("/version", "get", id: "version", summary: "The server's version and kernel level.", response: S.versionResponse)
        operation("/metrics", "get", id: "metrics", summary: "Prometheus metrics.", response: S.string(nullable: false), contentType: "text/plain")
        operation("/openapi.json", "get", id: "openapi", summary: "This document.", response: S.object([]))
        operation("/v1/models", "get", id: "listModels", summary: "The served models.", response: S.modelList)
        if let g = generation {
            let maxLen = g.engine.maxModelLen, vocab = g.engine.vocabSize
            schemas += [
                ("CompletionRequest", S.completionRequest(maxModelLen: maxLen, vocabSize: vocab)),
                ("ChatCompletionRequest", S.chatCompletionRequest(maxModelLen: maxLen, vocabSize: vocab)),
                ("TokenizeRequest", S.tokenizeRequest),
                ("DetokenizeRequest", S.detokenizeRequest(vocabSize: vocab)),
            ]
            operation("/v1/completions", "post", id: "createCompletion", summary: "Completes prompts.",
                      request: "CompletionRequest", response: S.completionResponse, streams: true)
            operation("/v1/chat/completions", "post", id: "createChatCompletion", summary: "Answers a conversation.",
                      request: "ChatCompletionRequest", response: S.chatCompletionResponse, streams: true)
            operation("/tokenize", "post", id: "tokenize", summary: "Token ids of a text or a conversation.",
                      request: "TokenizeRequest", response: S.tokenizeResponse)
            operation("/detokenize", "post", id: "detokenize", summary: "The text of token ids.",
                      request: "DetokenizeRequest", response: S.detokenizeResponse)
            operation("/", "get", id: "webPage", summary: "The web page.", response: S.string(nullable: false), contentType: "text/html")
            operation("/engine/stats", "get", id: "engineStats", summary: "The engine's counters.", response: S.engineStats)
            operation("/engine/blocks", "get", id: "engineBlocks", summary: "Who holds each KV block.", response: S.engineBlocks)
            operation("/pause", "post", id: "pause", summary: "Stops running steps (requests still queue) until /resume.",
                      response: S.pauseState)
            operation("/resume", "post", id: "resume", summary: "Runs steps again after /pause.", response: S.pauseState)
        }
        if let e = embeddingService {
            schemas.append(("EmbeddingRequest", S.embeddingRequest(vocabSize: e.engine.model.config.vocabSize)))
            operation("/v1/embeddings", "post", id: "createEmbedding", summary: "Embeds texts or token ids.",
                      request: "EmbeddingRequest", response: S.embeddingResponse)
        }
        var components: [(String, JSONValue)] = [("schemas", .object(schemas))]
        if secured { components.append(("securitySchemes", ["bearerAuth": ["type": "http", "scheme": "bearer"]])) }
        return [
            "openapi": "3.0.3",
            "info": ["title": "Swiftlet", "version": .string(Self.version),
                     "description": "OpenAI-compatible API of a Swiftlet server."],
            "paths": .object(paths),
            "components": .object(components),
        ]
    }
}
