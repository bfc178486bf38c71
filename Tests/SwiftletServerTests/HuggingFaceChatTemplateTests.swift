import Foundation
import Testing
import SwiftletTestSupport
import SwiftletModels
import SwiftletTokenizers
@testable import SwiftletServer

/// A Hugging Face directory's own chat template (Qwen2.5's, in `tokenizer_config.json`) renders
/// chat as transformers' `apply_chat_template` does (Tests/Fixtures/families/qwen2/chat.json,
/// written by scripts/make_chat_fixtures.py), through /tokenize and /v1/chat/completions.
@Suite(.serialized) struct HuggingFaceChatTemplateTests {
    static let directory = TestPaths.repoRoot.appendingPathComponent("Tests/Fixtures/families/qwen2")

    struct Case: Decodable {
        let messages: [[String: String]]
        let add_generation_prompt: Bool
        let text: String
        let ids: [Int]
    }

    static func cases() throws -> [Case] {
        struct File: Decodable { let cases: [Case] }
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: directory.appendingPathComponent("chat.json"))).cases
    }

    @Test func loadingReturnsTheDirectoryTemplate() throws {
        let loaded = try loadModel(path: Self.directory.path)
        let template = try #require(loaded.chatTemplate)
        for c in try Self.cases() {
            let messages = c.messages.map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
            #expect(try template.render(messages: messages, addGenerationPrompt: c.add_generation_prompt) == c.text)
        }
    }

    @Test func tokenizeAndChatMatchTransformers() async throws {
        let server = try await TestServer(model: Self.directory.path, blocks: 64)
        for c in try Self.cases() {
            let messages = String(decoding: try JSONEncoder().encode(c.messages), as: UTF8.self)
            let (status, tokenized) = try await server.json(
                "POST", "/tokenize", #"{"messages": \#(messages), "add_generation_prompt": \#(c.add_generation_prompt)}"#)
            #expect(status == 200)
            #expect(tokenized["tokens"] as? [Int] == c.ids, "\(c.text)")
            let (chatStatus, chat) = try await server.json(
                "POST", "/v1/chat/completions",
                #"{"messages": \#(messages), "add_generation_prompt": \#(c.add_generation_prompt), "max_tokens": 1}"#)
            #expect(chatStatus == 200, "\(chat)")
            #expect((chat["usage"] as? [String: Any])?["prompt_tokens"] as? Int == c.ids.count, "\(c.text)")
        }
        await server.stop()
    }
}
