import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletFormats
@testable import SwiftletJinja
@testable import SwiftletTokenizers

@Suite struct ChatTemplateTests {
    static let smolLM2Path = TestPaths.smolLM2IfInstalled
    static let storiesPath = TestPaths.stories260K

    @Test(.enabled(if: smolLM2Path != nil, "needs the SmolLM2 GGUF"))
    func loadsSmolLM2TemplateFromItsGGUF() throws {
        let gguf = try GGUFFile(path: Self.smolLM2Path!)
        let template = try ChatTemplate(gguf: gguf)
        #expect(template.source == (try TemplateFixtures.source("smollm2")))
        #expect(template.bosToken == "<|im_start|>")
        #expect(template.eosToken == "<|im_end|>")
        let out = try template.render(
            messages: [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi")],
            addGenerationPrompt: true)
        #expect(out == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: storiesPath), "needs stories260K.gguf"))
    func ggufWithoutTemplateThrows() throws {
        let gguf = try GGUFFile(path: Self.storiesPath)
        #expect(throws: JinjaError.self) { try ChatTemplate(gguf: gguf) }
    }

    @Test func loadsFromTokenizerConfig() throws {
        let config = #"""
        {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
         "chat_template": [{"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}"},
                           {"name": "tool_use", "template": "tools={{ tools | length }}"}]}
        """#
        let template = try ChatTemplate(tokenizerConfig: Data(config.utf8))
        #expect(try template.render(messages: [ChatMessage(role: "user", content: "x")], addGenerationPrompt: false) == "<s>x</s>")
        let tool = try ChatTemplate(tokenizerConfig: Data(config.utf8), name: "tool_use")
        #expect(try tool.render(messages: [], addGenerationPrompt: false, tools: [["type": "function"]]) == "tools=1")
        #expect(throws: JinjaError.self) { try ChatTemplate(tokenizerConfig: Data(#"{"eos_token": "</s>"}"#.utf8)) }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chat-template-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(config.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        try "[{{ messages[0].role }}]{{ eos_token }}\n".write(to: dir.appendingPathComponent("chat_template.jinja"), atomically: true, encoding: .utf8)
        let fromDir = try ChatTemplate(modelDirectory: dir)
        #expect(try fromDir.render(messages: [ChatMessage(role: "user", content: "x")], addGenerationPrompt: false) == "[user]</s>")
    }

    @Test func syntaxErrorsReportPosition() {
        do {
            _ = try ChatTemplate(source: "{% for m in messages %}\n{{ m.content }\n{% endfor %}")
            Issue.record("parsed a broken template")
        } catch let e as JinjaError {
            #expect(e.kind == .syntax)
            #expect(e.position?.line == 2)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func contentPartsFollowTheTemplatesExpectation() throws {
        let parts: [JinjaValue] = [["type": "text", "text": "Look"], ["type": "image"], ["type": "text", "text": "here"]]
        let message = ChatMessage(role: "user", parts: parts)

        let stringTemplate = try ChatTemplate(source: "{% for m in messages %}{{ m['content'] }}{% endfor %}")
        #expect(stringTemplate.contentFormat == .string)
        #expect(try stringTemplate.render(messages: [message], addGenerationPrompt: false) == "Look\nhere")

        let partsTemplate = try ChatTemplate(source: try TemplateFixtures.source("gemma3"))
        #expect(partsTemplate.contentFormat == .openAI)
        let out = try partsTemplate.render(messages: [message], addGenerationPrompt: true)
        #expect(out == "<start_of_turn>user\nLook<start_of_image>here<end_of_turn>\n<start_of_turn>model\n")
    }

    @Test func messagesFromJSONKeepToolCallsAndReasoning() throws {
        let json = #"""
        {"role": "assistant", "content": null, "reasoning_content": "think",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]}
        """#
        let message = try ChatMessage(try JinjaValue(json: json))
        if case .some = message.content { Issue.record("content should be nil") }
        #expect(message.toolCalls?.count == 1)
        let value = message.jinjaValue(flattenParts: true)
        #expect(value.objectValue?.keys == ["thinking", "role", "content", "tool_calls", "reasoning_content"])
        let template = try ChatTemplate(source: "{% for m in messages %}{{ m.content }}|{{ m.thinking }}|{{ m.tool_calls[0].function.arguments | tojson }}{% endfor %}")
        #expect(try template.render(messages: [message], addGenerationPrompt: false) == #"None|think|{"x": 1}"#)
        #expect(throws: JinjaError.self) { try ChatMessage(try JinjaValue(json: #"{"content": "no role"}"#)) }
    }

    @Test func extraVariablesAndToolsReachTheTemplate() throws {
        let template = try ChatTemplate(
            source: "{{ tools is none }}|{{ documents is none }}|{{ date_string | default('none') }}|{{ add_generation_prompt }}",
            bosToken: "<s>")
        #expect(try template.render(messages: [], addGenerationPrompt: true) == "True|True|none|True")
        #expect(try template.render(messages: [], addGenerationPrompt: false, tools: [], extra: ["date_string": "1 Jan 2025"]) == "False|True|1 Jan 2025|False")
    }
}
