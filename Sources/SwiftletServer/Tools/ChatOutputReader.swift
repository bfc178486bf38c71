import Foundation
import SwiftletFormats

/// How a chat answer's text becomes a message: the reasoning split off first (with
/// `--reasoning-parser`), then tool calls read from the rest (when the request has tools and its
/// `tool_choice` is not `none`), as vLLM's chat serving does.
struct ChatOutputReader: Sendable {
    var reasoning: ReasoningParser?
    var tools: ToolCallParser?

    /// Whether the text needs reading at all; without either parser it is all content.
    var isActive: Bool { reasoning != nil || tools != nil }

    /// The parts of the text generated so far.
    struct Parts: Equatable {
        var reasoning: String?
        var content: String
        var calls: [ParsedToolCall]
    }

    func read(_ text: String, final: Bool) -> Parts {
        var answer = text
        var thinking: String?
        if let reasoning {
            let split = reasoning.split(text, final: final)
            thinking = split.reasoning
            answer = split.content
        }
        guard let tools else { return Parts(reasoning: thinking, content: answer, calls: []) }
        let parse = tools.parse(answer, final: final)
        return Parts(reasoning: thinking, content: parse.content, calls: parse.calls)
    }

    /// The `message` of a finished choice and its finish reason (`tool_calls` when it made calls
    /// and stopped on its own).
    func message(_ text: String, finishReason: String?) -> (message: JSONValue, finishReason: String?) {
        let parts = read(text, final: true)
        var m: [(String, JSONValue)] = [("role", "assistant")]
        let content = parts.calls.isEmpty ? parts.content : parts.content.trimmingCharacters(in: .whitespacesAndNewlines)
        m.append(("content", content.isEmpty && !parts.calls.isEmpty ? .null : .string(content)))
        if reasoning != nil { m.append(("reasoning_content", parts.reasoning.map { $0.isEmpty ? .null : .string($0) } ?? .null)) }
        if !parts.calls.isEmpty {
            m.append(("tool_calls", .array(parts.calls.map { call in
                ["id": .string(Self.newCallID()), "type": "function",
                 "function": ["name": .string(call.name ?? ""), "arguments": .string(call.arguments)]]
            })))
        }
        let reason = !parts.calls.isEmpty && finishReason == "stop" ? "tool_calls" : finishReason
        return (.object(m), reason)
    }

    /// `call_` and 24 random letters and digits, as OpenAI's call ids look.
    static func newCallID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return "call_" + String((0..<24).map { _ in alphabet.randomElement()! })
    }
}

/// What one choice of a stream has sent so far, so each step sends only what is new: reasoning
/// and content text, and tool calls in OpenAI's delta shape (a call's first delta carries its
/// index, id, type, name and empty arguments; later ones add argument text).
struct ChatStreamState {
    let reader: ChatOutputReader
    private var text = ""
    private var sentReasoning = 0
    private var sentContent = 0
    private var sentCalls: [(id: String, arguments: Int)] = []

    init(reader: ChatOutputReader) {
        self.reader = reader
    }

    /// Whether the choice has announced a call (its finish reason is then `tool_calls`).
    var madeCalls: Bool { !sentCalls.isEmpty }

    /// The deltas for `newText`, each to go out as one chunk's `delta`.
    mutating func deltas(_ newText: String, final: Bool) -> [JSONValue] {
        text += newText
        let parts = reader.read(text, final: final)
        var out: [JSONValue] = []
        if let r = parts.reasoning, let d = Self.suffix(r, after: &sentReasoning) { out.append(["reasoning_content": .string(d)]) }
        if let d = Self.suffix(parts.content, after: &sentContent) {
            // Text after calls (a model going on talking) is still content, as in vLLM.
            out.append(["content": .string(d)])
        }
        for (i, call) in parts.calls.enumerated() {
            if i == sentCalls.count {
                guard let name = call.name else { break }
                let id = ChatOutputReader.newCallID()
                sentCalls.append((id, 0))
                out.append(["tool_calls": [["index": .int(i), "id": .string(id), "type": "function",
                                            "function": ["name": .string(name), "arguments": ""]]]])
            }
            guard i < sentCalls.count else { break }
            var sent = sentCalls[i].arguments
            if let d = Self.suffix(call.arguments, after: &sent) {
                sentCalls[i].arguments = sent
                out.append(["tool_calls": [["index": .int(i), "function": ["arguments": .string(d)]]]])
            }
        }
        return out
    }

    /// The part of `s` past the first `sent` UTF-8 bytes, advancing `sent`; nil when nothing is new.
    private static func suffix(_ s: String, after sent: inout Int) -> String? {
        let bytes = s.utf8
        guard bytes.count > sent else { return nil }
        let d = String(decoding: bytes.dropFirst(sent), as: UTF8.self)
        sent = bytes.count
        return d
    }
}
