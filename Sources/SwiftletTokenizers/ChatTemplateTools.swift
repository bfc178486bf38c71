import Foundation
import SwiftletFormats
import SwiftletJinja

extension ChatTemplate {
    /// Whether the template prints the `tools` it is given: it is rendered once with a probe
    /// tool and its output searched for the tool's name (llama.cpp checks its templates' tool
    /// support the same way, by rendering rather than by reading the source).
    static func probeRendersTools(_ template: ChatTemplate) -> Bool {
        let name = "swiftlet_probe_function"
        let tool: JinjaValue = [
            "type": "function",
            "function": ["name": .string(name), "description": "probe", "parameters": ["type": "object", "properties": [:]]],
        ]
        let out = try? template.render(messages: [ChatMessage(role: "user", content: "probe")], addGenerationPrompt: true,
                                       tools: [tool])
        return out?.contains(name) ?? false
    }

    /// Renders a conversation with tools for serving: through the template when it prints
    /// tools, otherwise with the generic tool prompt (`GenericToolPrompt`) in the system message
    /// and earlier calls and results written in the same `<tool_call>` / `<tool_response>` form.
    public func renderServing(
        messages: [ChatMessage], addGenerationPrompt: Bool, tools: [JinjaValue]?, extra: [String: JinjaValue] = [:]
    ) throws -> String {
        guard let tools, !tools.isEmpty, !rendersTools else {
            return try render(messages: messages, addGenerationPrompt: addGenerationPrompt, tools: tools, extra: extra)
        }
        return try render(messages: try GenericToolPrompt.messages(messages, tools: tools),
                          addGenerationPrompt: addGenerationPrompt, tools: tools, extra: extra)
    }
}

extension ChatMessage {
    /// OpenAI sends a call's `function.arguments` as a JSON string, while templates (Qwen2.5's,
    /// Llama 3.1's) print it with `tojson` and expect a mapping: as vLLM does, an argument
    /// string holding a JSON object is replaced by that object.
    public func parsingToolCallArguments() -> ChatMessage {
        guard let calls = toolCalls else { return self }
        var copy = self
        copy.toolCalls = calls.map { call in
            guard case .object(var c) = call, case .object(var f)? = c["function"],
                  case .string(let text)? = f["arguments"],
                  let parsed = try? JinjaValue(json: text), parsed.objectValue != nil else { return call }
            f["arguments"] = parsed
            c["function"] = .object(f)
            return .object(c)
        }
        return copy
    }
}

/// The tool prompt for templates that ignore `tools` (SmolLM2's, for one): the functions'
/// schemas and the Hermes call format, `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`,
/// which the server's `hermes` parser reads back. llama.cpp adds a generic prompt of its own
/// for such templates in the same way.
public enum GenericToolPrompt {
    /// The prompt text for `tools` (OpenAI function tools).
    public static func text(tools: [JinjaValue]) throws -> String {
        var s = "# Tools\n\nYou can call functions to help answer the user. Their signatures are inside <tools></tools>:\n<tools>"
        for t in tools { s += "\n" + (try pythonJSON(t)) }
        s += "\n</tools>\n\nTo call a function, answer with one JSON object per call, each inside <tool_call></tool_call> tags:\n"
        s += "<tool_call>\n{\"name\": <function-name>, \"arguments\": <arguments-json-object>}\n</tool_call>"
        return s
    }

    /// The conversation with the prompt in its system message (one is added when there is none),
    /// assistant calls written as `<tool_call>` blocks and tool results as user turns holding
    /// `<tool_response>` blocks, so a plain template renders all of it.
    public static func messages(_ messages: [ChatMessage], tools: [JinjaValue]) throws -> [ChatMessage] {
        let prompt = try text(tools: tools)
        var out: [ChatMessage] = []
        if let first = messages.first, first.role == "system" {
            var system = first
            system.content = .text((first.plainText.map { $0 + "\n\n" } ?? "") + prompt)
            out.append(system)
        } else {
            out.append(ChatMessage(role: "system", content: prompt))
        }
        for m in messages.dropFirst(messages.first?.role == "system" ? 1 : 0) {
            if m.role == "tool" {
                out.append(ChatMessage(role: "user", content: "<tool_response>\n\(m.plainText ?? "")\n</tool_response>"))
            } else if let calls = m.toolCalls, !calls.isEmpty {
                var blocks: [String] = []
                for call in calls {
                    let f = call.objectValue?["function"]?.objectValue ?? call.objectValue ?? JinjaObject()
                    let name: JinjaValue = f["name"] ?? .string("")
                    let args: JinjaValue = f["arguments"] ?? .object(JinjaObject())
                    let argsText = try args.stringValue ?? pythonJSON(args)
                    blocks.append("<tool_call>\n{\"name\": \(try pythonJSON(name)), \"arguments\": \(argsText)}\n</tool_call>")
                }
                var text = m.plainText ?? ""
                if !text.isEmpty { text += "\n" }
                var msg = m
                msg.content = .text(text + blocks.joined(separator: "\n"))
                msg.toolCalls = nil
                out.append(msg)
            } else {
                out.append(m)
            }
        }
        return out
    }

    private static func pythonJSON(_ v: JinjaValue) throws -> String {
        try v.jsonValue().serialized(JSONWriteOptions(separators: (", ", ": ")))
    }
}

extension ChatMessage {
    /// The message's text: a string, or its text parts joined by newlines.
    var plainText: String? {
        switch content {
        case .text(let s)?: return s
        case .parts(let parts)?:
            return parts.compactMap { p -> String? in
                guard case .object(let po) = p, po["type"]?.stringValue == "text" else { return nil }
                return po["text"]?.stringValue
            }.joined(separator: "\n")
        case nil: return nil
        }
    }
}
