import Foundation
import SwiftletAPI
import Testing
import SwiftletFormats
@testable import SwiftletServer

/// `tools`, `tool_choice` and `parallel_tool_calls` as OpenAI reads them, and the 400s (with the
/// field named) for what it refuses.
@Suite struct ToolRequestTests {
    static let weather = #"{"type": "function", "function": {"name": "get_weather", "description": "d", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}"#

    func read(_ fields: String) throws -> ToolRequest? {
        try ToolRequest(RequestFields(body: Data("{\(fields)}".utf8)))
    }

    func refused(_ fields: String, param: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try read(fields)
            Issue.record("accepted \(fields)", sourceLocation: sourceLocation)
        } catch let e as OpenAIError {
            #expect(e.status == 400 && e.param == param, "\(fields): \(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func choicesAndDefaults() throws {
        let auto = try #require(try read(#""tools": [\#(Self.weather)]"#))
        #expect(auto.choice == .auto && auto.parallel && auto.functions.map(\.name) == ["get_weather"])
        #expect(auto.templateTools.count == 1)
        #expect(try read(#""tools": [\#(Self.weather)], "tool_choice": "none""#)?.choice == ToolRequest.Choice.none)
        #expect(try read(#""tools": [\#(Self.weather)], "tool_choice": "required", "parallel_tool_calls": false"#)?.parallel == false)
        let named = try read(#""tools": [\#(Self.weather)], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}"#)
        #expect(named?.choice == .function("get_weather"))
        // A function without parameters takes an empty object.
        let bare = try read(#""tools": [{"type": "function", "function": {"name": "ping"}}]"#)
        #expect(bare?.functions.first?.parameters == ["type": "object", "properties": [:]])
        #expect(try read(#""tool_choice": "auto""#) == nil)
        #expect(try read(#""tool_choice": "none""#) == nil)
    }

    @Test func refusals() {
        refused(#""tools": {"type": "function"}"#, param: "tools")
        refused(#""tools": ["get_weather"]"#, param: "tools")
        refused(#""tools": [{"type": "retrieval"}]"#, param: "tools")
        refused(#""tools": [{"type": "function", "function": {"name": "has space"}}]"#, param: "tools")
        refused(#""tools": [{"type": "function", "function": {"name": ""}}]"#, param: "tools")
        refused(#""tools": [\#(Self.weather), \#(Self.weather)]"#, param: "tools")
        refused(#""tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]"#, param: "tools")
        refused(#""tools": [{"type": "function", "function": {"name": "f", "parameters": [1]}}]"#, param: "tools")
        refused(#""tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "required": "x"}}}]"#, param: "tools")
        refused(#""tools": [\#(Self.weather)], "tool_choice": "sometimes""#, param: "tool_choice")
        refused(#""tools": [\#(Self.weather)], "tool_choice": {"type": "function", "function": {"name": "nope"}}"#, param: "tool_choice")
        refused(#""tools": [\#(Self.weather)], "tool_choice": {"type": "function"}"#, param: "tool_choice")
        refused(#""tools": [], "tool_choice": "required""#, param: "tool_choice")
        refused(#""tool_choice": "required""#, param: "tool_choice")
        refused(#""tools": [\#(Self.weather)], "parallel_tool_calls": "yes""#, param: "parallel_tool_calls")
    }

    @Test func toolTurnsInMessages() throws {
        func messages(_ text: String) throws -> [JSONValue] { try JSONValue.parse(text).array ?? [] }
        try ToolRequest.checkMessages(messages(#"""
            [{"role": "user", "content": "hi"},
             {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
             {"role": "tool", "tool_call_id": "c", "content": "ok"}]
            """#))
        for bad in [
            #"[{"role": "tool", "content": "ok"}]"#,
            #"[{"role": "assistant", "tool_calls": {"id": "c"}}]"#,
            #"[{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}]"#,
            #"[{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 3}}]}]"#,
        ] {
            #expect(throws: OpenAIError.self, "\(bad)") { try ToolRequest.checkMessages(messages(bad)) }
        }
    }
}
