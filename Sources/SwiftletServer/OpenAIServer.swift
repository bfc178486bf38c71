import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals
import SwiftletEngine
import SwiftletKernels
import SwiftletModels
import SwiftletFormats
import SwiftletTokenizers

/// An OpenAI-compatible HTTP server over an `AsyncLLMEngine` (vLLM's `vllm serve`).
///
/// Routes: POST /v1/completions, /v1/chat/completions, /v1/embeddings, /tokenize, /detokenize; GET /v1/models,
/// /health, /version, /metrics, the web page at / and the engine views it polls
/// (/engine/blocks, /engine/stats).
public final class OpenAIServer: Sendable {
    public let configuration: ServerConfiguration
    public let engine: AsyncLLMEngine
    public let tokenizer: any Tokenizer
    /// The model's chat template; without one, /v1/chat/completions answers 400.
    public let chatTemplate: ChatTemplate?
    public let metrics: ServerMetrics
    /// The embedding model behind /v1/embeddings, if one is served.
    public let embeddingService: EmbeddingService?
    /// Unix time of start-up, for the `created` fields.
    let created: Int
    private let running = RunningGroup()

    public init(engine: AsyncLLMEngine, tokenizer: any Tokenizer, chatTemplate: ChatTemplate?, configuration: ServerConfiguration,
                embeddingService: EmbeddingService? = nil) {
        self.engine = engine
        self.embeddingService = embeddingService
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.configuration = configuration
        metrics = ServerMetrics(modelName: configuration.servedModelName)
        created = Int(Date().timeIntervalSince1970)
    }

    /// The server's version, reported by /version.
    public static let version = "0.1.0"

    /// The routes, behind the error and API-key middleware.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: OpenAIErrorMiddleware())
        if let key = configuration.apiKey { router.add(middleware: APIKeyMiddleware(apiKey: key)) }
        router.get("/health") { _, _ in Response(status: .ok) }
        router.get("/version") { _, _ in
            Response.json(["version": .string(Self.version), "kernel_level": .string(KernelLevel.current.description),
                           "cpu_features": .string(CPUFeatures.current.description)])
        }
        router.get("/metrics") { _, _ in
            self.metrics.update(from: self.engine.statistics)
            return Response.text(self.metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/v1/models") { _, _ in Response.json(self.modelList()) }
        router.post("/v1/completions") { request, _ in try await self.completions(self.fields(request)) }
        router.post("/v1/chat/completions") { request, _ in try await self.chatCompletions(self.fields(request)) }
        router.post("/tokenize") { request, _ in try await self.tokenize(self.fields(request)) }
        router.post("/detokenize") { request, _ in try await self.detokenize(self.fields(request)) }
        router.post("/v1/embeddings") { request, _ in try await self.embeddings(self.fields(request)) }
        router.get("/") { _, _ in Response.text(WebPage.html, contentType: "text/html; charset=utf-8") }
        router.get("/engine/blocks") { _, _ in Response.json(await self.blockMapJSON()) }
        router.get("/engine/stats") { _, _ in Response.json(self.statisticsJSON()) }
        return router
    }

    /// Serves until SIGINT or SIGTERM (or until the calling task is cancelled), then refuses new
    /// requests, aborts the running ones, lets their responses end and returns.
    /// - Parameter onRunning: called with the bound port once the server accepts connections.
    public func run(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint], logger: Logger? = nil,
                    onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var log = logger ?? Logger(label: "swiftlet.server")
        if logger == nil { log.logLevel = .notice }
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "swiftlet"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: log)
        // Shutdown runs in reverse order: the engine stops first, so streams end at once (with
        // finish reason "abort") and the HTTP server's drain is short.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: EngineShutdownService(engine: engine))],
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

    func modelList() -> JSONValue {
        [
            "object": "list",
            "data": .array([[
                "id": .string(configuration.servedModelName), "object": "model", "created": .int(created),
                "owned_by": "swiftlet", "root": .string(configuration.servedModelName), "parent": nil,
                "max_model_len": .int(engine.maxModelLen),
            ]] + embeddingModelEntries),
        ]
    }

    func statisticsJSON() -> JSONValue {
        let s = engine.statistics
        return [
            "num_requests_running": .int(s.numRunning), "num_requests_waiting": .int(s.numWaiting),
            "num_requests_swapped": .int(s.numSwapped), "num_requests_finished": .int(s.numFinished),
            "kv_blocks_total": .int(s.kvBlocksTotal), "kv_blocks_used": .int(s.kvBlocksUsed),
            "kv_blocks_free": .int(s.kvBlocksFree), "kv_blocks_cached": .int(s.kvBlocksCached),
            "kv_cache_usage": .double(s.kvUsage), "prefix_cache_queries": .int(s.prefixCacheQueries),
            "prefix_cache_hits": .int(s.prefixCacheHits), "preemptions": .int(s.preemptions),
            "prompt_tokens": .int(s.promptTokens), "generation_tokens": .int(s.generationTokens), "steps": .int(s.steps),
        ]
    }

    func blockMapJSON() async -> JSONValue {
        let map = await engine.blockMap()
        return [
            "block_size": .int(map.blockSize),
            "states": .array(map.states.map { .int($0.rawValue) }),
            "owners": .array(map.owners.map { .int($0) }),
            "requests": .array(map.requestIDs.map { .string($0) }),
            "stats": statisticsJSON(),
        ]
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

/// Stops the engine when the service group shuts down.
private struct EngineShutdownService: Service {
    let engine: AsyncLLMEngine

    func run() async throws {
        try? await gracefulShutdown()
        engine.shutdown()
    }
}
