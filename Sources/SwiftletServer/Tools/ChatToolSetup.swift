import SwiftletAPI
import SwiftletEngine
import SwiftletFormats
import SwiftletJinja
import SwiftletTokenizers

/// What a chat request's tools and the server's parsers make of one request: the tools for the
/// template, the grammar that enforces a required call, and the reader of the answer.
struct ChatToolSetup: Sendable {
    let request: ToolRequest?
    let format: ToolCallFormat
    let reader: ChatOutputReader

    /// Reads `tools` and friends and picks the call format: the server's `--tool-call-parser`,
    /// or the one the template's own prompt asks for (hermes when the generic prompt is used).
    init(_ f: RequestFields, template: ChatTemplate, _ g: GenerationService) throws {
        let request = try ToolRequest(f)
        self.request = request
        format = g.toolCallParser ?? (template.rendersTools ? ToolCallFormat.inferred(fromTemplate: template.source) : .hermes)
        var reader = ChatOutputReader(reasoning: g.reasoningParser.map { ReasoningParser(format: $0) }, tools: nil)
        if let request, request.choice != .none {
            reader.tools = ToolCallParser(format: format, callsOnly: request.choice != .auto)
        }
        self.reader = reader
    }

    /// vLLM's `chat_template_kwargs`: further template variables (`date_string`,
    /// `enable_thinking`, ...).
    static func templateKwargs(_ f: RequestFields) throws -> [String: JinjaValue] {
        guard let o = try f.object("chat_template_kwargs") else { return [:] }
        var out: [String: JinjaValue] = [:]
        for key in o.keys { out[key] = JinjaValue(o.json[key]) }
        return out
    }

    /// The tools as the template receives them, nil without tools.
    var templateTools: [JinjaValue]? { request?.templateTools }

    /// Adds what the tools need to the sampling parameters: the grammar of a required or named
    /// call, and special tokens kept in the text when the format's marker is one (Mistral's).
    func apply(to params: inout SamplingParams) throws {
        guard let request, request.choice != .none else { return }
        if format == .mistral { params.skipSpecialTokens = false }
        switch request.choice {
        case .required, .function:
            // One grammar per request: a call that must be made leaves no room for another shape.
            if params.structuredOutput != nil {
                throw OpenAIError.invalidRequest(
                    "tool_choice that requires a call cannot go with response_format or another output constraint.",
                    param: "tool_choice")
            }
            params.structuredOutput = .gbnf(try ToolGrammar.gbnf(request, format: format))
        case .auto, .none:
            break
        }
    }

    /// The `choices` entries one step of one streamed choice sends: a chunk per delta (the
    /// step's logprobs on the first), the finish reason on the last.
    static func streamChoices(_ state: inout ChatStreamState, index: Int, newText: String, finishReason: String?,
                              logprobs: JSONValue) -> [JSONValue] {
        let finished = finishReason != nil
        var deltas = state.deltas(newText, final: finished)
        if deltas.isEmpty {
            guard finished || !logprobs.isNull else { return [] }
            deltas = [[:]]
        }
        let reason = finishReason == "stop" && state.madeCalls ? "tool_calls" : finishReason
        return deltas.enumerated().map { k, delta in
            [
                "index": .int(index), "delta": delta, "logprobs": k == 0 ? logprobs : .null,
                "finish_reason": k == deltas.count - 1 ? reason.map { .string($0) } ?? .null : .null,
            ]
        }
    }
}
