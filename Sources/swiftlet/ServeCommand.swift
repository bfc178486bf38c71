import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletKernels
import SwiftletModels
import SwiftletServer
import SwiftletTokenizers

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve a model over an OpenAI-compatible HTTP API (with a web page at /).",
        discussion: """
        Endpoints: POST /v1/completions, /v1/chat/completions, /v1/embeddings (with --embedding-model, or \
        alone when --model is an embedding model), \
        /tokenize, /detokenize; GET /v1/models, /health, /version, /metrics (Prometheus). SIGINT or \
        SIGTERM stops the server: running requests may finish within --shutdown-timeout seconds (new \
        ones get 503), then the rest are aborted, their responses end, and the process exits 0.
        """)

    @OptionGroup var options: ModelOptions

    @OptionGroup(title: "Engine") var engineOptions: EngineOptions

    @OptionGroup(title: "Tensor parallelism") var parallel: TensorParallelOptions

    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0 picks a free one).")
    var port = 8000

    @Option(name: .long, help: "Require this key as 'Authorization: Bearer <key>' on /v1 routes.")
    var apiKey: String?

    @Option(name: .long, help: "The model name clients use (default: the model file's name).")
    var servedModelName: String?

    @Option(name: .long, help: "A chat template (a file path or the template text) instead of the model's own.")
    var chatTemplate: String?

    @Option(name: .long, help: "How tool calls are read from answers: hermes, llama3_json or mistral (vLLM's names; default: from the chat template).")
    var toolCallParser: ToolCallFormat?

    @Option(name: .long, help: "Split <think>...</think> into reasoning_content: deepseek_r1 or qwen3 (vLLM's names).")
    var reasoningParser: ReasoningFormat?

    @Option(name: .long, help: "Requests that may wait for admission; beyond that new requests get 503.")
    var maxWaitingRequests = 1024

    @Option(name: .long, help: "Largest request body accepted, in bytes (larger ones get 413).")
    var maxRequestBodyBytes = 8 << 20

    @Option(name: .long, help: "Most client connections open at once; further ones wait until one closes.")
    var maxConnections = 1024

    @Option(name: .long, help: "Largest request head (request line and headers), in bytes (larger ones get 400 and the connection is closed).")
    var maxHeaderBytes = 64 << 10

    @Option(name: .long, help: "Seconds a connection may stay silent while no response is being written (idle keep-alive, a stalled request) before it is closed; 0 never closes one.")
    var idleTimeout: Double = 60

    @Option(name: .long, help: "Seconds that running requests may take to finish after SIGTERM or SIGINT (new ones get 503) before the rest are aborted.")
    var shutdownTimeout: Double = 0

    @Option(name: .long, help: "A sentence-transformers / BERT model directory to answer POST /v1/embeddings with (e.g. all-MiniLM-L6-v2).")
    var embeddingModel: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard maxWaitingRequests > 0 else { throw ValidationError("--max-waiting-requests must be positive") }
        guard maxRequestBodyBytes > 0 else { throw ValidationError("--max-request-body-bytes must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard maxHeaderBytes >= 1024 else { throw ValidationError("--max-header-bytes must be at least 1024") }
        guard idleTimeout >= 0, idleTimeout.isFinite else { throw ValidationError("--idle-timeout must be zero or more seconds") }
        guard shutdownTimeout >= 0, shutdownTimeout.isFinite else { throw ValidationError("--shutdown-timeout must be zero or more seconds") }
    }

    func run() async throws {
        HeapRelease.limitArenas()
        let tensorParallel = try TensorParallelRun.start(parallel)
        if let tensorParallel, !tensorParallel.isRankZero { tensorParallel.runWorker(model: options) }
        let name = servedModelName ?? ((options.modelPath as NSString).lastPathComponent as NSString).deletingPathExtension
        let configuration = ServerConfiguration(host: host, port: port, apiKey: apiKey, servedModelName: name,
                                                maxRequestBodyBytes: maxRequestBodyBytes,
                                                shutdownTimeout: .milliseconds(Int64(shutdownTimeout * 1000)),
                                                maxConnections: maxConnections, maxHeaderBytes: maxHeaderBytes,
                                                idleTimeout: idleTimeout > 0 ? .milliseconds(Int64(idleTimeout * 1000)) : nil)
        let server: OpenAIServer
        var description: String
        var generationEngine: AsyncLLMEngine?
        if try ModelRegistry.kind(path: options.modelPath) == .embedding {
            guard tensorParallel == nil else { throw ValidationError("--tensor-parallel-size serves generative models only") }
            // An embedding model alone is served as vLLM serves a pooling model: /v1/embeddings only.
            guard embeddingModel == nil else { throw ValidationError("--embedding-model cannot go with an embedding --model") }
            let service = EmbeddingService(engine: try EmbeddingEngine(model: options.modelPath), modelName: name)
            server = OpenAIServer(generation: nil, embeddingService: service, configuration: configuration)
            description = "embeddings only"
        } else {
            let loaded = try options.load(shard: tensorParallel?.shard)
            let engine = try engineOptions.makeEngine(loaded: loaded, model: options, link: tensorParallel?.link)
            let warmStart = ContinuousClock.now
            engine.warmUp()
            writeLogLine("warm-up: the largest step (\(engine.config.scheduler.maxNumBatchedTokens) tokens) in \(warmStart.duration(to: .now).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 2))))")
            let template = try loadTemplate(loaded)
            let asyncEngine = AsyncLLMEngine(engine: engine, maxWaitingRequests: maxWaitingRequests)
            generationEngine = asyncEngine
            let generation = GenerationService(engine: asyncEngine,
                                               tokenizer: loaded.tokenizer, chatTemplate: template,
                                               toolCallParser: toolCallParser, reasoningParser: reasoningParser)
            server = OpenAIServer(generation: generation, embeddingService: try embeddingModel.map {
                EmbeddingService(engine: try EmbeddingEngine(model: $0), modelName: (($0 as NSString).standardizingPath as NSString).lastPathComponent)
            }, configuration: configuration)
            description = "chat template: \(template == nil ? "none" : "yes")" + (tensorParallel.map { ", tensor parallel over \($0.group.size) ranks" } ?? "")
        }
        let host = self.host
        if let tensorParallel, let engine = generationEngine { watch(engine, tensorParallel) }
        try await server.run { [description] port in
            writeLogLine("serving \(name) on http://\(host):\(port) (\(description))")
        }
        writeLogLine("server stopped")
        if let tensorParallel {
            await generationEngine?.waitUntilStopped()
            tensorParallel.finish(status: 0)
        }
    }

    /// Once the engine has lost a rank (every request already ended with an error, /health
    /// answering 503), leaves clients a few seconds to see it, then exits non-zero naming the rank.
    private func watch(_ engine: AsyncLLMEngine, _ run: TensorParallelRun) {
        Thread.detachNewThread {
            while engine.failure == nil { Thread.sleep(forTimeInterval: 0.2) }
            Thread.sleep(forTimeInterval: 5)
            run.exitAfterFailure(engine.failure!)
        }
    }

    private func loadTemplate(_ loaded: LoadedModel) throws -> ChatTemplate? {
        if let chatTemplate {
            let source = FileManager.default.fileExists(atPath: chatTemplate) ? try String(contentsOfFile: chatTemplate, encoding: .utf8) : chatTemplate
            let model = loaded.chatTemplate
            return try ChatTemplate(source: source, bosToken: model?.bosToken ?? "", eosToken: model?.eosToken ?? "")
        }
        return loaded.chatTemplate
    }
}

extension ToolCallFormat: ExpressibleByArgument {}
extension ReasoningFormat: ExpressibleByArgument {}
