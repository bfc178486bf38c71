import Foundation
import Testing
import SwiftletTestSupport
import SwiftletFormats
import SwiftletJinja
import SwiftletModels
import SwiftletTokenizers
@testable import SwiftletServer

/// Tool conversations rendered by model directories' real templates (Qwen2.5's in the qwen2
/// fixture, Llama 3.2's in the Llama-3-style mistral fixture) exactly as transformers'
/// `apply_chat_template(tools=...)` renders them (chat_tools.json, written by
/// scripts/make_chat_fixtures.py): through `ChatTemplate`, and through the server's /tokenize and
/// /v1/chat/completions with arguments sent as OpenAI's JSON strings.
@Suite(.serialized) struct ToolTemplateTests {
    static let directories = ["qwen2", "mistral"]

    static func directory(_ name: String) -> URL { TestPaths.fixtures.appendingPathComponent("families/\(name)") }

    static func cases(_ name: String) throws -> [JSONValue] {
        try JSONValue.parse(Data(contentsOf: directory(name).appendingPathComponent("chat_tools.json")))["cases"].array ?? []
    }

    /// The messages as an OpenAI client sends them: each call's arguments a JSON string.
    static func openAIMessages(_ messages: JSONValue) -> JSONValue {
        .array((messages.array ?? []).map { m in
            guard case .array(let calls) = m["tool_calls"], case .object(var o) = m else { return m }
            let stringCalls: [JSONValue] = calls.map { c in
                guard case .object(var co) = c, case .object(var fo) = c["function"] else { return c }
                if let i = fo.firstIndex(where: { $0.0 == "arguments" }) { fo[i].1 = .string(fo[i].1.serialized()) }
                if let i = co.firstIndex(where: { $0.0 == "function" }) { co[i].1 = .object(fo) }
                return .object(co)
            }
            if let i = o.firstIndex(where: { $0.0 == "tool_calls" }) { o[i].1 = .array(stringCalls) }
            return .object(o)
        })
    }

    @Test(arguments: directories)
    func templateRendersToolsAsTransformers(directory name: String) throws {
        let loaded = try loadModel(path: Self.directory(name).path)
        let template = try #require(loaded.chatTemplate)
        #expect(template.rendersTools)
        let cases = try Self.cases(name)
        #expect(cases.count >= 6)
        for c in cases {
            let label = "\(name)/\(c["name"].string ?? "")/gen=\(c["add_generation_prompt"])"
            let tools = (c["tools"].array ?? []).map { JinjaValue($0) }
            var extra: [String: JinjaValue] = [:]
            for (k, v) in c["kwargs"].object ?? [] { extra[k] = JinjaValue(v) }
            let gen = c["add_generation_prompt"].bool ?? true
            for messages in [c["messages"], Self.openAIMessages(c["messages"])] {
                let parsed = try (messages.array ?? []).map { try ChatMessage(JinjaValue($0)).parsingToolCallArguments() }
                let text = try template.renderServing(messages: parsed, addGenerationPrompt: gen, tools: tools, extra: extra)
                #expect(text == c["text"].string, "\(label)")
                let ids = loaded.tokenizer.encode(text, addSpecialTokens: false, parseSpecial: true)
                #expect(ids == (c["ids"].array ?? []).compactMap(\.int), "\(label)")
            }
        }
    }

    @Test(arguments: directories)
    func serverTokenizesToolConversationsAsTransformers(directory name: String) async throws {
        let server = try await TestServer(model: Self.directory(name).path, blocks: 128)
        for c in try Self.cases(name) {
            let label = "\(name)/\(c["name"].string ?? "")"
            let body: JSONValue = [
                "messages": Self.openAIMessages(c["messages"]), "tools": c["tools"],
                "add_generation_prompt": c["add_generation_prompt"], "chat_template_kwargs": c["kwargs"],
            ]
            let (status, tokenized) = try await server.json("POST", "/tokenize", body.serialized())
            #expect(status == 200, "\(label): \(tokenized)")
            #expect(tokenized["tokens"] as? [Int] == (c["ids"].array ?? []).compactMap(\.int), "\(label)")
            guard c["add_generation_prompt"] == .bool(true) else { continue }
            // The tiny models' context (256) is shorter than these prompts, so the chat route's
            // rendering shows in its context-length error, which counts the prompt's tokens.
            let (chatStatus, answer) = try await server.json("POST", "/v1/chat/completions", body.serialized())
            let error = answer["error"] as? [String: Any]
            #expect(chatStatus == 400 && error?["code"] as? String == "context_length_exceeded", "\(label): \(answer)")
            #expect((error?["message"] as? String)?.contains("(\(c["ids"].array?.count ?? 0) in the prompt") == true, "\(label)")
        }
        await server.stop()
    }

    /// SmolLM2's template prints no tools: the generic prompt goes into the system message, and
    /// earlier calls and results are written as `<tool_call>` / `<tool_response>` blocks.
    @Test func genericPromptForTemplatesWithoutTools() throws {
        let source = try String(contentsOf: TestPaths.fixtures.appendingPathComponent("templates/smollm2.jinja"), encoding: .utf8)
        let template = try ChatTemplate(source: source)
        #expect(!template.rendersTools)
        let tool: JinjaValue = ["type": "function", "function": ["name": "get_weather", "parameters": ["type": "object"]]]
        let call: JinjaValue = ["id": "call_1", "type": "function", "function": ["name": "get_weather", "arguments": #"{"city": "Oslo"}"#]]
        let messages = [
            ChatMessage(role: "user", content: "Weather?"),
            ChatMessage(role: "assistant", content: nil, toolCalls: [call]).parsingToolCallArguments(),
            ChatMessage(role: "tool", content: "rain", toolCallID: "call_1"),
        ]
        let text = try template.renderServing(messages: messages, addGenerationPrompt: true, tools: [tool])
        let prompt = try GenericToolPrompt.text(tools: [tool])
        #expect(prompt.contains(#"{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}"#))
        #expect(text == "<|im_start|>system\n\(prompt)<|im_end|>\n<|im_start|>user\nWeather?<|im_end|>\n"
            + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\nrain\n</tool_response><|im_end|>\n<|im_start|>assistant\n")
        // Without tools the template renders as before.
        #expect(try template.renderServing(messages: [messages[0]], addGenerationPrompt: true, tools: nil)
            == template.render(messages: [messages[0]], addGenerationPrompt: true))
    }
}
