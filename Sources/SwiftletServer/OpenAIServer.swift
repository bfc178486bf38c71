import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import SwiftletAPI
import UnixSignals
import SwiftletEngine
import SwiftletKernels
import SwiftletModels
import SwiftletFormats
import SwiftletTokenizers

/// An OpenAI-compatible HTTP server (vLLM's `vllm serve`) over a generative model, an embedding
/// model, or both.
///
/// Routes, one collection per endpoint: GET /health, /version, /metrics, /v1/models, /openapi.json; with a
/// generative model POST /v1/completions, /v1/chat/completions, /tokenize, /detokenize, the web
/// page at / and the engine views it polls (/engine/blocks, /engine/stats); with an embedding
/// model POST /v1/embeddings.
public final class OpenAIServer: Sendable {
    public let configuration: ServerConfiguration
    /// The generative model behind the completion routes, if one is served.
    public let generation: GenerationService?
    public let metrics: ServerMetrics
    /// The embedding model behind /v1/embeddings, if one is served.
    public let embeddingService: EmbeddingService?
    /// Unix time of start-up, for the `created` fields.
    let created: Int
    private let running = RunningGroup()

    /// A server of what is given: a generative model, an embedding model, or both.
    public init(generation: GenerationService?, embeddingService: EmbeddingService?, configuration: ServerConfiguration) {
        precondition(generation != nil || embeddingService != nil, "a server needs a model")
        self.generation = generation
        self.embeddingService = embeddingService
        self.configuration = configuration
        metrics = ServerMetrics(modelName: configuration.servedModelName)
        created = Int(Date().timeIntervalSince1970)
    }

    /// The routes, behind the error and API-key middleware: each endpoint's collection, for the
    /// models this server has.
    public func makeRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: OpenAIErrorMiddleware())
        if let key = configuration.apiKey { router.add(middleware: APIKeyMiddleware(apiKey: key)) }
        router.addRoutes(infoRoutes())
        router.addRoutes(modelsRoutes())
        router.addRoutes(openAPIRoutes())
        if let g = generation {
            router.addRoutes(completionsRoutes(g))
            router.addRoutes(chatCompletionsRoutes(g))
            router.addRoutes(tokenizeRoutes(g))
            router.addRoutes(engineViewRoutes(g))
        } else {
            router.addRoutes(unsupportedRoutes(["/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"],
                                               feature: "text generation"))
        }
        if let e = embeddingService {
            router.addRoutes(embeddingsRoutes(e))
        } else {
            router.addRoutes(unsupportedRoutes(["/v1/embeddings"], feature: "embeddings"))
        }
        return router
    }

    /// POST routes of a kind of model this server does not have: a 400 naming the model, as vLLM
    /// answers, rather than a bare 404.
    private func unsupportedRoutes(_ paths: [String], feature: String) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        let name = configuration.servedModelName
        for path in paths {
            routes.post(RouterPath(path)) { _, _ -> Response in
                throw OpenAIError.invalidRequest("The model `\(name)` does not support \(feature).", param: "model")
            }
        }
        return routes
    }

    /// Serves until SIGINT or SIGTERM (or until the calling task is cancelled), then refuses new
    /// requests, aborts the running ones, lets their responses end and returns.
    /// - Parameter onRunning: called with the bound port once the server accepts connections.
    public func run(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint], logger: Logger? = nil,
                    onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var log = logger ?? Logger(label: "swiftlet.server")
        if logger == nil { log.logLevel = .notice }
        let c = configuration
        // Every connection gets its hang-up detector first thing, so a hang-up during decoding or
        // queueing is remembered for the request's watch, and its decoder's refusals as JSON.
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ClientCloseDetector(), MalformedRequestResponder()],
            idleTimeout: c.idleTimeout.map { .milliseconds($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) },
            httpDecoderConfiguration: .init(maxHeaderFieldSize: c.maxHeaderBytes, maxHeaderListSize: c.maxHeaderBytes))
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: http1),
            configuration: .init(address: .hostname(c.host, port: c.port), serverName: "swiftlet",
                                 availableConnectionsDelegate: MaximumAvailableConnections(c.maxConnections)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: log)
        // Shutdown runs in reverse order: the engine stops first, so streams end at once (with
        // finish reason "abort") and the HTTP server's drain is short.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app)] + (generation.map {
                [.init(service: EngineShutdownService(engine: $0.engine, drainTimeout: configuration.shutdownTimeout))]
            } ?? []),
            gracefulShutdownSignals: gracefulShutdownSignals, logger: log))
        running.set(group)
        try await group.run()
    }

    /// Starts the same shutdown as a signal does; `run` returns once it is done.
    public func shutdown() {
        running.shutdown()
    }

    /// Reads a JSON body within the size limit.
    func fields(_ request: Request) async throws -> RequestFields {
        let limit = configuration.maxRequestBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw OpenAIError.bodyTooLarge(limit: limit)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch let e as HTTPError where e.status == .contentTooLarge {
            throw OpenAIError.bodyTooLarge(limit: limit)
        } catch is NIOTooManyBytesError {
            // A body without a declared length (chunked) found too long while it is read.
            throw OpenAIError.bodyTooLarge(limit: limit)
        }
        return try RequestFields(body: Data(body.readableBytesView))
    }

    /// A 400 unless `model` is absent or names the served model.
    func checkModel(_ f: RequestFields) throws {
        if let m = try f.string("model"), m != configuration.servedModelName {
            throw OpenAIError(status: 400, message: "The model `\(m)` does not exist.", type: "invalid_request_error",
                              param: "model", code: "model_not_found")
        }
    }

    /// A fresh id with the given prefix (`cmpl`, `chatcmpl`).
    static func newID(_ prefix: String) -> String {
        prefix + "-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }
}

/// The service group of a running server, for `shutdown()`.
private final class RunningGroup: @unchecked Sendable {
    private let lock = NSLock()
    private var group: ServiceGroup?

    func set(_ g: ServiceGroup) {
        lock.lock()
        group = g
        lock.unlock()
    }

    func shutdown() {
        lock.lock()
        let g = group
        lock.unlock()
        Task { await g?.triggerGracefulShutdown() }
    }
}

/// Stops the engine when the service group shuts down: first lets running requests finish for
/// up to `drainTimeout` while refusing new ones, then aborts the rest.
private struct EngineShutdownService: Service {
    let engine: AsyncLLMEngine
    let drainTimeout: Duration

    func run() async throws {
        try? await gracefulShutdown()
        await engine.drain(upTo: drainTimeout)
        engine.shutdown()
    }
}
