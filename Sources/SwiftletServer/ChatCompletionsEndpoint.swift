import Foundation
import SwiftletJinja
import Hummingbird
import SwiftletAPI
import SwiftletEngine
import SwiftletModels
import SwiftletFormats
import SwiftletTokenizers

/// POST /v1/chat/completions: the conversation goes through the model's own chat template.
extension OpenAIServer {
    func chatCompletionsRoutes(_ g: GenerationService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.post("/v1/chat/completions") { request, context in try await self.chatCompletions(self.fields(request), g, context) }
        return routes
    }

    func chatCompletions(_ f: RequestFields, _ g: GenerationService, _ connection: ServerRequestContext) async throws -> Response {
        try checkModel(f)
        guard case .array(let raw)? = f.value("messages") else {
            throw OpenAIError.invalidRequest("'messages' must be a list of messages.", param: "messages")
        }
        guard !raw.isEmpty else { throw OpenAIError.invalidRequest("'messages' must not be empty.", param: "messages") }
        guard let template = g.chatTemplate else {
            throw OpenAIError.invalidRequest("This model has no chat template; use /v1/completions or start the server with --chat-template.")
        }
        let tools = try ChatToolSetup(f, template: template, g)
        try ToolRequest.checkMessages(raw)
        let messages: [ChatMessage]
        let rendered: String
        do {
            messages = try raw.map { try ChatMessage(JinjaValue($0)).parsingToolCallArguments() }
            rendered = try template.renderServing(messages: messages, addGenerationPrompt: try f.bool("add_generation_prompt") ?? true,
                                                  tools: tools.templateTools, extra: try ChatToolSetup.templateKwargs(f))
        } catch let e as OpenAIError {
            throw e
        } catch {
            throw OpenAIError.invalidRequest("The messages could not be rendered with the chat template: \(error)", param: "messages")
        }
        // The template writes any special tokens itself (BOS included), as in vLLM.
        let prompt = g.tokenizer.encode(rendered, addSpecialTokens: false, parseSpecial: true)
        let stream = try f.bool("stream") ?? false
        let includeUsage = try f.object("stream_options")?.bool("include_usage") ?? false
        var sampling = try samplingParams(f, chat: true)
        sampling.structuredOutput = try structuredOutput(f, g)
        try tools.apply(to: &sampling)
        let base = sampling
        let n = base.n
        if stream, let b = base.bestOf, b > n {
            throw OpenAIError.invalidRequest("best_of greater than n cannot be streamed.", param: "best_of")
        }
        let params = try finalize(base, promptLength: prompt.count, maxModelLen: g.engine.maxModelLen, vocabSize: g.engine.vocabSize,
                                  promptParam: "messages")
        let id = Self.newID("chatcmpl")
        let created = Int(Date().timeIntervalSince1970)
        let model = JSONValue.string(configuration.servedModelName)
        let job = try await GenerationJob(engine: g.engine, metrics: metrics, baseID: id, prompts: [prompt], params: [params])
        let wantsLogprobs = base.logprobs != nil

        // A client that hangs up aborts the request at once, streaming or not, wherever it is (in
        // the queue, where no write could fail, or generating), so its blocks are free by the next
        // step. The connection remembers a hang-up from before this point (see ClientCloseDetector).
        let watch = connection.whenClientCloses { job.close() }
        if !stream {
            defer {
                watch.cancel()
                job.close()
            }
            let out = try await job.collect()[0]
            var choices: [JSONValue] = []
            var completionTokens = 0
            for (j, c) in best(out.outputs, n: n).enumerated() {
                completionTokens += c.tokenIDs.count
                let (message, finishReason) = tools.reader.isActive ? tools.reader.message(c.text, finishReason: c.finishReason?.rawValue)
                    : (["role": "assistant", "content": .string(c.text)], c.finishReason?.rawValue)
                choices.append([
                    "index": .int(j),
                    "message": message,
                    "logprobs": wantsLogprobs ? chatLogprobs(c.logprobs ?? [], top: base.logprobs ?? 0, g.tokenizer) : .null,
                    "finish_reason": finishReason.map { .string($0) } ?? .null,
                    "stop_reason": stopReasonJSON(c.stopReason),
                ])
            }
            return Response.json([
                "id": .string(id), "object": "chat.completion", "created": .int(created), "model": model,
                "choices": .array(choices), "usage": usage(prompt: prompt.count, completion: completionTokens),
            ])
        }

        let body = ResponseBody { writer in
            defer {
                watch.cancel()
                job.close()
            }
            func chunk(_ choices: [JSONValue]) -> String {
                var o: [(String, JSONValue)] = [
                    ("id", .string(id)), ("object", "chat.completion.chunk"), ("created", .int(created)), ("model", model),
                    ("choices", .array(choices)),
                ]
                if includeUsage { o.append(("usage", .null)) }
                return sseEvent(.object(o))
            }
            // The role comes first, before any token, as OpenAI sends it.
            var head = ""
            for j in 0..<n {
                head += chunk([["index": .int(j), "delta": ["role": "assistant", "content": ""], "logprobs": .null, "finish_reason": .null]])
            }
            try await writer.write(ByteBuffer(string: head))
            var done = Set<Int>()
            var completionTokens = 0
            var states = [Int: ChatStreamState]()
            for await (i, out) in job.outputs {
                job.observe(i, out)
                var text = ""
                for c in out.outputs where !done.contains(c.index) {
                    guard !c.newText.isEmpty || c.finished || (wantsLogprobs && !c.newTokenIDs.isEmpty) else { continue }
                    if tools.reader.isActive {
                        // Reasoning and tool calls are read from the whole answer so far.
                        if c.finished {
                            done.insert(c.index)
                            completionTokens += c.tokenIDs.count
                        }
                        let lp = wantsLogprobs ? self.chatLogprobs(Array((c.logprobs ?? []).suffix(c.newTokenIDs.count)), top: base.logprobs ?? 0, g.tokenizer)
                            : JSONValue.null
                        var state = states[c.index] ?? ChatStreamState(reader: tools.reader)
                        let entries = ChatToolSetup.streamChoices(&state, index: c.index, newText: c.newText,
                                                                  finishReason: c.finishReason?.rawValue, logprobs: lp)
                        states[c.index] = state
                        text += entries.map { chunk([$0]) }.joined()
                        continue
                    }
                    var delta: [(String, JSONValue)] = []
                    if !c.newText.isEmpty || !c.finished { delta.append(("content", .string(c.newText))) }
                    if c.finished {
                        done.insert(c.index)
                        completionTokens += c.tokenIDs.count
                    }
                    let lp = wantsLogprobs ? self.chatLogprobs(Array((c.logprobs ?? []).suffix(c.newTokenIDs.count)), top: base.logprobs ?? 0, g.tokenizer)
                        : JSONValue.null
                    text += chunk([[
                        "index": .int(c.index), "delta": .object(delta), "logprobs": lp,
                        "finish_reason": c.finishReason.map { .string($0.rawValue) } ?? .null,
                    ]])
                }
                if !text.isEmpty { try await writer.write(ByteBuffer(string: text)) }
            }
            if includeUsage {
                try await writer.write(ByteBuffer(string: sseEvent([
                    "id": .string(id), "object": "chat.completion.chunk", "created": .int(created), "model": model,
                    "choices": [], "usage": usage(prompt: prompt.count, completion: completionTokens),
                ])))
            }
            if let event = job.streamErrorEvent { try await writer.write(ByteBuffer(string: event)) }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: sseHeaders, body: body)
    }

    /// Chat logprobs: per token its text, logprob, UTF-8 bytes and the `top` most likely alternatives.
    func chatLogprobs(_ entries: [PositionLogprobs], top: Int, _ tokenizer: any Tokenizer) -> JSONValue {
        func item(_ id: Int, _ lp: Float) -> [(String, JSONValue)] {
            let s = tokenizer.decode([id], skipSpecialTokens: false)
            return [("token", .string(s)), ("logprob", .double(Double(lp))), ("bytes", .array(s.utf8.map { .int(Int($0)) }))]
        }
        let content: [JSONValue] = entries.map { e in
            .object(item(e.chosen.tokenID, e.chosen.logprob)
                + [("top_logprobs", .array(e.top.prefix(top).map { .object(item($0.tokenID, $0.logprob)) }))])
        }
        return ["content": .array(content)]
    }
}
