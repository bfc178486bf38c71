import Foundation
import Testing
@testable import SwiftletJinja
@testable import SwiftletTokenizers

/// Fixtures written by scripts/make_template_fixtures.py: templates, conversations, and what
/// Python's jinja2 renders for them with transformers' settings.
enum TemplateFixtures {
    static let directory = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/templates")

    static func json(_ name: String) throws -> JinjaValue {
        try JinjaValue(json: try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func source(_ template: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent("\(template).jinja"), encoding: .utf8)
    }

    static let templateNames = ["smollm2", "llama2", "llama3", "llama31", "mistral", "qwen25", "gemma", "gemma3", "chatml", "phi3"]

    /// Checks a render result against a fixture entry holding `output`, `raised` (a
    /// `raise_exception` message) or `error` (any runtime failure in Python).
    static func check(_ result: Result<String, Error>, against expected: JinjaObject, _ label: String) {
        switch (result, expected["output"], expected["raised"], expected["error"]) {
        case (.success(let got), .string(let want)?, _, _):
            #expect(got == want, "\(label): rendering differs")
            if got != want { firstDifference(got, want, label) }
        case (.failure(let e as JinjaError), _, .string(let want)?, _):
            #expect(e.kind == .raised, "\(label): expected raise_exception, got \(e)")
            #expect(e.message == want.replacingOccurrences(of: "TemplateError: ", with: ""), "\(label)")
        case (.failure(let e as JinjaError), _, _, .string):
            #expect(e.kind == .runtime, "\(label): expected a runtime error, got \(e)")
        case (.success(let got), _, _, _):
            Issue.record("\(label): rendered \(got.debugDescription) but Python failed with \(expected.pairs.last!.value.pythonStr)")
        case (.failure(let e), _, _, _):
            Issue.record("\(label): failed with \(e) but Python rendered \(expected["output"]?.pythonRepr ?? "?")")
        }
    }

    static func firstDifference(_ got: String, _ want: String, _ label: String) {
        let g = Array(got.unicodeScalars), w = Array(want.unicodeScalars)
        let i = (0..<min(g.count, w.count)).first { g[$0] != w[$0] } ?? min(g.count, w.count)
        let ctx = { (a: [Unicode.Scalar]) in PyString.make(a[max(0, i - 30)..<min(a.count, i + 30)]).debugDescription }
        Issue.record("\(label): first difference at \(i): got \(ctx(g)) want \(ctx(w))")
    }
}

@Suite struct ChatTemplateFixtureTests {
    @Test(arguments: TemplateFixtures.templateNames)
    func rendersLikeJinja2(template name: String) throws {
        let expected = try #require(try TemplateFixtures.json("expected.json").objectValue?[name]?.objectValue)
        let conversations = try #require(try TemplateFixtures.json("conversations.json").arrayValue)
        var template = try ChatTemplate(
            source: try TemplateFixtures.source(name),
            bosToken: expected["bos_token"]?.stringValue ?? "", eosToken: expected["eos_token"]?.stringValue ?? "")
        // transformers hands content parts to the template unchanged.
        template.contentFormat = .openAI
        let cases = try #require(expected["cases"]?.arrayValue)
        #expect(cases.count >= 20)
        var rendered = 0
        for case .object(let c) in cases {
            let convName = c["conversation"]!.pythonStr
            let conv = try #require(conversations.first { $0.objectValue?["name"]?.stringValue == convName }?.objectValue)
            let messages = try conv["messages"]!.arrayValue!.map { try ChatMessage($0) }
            let gen = c["add_generation_prompt"]!.isTruthy
            let result = Result {
                try template.render(messages: messages, addGenerationPrompt: gen, tools: conv["tools"]?.arrayValue)
            }
            if case .success = result { rendered += 1 }
            TemplateFixtures.check(result, against: c, "\(name)/\(convName)/gen=\(gen)")
        }
        #expect(rendered >= 14, "\(name): too few successful renderings")
    }

    @Test func smolLM2TemplateMatchesItsGGUF() throws {
        let source = try TemplateFixtures.source("smollm2")
        #expect(source.contains("You are a helpful AI assistant named SmolLM"))
        var template = try ChatTemplate(source: source)
        #expect(template.contentFormat == .string)
        let out = try template.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(out == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }
}
