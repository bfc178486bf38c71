import Foundation
import SwiftletAPI
import SwiftletEngine

/// The engine requests behind one HTTP request (one per prompt), with their outputs merged into
/// one stream tagged by prompt index.
///
/// Ending the job early (a client that went away, a failed write, a cancelled task) aborts every
/// request still running, so its KV blocks are free by the next engine step.
final class GenerationJob: @unchecked Sendable {
    let requestIDs: [String]
    let promptTokenIDs: [[Int]]
    /// Every prompt's outputs, tagged by prompt index; outputs a slow reader has not taken yet
    /// are merged (see `OutputMailbox`).
    let outputs = OutputMailbox()
    let started: Date
    private let engine: AsyncLLMEngine
    private let metrics: ServerMetrics
    private var firstToken: [Date?]
    private var lastToken: [Date?]
    private var finished: [Bool]
    /// Why the engine ended one of the requests with finish reason `error`, if it did.
    private(set) var engineError: String?

    /// Submits every prompt; if one is refused, the ones already queued are aborted and the
    /// refusal is thrown as an OpenAI error.
    init(engine: AsyncLLMEngine, metrics: ServerMetrics, baseID: String, prompts: [[Int]], params: [SamplingParams]) async throws {
        self.engine = engine
        self.metrics = metrics
        started = Date()
        promptTokenIDs = prompts
        requestIDs = prompts.indices.map { prompts.count == 1 ? baseID : "\(baseID)-\($0)" }
        firstToken = Array(repeating: nil, count: prompts.count)
        lastToken = Array(repeating: nil, count: prompts.count)
        finished = Array(repeating: false, count: prompts.count)
        var streams: [AsyncStream<RequestOutput>] = []
        do {
            for (i, prompt) in prompts.enumerated() {
                streams.append(try await engine.generate(id: requestIDs[i], promptTokenIDs: prompt, params: params[i]))
            }
        } catch {
            for id in requestIDs.prefix(streams.count) { engine.abort(id) }
            throw Self.openAIError(error)
        }
        let mailbox = outputs
        Task {
            await withTaskGroup(of: Void.self) { group in
                for (i, s) in streams.enumerated() {
                    group.addTask { for await out in s { mailbox.put(i, out) } }
                }
            }
            mailbox.finish()
        }
    }

    /// Aborts whatever has not finished; call it when the response ends, however it ends.
    func close() {
        for (i, id) in requestIDs.enumerated() where !finished[i] {
            finished[i] = true
            engine.abort(id)
            metrics.recordAborted()
        }
    }

    /// Records latency metrics for an output of prompt `i`; call it once per output, in order.
    func observe(_ i: Int, _ out: RequestOutput) {
        let now = Date()
        let newTokens = out.outputs.reduce(0) { $0 + $1.newTokenIDs.count }
        if newTokens > 0 {
            if firstToken[i] == nil {
                firstToken[i] = now
                metrics.recordFirstToken(after: now.timeIntervalSince(started))
            } else if let last = lastToken[i] {
                metrics.recordInterToken(now.timeIntervalSince(last) / Double(newTokens))
            }
            lastToken[i] = now
        }
        if out.finished && !finished[i] {
            finished[i] = true
            if let e = out.error, out.outputs.contains(where: { $0.finishReason == .error }) { engineError = e }
            let reason = out.outputs.first?.finishReason?.rawValue ?? "abort"
            metrics.recordFinished(seconds: now.timeIntervalSince(started), promptTokens: out.promptTokenIDs.count,
                                   generationTokens: out.outputs.reduce(0) { $0 + $1.tokenIDs.count }, finishReason: reason)
        }
    }

    /// Waits for every request to finish; returns the final output of each prompt.
    func collect() async throws -> [RequestOutput] {
        var finals = [RequestOutput?](repeating: nil, count: requestIDs.count)
        for await (i, out) in outputs {
            observe(i, out)
            if out.finished { finals[i] = out }
        }
        try Task.checkCancellation()
        if let error = finals.compactMap({ $0?.error }).first {
            throw OpenAIError(status: 500, message: error, type: "internal_server_error")
        }
        guard finals.allSatisfy({ $0 != nil }) else {
            throw OpenAIError(status: 503, message: "The server is shutting down.", type: "server_overloaded")
        }
        return finals.map { $0! }
    }

    /// A stream's last event before `[DONE]` when the engine ended it with an error (as vLLM
    /// sends one): the tokens streamed so far stand, and the client learns why the rest is missing.
    var streamErrorEvent: String? {
        engineError.map {
            "data: " + String(decoding: OpenAIError(status: 500, message: $0, type: "internal_server_error").jsonBody(), as: UTF8.self) + "\n\n"
        }
    }

    static func openAIError(_ error: any Error) -> any Error {
        switch error {
        case let e as EngineError:
            switch e {
            case .unavailable(let why):
                return OpenAIError(status: 503, message: "The engine has stopped: \(why).", type: "server_error")
            case .promptTooLong(_, let n, let limit):
                return OpenAIError(status: 400, message: "This model's maximum context length is \(limit) tokens; the prompt has \(n).",
                                   type: "invalid_request_error", param: "prompt", code: "context_length_exceeded")
            default:
                var text = e.description
                if let r = text.range(of: "': ") { text = String(text[r.upperBound...]) }
                return OpenAIError.invalidRequest(text.prefix(1).uppercased() + text.dropFirst())
            }
        case let e as AsyncEngineError:
            switch e {
            case .queueFull: return OpenAIError.overloaded()
            case .shutDown: return OpenAIError(status: 503, message: "The server is shutting down.", type: "server_overloaded")
            }
        default:
            return error
        }
    }
}
