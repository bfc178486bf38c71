import Foundation
import Hummingbird
import SwiftletAPI
import SwiftletEngine
import SwiftletModels
import SwiftletFormats
import SwiftletJinja
import SwiftletTokenizers

/// POST /v1/completions.
extension OpenAIServer {
    func completionsRoutes(_ g: GenerationService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.post("/v1/completions") { request, context in try await self.completions(self.fields(request), g, context) }
        return routes
    }

    func completions(_ f: RequestFields, _ g: GenerationService, _ connection: ServerRequestContext) async throws -> Response {
        try checkModel(f)
        let prompts = try completionPrompts(f, g)
        let stream = try f.bool("stream") ?? false
        let echo = try f.bool("echo") ?? false
        let includeUsage = try f.object("stream_options")?.bool("include_usage") ?? false
        var base = try samplingParams(f, chat: false)
        base.structuredOutput = try structuredOutput(f, g)
        if echo, let k = base.logprobs, base.promptLogprobs == nil { base.promptLogprobs = k }
        let n = base.n
        if stream, let b = base.bestOf, b > n {
            throw OpenAIError.invalidRequest("best_of greater than n cannot be streamed.", param: "best_of")
        }
        let params = try prompts.map {
            try finalize(base, promptLength: $0.count, maxModelLen: g.engine.maxModelLen, vocabSize: g.engine.vocabSize, promptParam: "prompt")
        }
        let id = Self.newID("cmpl")
        let job = try await GenerationJob(engine: g.engine, metrics: metrics, baseID: id, prompts: prompts, params: params)
        let context = CompletionContext(server: self, tokenizer: g.tokenizer, id: id, created: Int(Date().timeIntervalSince1970), n: n, echo: echo,
                                        logprobs: base.logprobs)
        // A client that hangs up aborts the request at once, streaming or not, wherever it is (in
        // the queue, where no write could fail, or generating), so its blocks are free by the next
        // step. The connection remembers a hang-up from before this point (see ClientCloseDetector).
        let watch = connection.whenClientCloses { job.close() }
        if !stream {
            defer {
                watch.cancel()
                job.close()
            }
            let finals = try await job.collect()
            var choices: [JSONValue] = []
            var completionTokens = 0
            for (i, out) in finals.enumerated() {
                for (j, c) in best(out.outputs, n: n).enumerated() {
                    completionTokens += c.tokenIDs.count
                    choices.append(context.choice(index: i * n + j, prompt: out, completion: c))
                }
            }
            let promptTokens = prompts.reduce(0) { $0 + $1.count }
            return Response.json([
                "id": .string(id), "object": "text_completion", "created": .int(context.created),
                "model": .string(configuration.servedModelName), "choices": .array(choices),
                "usage": usage(prompt: promptTokens, completion: completionTokens),
            ])
        }
        let body = ResponseBody { writer in
            defer {
                watch.cancel()
                job.close()
            }
            var sent = Set<Int>()
            var echoed = Set<Int>()
            var finals: [Int: Int] = [:]
            for await (i, out) in job.outputs {
                job.observe(i, out)
                var chunks = ""
                for c in out.outputs where !sent.contains(i * n + c.index) {
                    let index = i * n + c.index
                    var text = c.newText
                    if echo && echoed.insert(index).inserted { text = context.promptText(out) + text }
                    guard !text.isEmpty || c.finished || !c.newTokenIDs.isEmpty else { continue }
                    if c.finished {
                        sent.insert(index)
                        finals[index] = c.tokenIDs.count
                    }
                    let lp = context.logprobs == nil ? JSONValue.null
                        : context.logprobsJSON(Array((c.logprobs ?? []).suffix(c.newTokenIDs.count)), offset: c.text.count - c.newText.count)
                    var chunk: [(String, JSONValue)] = [
                        ("id", .string(id)), ("object", "text_completion"), ("created", .int(context.created)),
                        ("model", .string(self.configuration.servedModelName)),
                        ("choices", [[
                            "index": .int(index), "text": .string(text), "logprobs": lp,
                            "finish_reason": c.finishReason.map { .string($0.rawValue) } ?? .null,
                            "stop_reason": stopReasonJSON(c.stopReason),
                        ]]),
                    ]
                    if includeUsage { chunk.append(("usage", .null)) }
                    chunks += sseEvent(.object(chunk))
                }
                if !chunks.isEmpty { try await writer.write(ByteBuffer(string: chunks)) }
            }
            if includeUsage {
                let promptTokens = prompts.reduce(0) { $0 + $1.count }
                let completionTokens = finals.values.reduce(0, +)
                try await writer.write(ByteBuffer(string: sseEvent([
                    "id": .string(id), "object": "text_completion", "created": .int(context.created),
                    "model": .string(self.configuration.servedModelName), "choices": [],
                    "usage": usage(prompt: promptTokens, completion: completionTokens),
                ])))
            }
            if let event = job.streamErrorEvent { try await writer.write(ByteBuffer(string: event)) }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: sseHeaders, body: body)
    }

    /// `prompt` as a string, a list of strings, a list of token ids or a list of such lists.
    private func completionPrompts(_ f: RequestFields, _ g: GenerationService) throws -> [[Int]] {
        let bad = OpenAIError.invalidRequest("'prompt' must be a string, a list of strings, a list of token ids or a list of lists of token ids.",
                                             param: "prompt")
        guard let v = f.value("prompt") else { throw OpenAIError.invalidRequest("'prompt' is required.", param: "prompt") }
        func ids(_ a: [JSONValue]) throws -> [Int] {
            try a.map {
                guard case .int(let t) = $0 else { throw bad }
                guard t >= 0 && t < g.engine.vocabSize else {
                    throw OpenAIError.invalidRequest("Token id \(t) is outside the vocabulary (size \(g.engine.vocabSize)).", param: "prompt")
                }
                return t
            }
        }
        switch v {
        case .string(let s): return [g.tokenizer.encode(s)]
        case .array(let a):
            guard let first = a.first else { throw OpenAIError.invalidRequest("'prompt' must not be empty.", param: "prompt") }
            switch first {
            case .int: return [try ids(a)]
            case .string:
                return try a.map {
                    guard case .string(let s) = $0 else { throw bad }
                    return g.tokenizer.encode(s)
                }
            case .array:
                return try a.map {
                    guard case .array(let inner) = $0 else { throw bad }
                    return try ids(inner)
                }
            default: throw bad
            }
        default: throw bad
        }
    }
}

/// What the choices of one completion response share.
struct CompletionContext {
    let server: OpenAIServer
    let tokenizer: any Tokenizer
    let id: String
    let created: Int
    let n: Int
    let echo: Bool
    let logprobs: Int?

    func promptText(_ out: RequestOutput) -> String {
        tokenizer.decode(out.promptTokenIDs, skipSpecialTokens: true)
    }

    func choice(index: Int, prompt out: RequestOutput, completion c: CompletionOutput) -> JSONValue {
        var text = c.text
        var lp = JSONValue.null
        if logprobs != nil {
            var promptEntries: [PositionLogprobs?] = []
            if echo {
                promptEntries = out.promptLogprobs ?? out.promptTokenIDs.map { _ in nil }
                if !promptEntries.isEmpty { promptEntries[0] = nil }
            }
            lp = logprobsJSON(c.logprobs ?? [], offset: 0, prompt: echo ? (out.promptTokenIDs, promptEntries) : nil)
        }
        if echo { text = promptText(out) + text }
        return [
            "index": .int(index), "text": .string(text), "logprobs": lp,
            "finish_reason": c.finishReason.map { .string($0.rawValue) } ?? .null,
            "stop_reason": stopReasonJSON(c.stopReason),
        ]
    }

    /// OpenAI's legacy logprobs object: parallel lists of tokens, their logprobs, the top
    /// alternatives at each position (as token -> logprob) and each token's offset in the text.
    func logprobsJSON(_ entries: [PositionLogprobs], offset: Int, prompt: ([Int], [PositionLogprobs?])? = nil) -> JSONValue {
        var tokens: [JSONValue] = [], tokenLogprobs: [JSONValue] = [], top: [JSONValue] = [], offsets: [JSONValue] = []
        var at = offset
        func add(token id: Int, _ e: PositionLogprobs?) {
            let s = tokenizer.decode([id], skipSpecialTokens: false)
            tokens.append(.string(s))
            offsets.append(.int(at))
            at += s.count
            guard let e else {
                tokenLogprobs.append(.null)
                top.append(.null)
                return
            }
            tokenLogprobs.append(.double(Double(e.chosen.logprob)))
            var dict: [(String, JSONValue)] = []
            var seen = Set<String>()
            for t in e.top.prefix(logprobs ?? 0) {
                let key = tokenizer.decode([t.tokenID], skipSpecialTokens: false)
                if seen.insert(key).inserted { dict.append((key, .double(Double(t.logprob)))) }
            }
            if seen.insert(s).inserted { dict.append((s, .double(Double(e.chosen.logprob)))) }
            top.append(.object(dict))
        }
        if let (ids, promptEntries) = prompt {
            for (k, id) in ids.enumerated() { add(token: id, k < promptEntries.count ? promptEntries[k] : nil) }
        }
        for e in entries { add(token: e.chosen.tokenID, e) }
        return ["tokens": .array(tokens), "token_logprobs": .array(tokenLogprobs), "top_logprobs": .array(top), "text_offset": .array(offsets)]
    }
}

/// The `n` completions to return: all of them, or with `best_of` the `n` most likely.
func best(_ outputs: [CompletionOutput], n: Int) -> [CompletionOutput] {
    guard outputs.count > n else { return outputs }
    return Array(outputs.sorted { $0.cumulativeLogprob > $1.cumulativeLogprob }.prefix(n))
}

func stopReasonJSON(_ r: StopReason?) -> JSONValue {
    switch r {
    case .token(let t)?: return .int(t)
    case .string(let s)?: return .string(s)
    case nil: return .null
    }
}

func usage(prompt: Int, completion: Int) -> JSONValue {
    ["prompt_tokens": .int(prompt), "total_tokens": .int(prompt + completion), "completion_tokens": .int(completion)]
}

/// One server-sent event carrying a JSON chunk.
func sseEvent(_ value: JSONValue) -> String { "data: " + value.serialized() + "\n\n" }

let sseHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
