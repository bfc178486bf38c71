import Foundation
import SwiftletAPI
import Testing
import SwiftletFormats
import SwiftletGrammar
@testable import SwiftletServer

/// The grammars that enforce `tool_choice` `required` and a named function, in each format: they
/// accept the calls the format's parser reads back (the same names and arguments), and refuse
/// another function, arguments outside the schema, text around the calls, and a second call when
/// `parallel_tool_calls` is false.
@Suite struct ToolGrammarTests {
    /// Every byte a token, plus an end token: grammars are checked on text, byte by byte.
    static let compiler: GrammarCompiler = {
        let bytes: [[UInt8]?] = (0..<256).map { [UInt8($0)] } + [nil]
        return GrammarCompiler(vocabulary: GrammarVocabulary(tokenBytes: bytes, endTokenIDs: [256]))
    }()

    static func request(choice: String, parallel: Bool) throws -> ToolRequest {
        let body = """
        {"tools": [
          {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"]}}},
          {"type": "function", "function": {"name": "add", "parameters": {"type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"], "additionalProperties": false}}}
        ], "tool_choice": \(choice), "parallel_tool_calls": \(parallel)}
        """
        return try #require(try ToolRequest(RequestFields(body: Data(body.utf8))))
    }

    func accepts(_ gbnf: String, _ text: String) throws -> Bool {
        var m = GrammarMatcher(try Self.compiler.compile(.gbnf(gbnf)))
        return m.accept(bytes: Array(text.utf8)) && m.allows(256)
    }

    static let named = #"{"type": "function", "function": {"name": "add"}}"#

    @Test func hermes() throws {
        let one = "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": -2}}\n</tool_call>"
        let weather = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"c\"}}\n</tool_call>"
        let required = try ToolGrammar.gbnf(Self.request(choice: #""required""#, parallel: true), format: .hermes)
        #expect(try accepts(required, one))
        #expect(try accepts(required, weather + "\n" + one))
        #expect(try !accepts(required, "Sure. " + one))
        #expect(try !accepts(required, "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>"))
        #expect(try !accepts(required, "<tool_call>\n{\"name\": \"sub\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>"))
        let single = try ToolGrammar.gbnf(Self.request(choice: #""required""#, parallel: false), format: .hermes)
        #expect(try accepts(single, weather))
        #expect(try !accepts(single, weather + "\n" + one))
        let named = try ToolGrammar.gbnf(Self.request(choice: Self.named, parallel: false), format: .hermes)
        #expect(try accepts(named, one))
        #expect(try !accepts(named, weather))
        let parsed = ToolCallParser(format: .hermes, callsOnly: true).parse(weather + "\n" + one, final: true)
        #expect(parsed.content.isEmpty)
        #expect(parsed.calls.map(\.name) == ["get_weather", "add"])
        #expect(parsed.calls.map(\.arguments) == [#"{"city": "Oslo", "unit": "c"}"#, #"{"a": 1, "b": -2}"#])
    }

    @Test func llama3JSON() throws {
        let one = #"{"name": "add", "parameters": {"a": 3, "b": 4}}"#
        let two = #"{"name": "get_weather", "parameters": {"city": "Rome"}}; "# + one
        let required = try ToolGrammar.gbnf(Self.request(choice: #""required""#, parallel: true), format: .llama3JSON)
        #expect(try accepts(required, one) && accepts(required, two))
        #expect(try !accepts(required, #"{"name": "add", "arguments": {"a": 3, "b": 4}}"#))
        let named = try ToolGrammar.gbnf(Self.request(choice: Self.named, parallel: false), format: .llama3JSON)
        #expect(try accepts(named, one) && !accepts(named, two))
        #expect(ToolCallParser(format: .llama3JSON).parse(two, final: true).calls.map(\.name) == ["get_weather", "add"])
    }

    @Test func mistral() throws {
        let two = #"[{"name": "get_weather", "arguments": {"city": "Rome"}}, {"name": "add", "arguments": {"a": 0, "b": 0}}]"#
        let required = try ToolGrammar.gbnf(Self.request(choice: #""required""#, parallel: true), format: .mistral)
        #expect(try accepts(required, two))
        let single = try ToolGrammar.gbnf(Self.request(choice: #""required""#, parallel: false), format: .mistral)
        #expect(try !accepts(single, two))
        #expect(try accepts(single, #"[{"name": "add", "arguments": {"a": 0, "b": 0}}]"#))
        #expect(ToolCallParser(format: .mistral, callsOnly: true).parse(two, final: true).calls.map(\.name) == ["get_weather", "add"])
    }

    @Test func unenforcedChoicesHaveNoGrammar() throws {
        #expect(try ToolGrammar.gbnf(Self.request(choice: #""auto""#, parallel: true), format: .hermes).isEmpty)
        #expect(try ToolGrammar.gbnf(Self.request(choice: #""none""#, parallel: true), format: .hermes).isEmpty)
    }
}
