import Foundation
import Testing
import SwiftletFormats
@testable import SwiftletServer

/// The tool-call parsers on finished answers (each format, several calls, malformed output given
/// back as content) and on answers arriving piece by piece (what a stream sends must add up to
/// the finished parse, and nothing sent may be taken back).
@Suite struct ToolCallParserTests {
    func parse(_ format: ToolCallFormat, _ text: String, callsOnly: Bool = false) -> ToolCallParse {
        ToolCallParser(format: format, callsOnly: callsOnly).parse(text, final: true)
    }

    func call(_ name: String, _ args: String) -> ParsedToolCall { ParsedToolCall(name: name, arguments: args, complete: true) }

    @Test func hermesBlocks() {
        let text = "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"a } b\", \"n\": [1, {\"x\": \"]\"}]}}\n</tool_call>"
        let p = parse(.hermes, text)
        #expect(p.content == "Let me look.")
        #expect(p.calls == [call("get_weather", #"{"city": "Paris"}"#), call("search", #"{"query": "a } b", "n": [1, {"x": "]"}]}"#)])
    }

    @Test func hermesWithoutCallsIsContent() {
        #expect(parse(.hermes, "Just text, <b>bold</b>.\n") == ToolCallParse(content: "Just text, <b>bold</b>.\n", calls: []))
    }

    @Test func hermesMalformedBlockIsContent() {
        let bad = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>"
        #expect(parse(.hermes, bad) == ToolCallParse(content: bad, calls: []))
        let noName = "<tool_call>{\"arguments\": {}}</tool_call>"
        #expect(parse(.hermes, noName).calls.isEmpty)
        #expect(parse(.hermes, "<tool_call>{\"name\": \"f\", \"arguments\": \"x\"}</tool_call>").calls.isEmpty)
        // Cut off inside a call: the text is all content.
        let cut = "Sure <tool_call>{\"name\": \"f\", \"argu"
        #expect(parse(.hermes, cut) == ToolCallParse(content: cut, calls: []))
        // An unclosed block whose JSON is complete (generation stopped before the closing tag) is a call.
        #expect(parse(.hermes, "<tool_call>{\"name\": \"f\", \"arguments\": {}}").calls == [call("f", "{}")])
    }

    @Test func llama3JSON() {
        #expect(parse(.llama3JSON, #"{"name": "get_weather", "parameters": {"city": "Oslo"}}"#).calls
            == [call("get_weather", #"{"city": "Oslo"}"#)])
        let two = "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"arguments\": {\"k\": 1}}"
        #expect(parse(.llama3JSON, two) == ToolCallParse(content: "", calls: [call("a", "{}"), call("b", #"{"k": 1}"#)]))
        #expect(parse(.llama3JSON, "The answer is {x}.") == ToolCallParse(content: "The answer is {x}.", calls: []))
        let bad = #"{"name": "a", "parameters": {}} and more"#
        #expect(parse(.llama3JSON, bad) == ToolCallParse(content: bad, calls: []))
        #expect(parse(.llama3JSON, #"{"city": "Oslo"}"#).calls.isEmpty)
    }

    @Test func mistral() {
        let text = "Calling.[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": {}}]"
        #expect(parse(.mistral, text) == ToolCallParse(content: "Calling.", calls: [call("a", #"{"x": 1}"#), call("b", "{}")]))
        #expect(parse(.mistral, "[{\"name\": \"a\", \"arguments\": {}}]").calls.isEmpty)
        #expect(parse(.mistral, "[{\"name\": \"a\", \"arguments\": {}}]", callsOnly: true).calls == [call("a", "{}")])
        let bad = "[TOOL_CALLS][{\"name\": 3}]"
        #expect(parse(.mistral, bad) == ToolCallParse(content: bad, calls: []))
        // Newer tokenizers: `[TOOL_CALLS]name[ARGS]{...}` per call.
        let named = "Sure.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]add[ARGS]{\"a\": 1}"
        #expect(parse(.mistral, named) == ToolCallParse(content: "Sure.", calls: [call("get_weather", #"{"city": "Paris"}"#), call("add", #"{"a": 1}"#)]))
        let badName = "[TOOL_CALLS]bad name[ARGS]{}"
        #expect(parse(.mistral, badName) == ToolCallParse(content: badName, calls: []))
    }

    @Test func formatFromTemplate() {
        #expect(ToolCallFormat.inferred(fromTemplate: "{{ '<tool_call>' }}") == .hermes)
        #expect(ToolCallFormat.inferred(fromTemplate: "Environment: ipython") == .llama3JSON)
        #expect(ToolCallFormat.inferred(fromTemplate: "[TOOL_CALLS]") == .mistral)
        #expect(ToolCallFormat.inferred(fromTemplate: "{{ messages }}") == .hermes)
    }

    /// Feeds `text` in pieces of `step` characters: every partial parse must extend the previous
    /// one (content and each call's arguments only grow, names never change once known), and
    /// the stream's deltas must add up to the final parse.
    func streamAgrees(_ format: ToolCallFormat, _ text: String, step: Int) {
        let parser = ToolCallParser(format: format)
        var previous = ToolCallParse(content: "", calls: [])
        let chars = Array(text)
        var state = ChatStreamState(reader: ChatOutputReader(reasoning: nil, tools: parser))
        var content = "", names: [String] = [], args: [String] = []
        var i = 0
        while i < chars.count {
            let piece = String(chars[i..<min(i + step, chars.count)])
            i += step
            let final = i >= chars.count
            let p = parser.parse(String(chars[0..<min(i, chars.count)]), final: final)
            #expect(p.content.hasPrefix(previous.content), "\(format) step \(step) at \(i): content shrank")
            for (k, c) in previous.calls.enumerated() where k < p.calls.count {
                #expect(p.calls[k].arguments.hasPrefix(c.arguments), "\(format) at \(i): arguments shrank")
                if let n = c.name { #expect(p.calls[k].name == n) }
            }
            previous = p
            for d in state.deltas(piece, final: final) {
                if let s = d["content"].string { content += s }
                for t in d["tool_calls"].array ?? [] {
                    let k = t["index"].int!
                    if let n = t["function"]["name"].string {
                        #expect(k == names.count && t["id"].string?.hasPrefix("call_") == true && t["type"] == "function")
                        names.append(n)
                        args.append("")
                    }
                    args[k] += t["function"]["arguments"].string ?? ""
                }
            }
        }
        let whole = parser.parse(text, final: true)
        #expect(content == whole.content, "\(format) step \(step)")
        #expect(names == whole.calls.map { $0.name ?? "" }, "\(format) step \(step)")
        #expect(args == whole.calls.map(\.arguments), "\(format) step \(step)")
    }

    @Test(arguments: [1, 2, 3, 7])
    func streamingMatchesTheFinishedParse(step: Int) {
        streamAgrees(.hermes, "Sure!\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"São Paulo\", \"days\": [1, 2]}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"<tool_call> inside\"}}\n</tool_call>", step: step)
        streamAgrees(.hermes, "No calls here, only < and <tool but not a call.\n", step: step)
        streamAgrees(.hermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call> and then <tool_call>{bad}</tool_call> text", step: step)
        streamAgrees(.llama3JSON, "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}; {\"name\": \"b\", \"parameters\": {}}", step: step)
        streamAgrees(.llama3JSON, "Plain answer.", step: step)
        streamAgrees(.mistral, "Ok [TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": \"]}\"}}, {\"name\": \"b\", \"arguments\": {}}]", step: step)
        streamAgrees(.mistral, "Ok [TOOL_CALLS]get_weather[ARGS]{\"city\": \"[ARGS] x\"}[TOOL_CALLS]b[ARGS]{}", step: step)
    }
}

/// `<think>` splitting, finished and streamed.
@Suite struct ReasoningParserTests {
    @Test func deepseekR1() {
        let p = ReasoningParser(format: .deepseekR1)
        #expect(p.split("<think>\nhmm</think>\n\nAnswer.", final: true) == ReasoningSplit(reasoning: "\nhmm", content: "Answer.", thinkingDone: true))
        // The prompt opened the thinking: no `<think>` in the output.
        #expect(p.split("hmm, so</think>Answer.", final: true) == ReasoningSplit(reasoning: "hmm, so", content: "Answer.", thinkingDone: true))
        #expect(p.split("still thinking", final: true) == ReasoningSplit(reasoning: "still thinking", content: "", thinkingDone: false))
        #expect(p.split("still thinking</th", final: false).reasoning == "still thinking")
    }

    @Test func qwen3() {
        let p = ReasoningParser(format: .qwen3)
        #expect(p.split("<think>a</think>b", final: true) == ReasoningSplit(reasoning: "a", content: "b", thinkingDone: true))
        #expect(p.split("no thinking</think> here", final: true).content == "no thinking</think> here")
        #expect(p.split("<thi", final: false) == ReasoningSplit(reasoning: "", content: "", thinkingDone: false))
    }

    @Test(arguments: [1, 2, 5])
    func streamedDeltasAddUp(step: Int) {
        let text = "<think>Let me see: 2 < 3.</think>\n\nIt is <tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>"
        let reader = ChatOutputReader(reasoning: ReasoningParser(format: .deepseekR1), tools: ToolCallParser(format: .hermes))
        var state = ChatStreamState(reader: reader)
        var reasoning = "", content = "", calls = 0
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let piece = String(chars[i..<min(i + step, chars.count)])
            i += step
            for d in state.deltas(piece, final: i >= chars.count) {
                reasoning += d["reasoning_content"].string ?? ""
                content += d["content"].string ?? ""
                calls += d["tool_calls"].array?.filter { $0["id"].string != nil }.count ?? 0
            }
        }
        #expect(reasoning == "Let me see: 2 < 3.")
        #expect(content == "It is")
        #expect(calls == 1)
        let (message, finish) = reader.message(text, finishReason: "stop")
        #expect(finish == "tool_calls")
        #expect(message["reasoning_content"] == .string("Let me see: 2 < 3."))
        #expect(message["content"] == .string("It is"))
        #expect(message["tool_calls"].array?.first?["function"]["arguments"] == .string("{}"))
    }
}
