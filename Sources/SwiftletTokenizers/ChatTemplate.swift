import Foundation
import SwiftletFormats
import SwiftletJinja

/// One message of a chat conversation, in the OpenAI / Hugging Face shape chat templates read.
public struct ChatMessage: Sendable {
    /// Text, or a list of parts such as `{"type": "text", "text": ...}` / `{"type": "image"}`.
    public enum Content: Sendable {
        case text(String)
        case parts([JinjaValue])
    }

    /// `system`, `user`, `assistant` or `tool` (templates may accept others).
    public var role: String
    /// nil renders as `None`, as for an assistant message that only calls tools.
    public var content: Content?
    /// The calls an assistant message makes, e.g.
    /// `{"id": ..., "type": "function", "function": {"name": ..., "arguments": {...}}}`.
    public var toolCalls: [JinjaValue]?
    public var name: String?
    /// For `tool` messages: which call this is the result of.
    public var toolCallID: String?
    /// Further fields templates may read, e.g. `reasoning_content`.
    public var extra: JinjaObject

    public init(
        role: String, content: String?, toolCalls: [JinjaValue]? = nil, name: String? = nil,
        toolCallID: String? = nil, extra: JinjaObject = JinjaObject()
    ) {
        self.role = role
        self.content = content.map { .text($0) }
        self.toolCalls = toolCalls
        self.name = name
        self.toolCallID = toolCallID
        self.extra = extra
    }

    public init(role: String, parts: [JinjaValue], name: String? = nil) {
        self.role = role
        self.content = .parts(parts)
        self.toolCalls = nil
        self.name = name
        self.toolCallID = nil
        self.extra = JinjaObject()
    }

    /// Reads a message object as an OpenAI-style request carries it (`role`, `content`,
    /// `tool_calls`, `name`, `tool_call_id`; other keys go to `extra`).
    public init(_ value: JinjaValue) throws {
        guard case .object(let o) = value, case .string(let role)? = o["role"] else {
            throw JinjaError(.runtime, "a chat message must be an object with a string 'role'")
        }
        self.role = role
        switch o["content"] {
        case .string(let s)?: content = .text(s)
        case .array(let parts)?: content = .parts(parts)
        case nil, .none?: content = nil
        case let other?: throw JinjaError(.runtime, "message content must be a string or a list of parts, not \(other.typeName)")
        }
        switch o["tool_calls"] {
        case .array(let calls)?: toolCalls = calls
        case nil, .none?: toolCalls = nil
        case let other?: throw JinjaError(.runtime, "tool_calls must be a list, not \(other.typeName)")
        }
        name = o["name"]?.stringValue
        toolCallID = o["tool_call_id"]?.stringValue
        var rest = JinjaObject()
        for (k, v) in o.pairs where !["role", "content", "tool_calls", "name", "tool_call_id"].contains(k) { rest[k] = v }
        extra = rest
    }

    /// The message as the template sees it. With `flattenParts`, list content becomes its text
    /// parts joined by newlines, for templates written for plain-string content.
    func jinjaValue(flattenParts: Bool) -> JinjaValue {
        var o = JinjaObject()
        o["role"] = .string(role)
        switch content {
        case .text(let s)?: o["content"] = .string(s)
        case .parts(let parts)?:
            if flattenParts {
                let texts = parts.compactMap { p -> String? in
                    guard case .object(let po) = p, po["type"]?.stringValue == "text" else { return nil }
                    return po["text"]?.stringValue
                }
                o["content"] = .string(texts.joined(separator: "\n"))
            } else {
                o["content"] = .array(parts)
            }
        case nil: o["content"] = JinjaValue.none
        }
        if let name { o["name"] = .string(name) }
        if let toolCalls { o["tool_calls"] = .array(toolCalls) }
        if let toolCallID { o["tool_call_id"] = .string(toolCallID) }
        for (k, v) in extra.pairs { o[k] = v }
        return .object(Self.aliasReasoning(o))
    }

    /// transformers copies a message's reasoning to both `thinking` (first) and
    /// `reasoning_content` (last) so templates reading either name see it.
    private static func aliasReasoning(_ o: JinjaObject) -> JinjaObject {
        let names = ["reasoning_content", "thinking", "reasoning"]
        guard let reasoning = names.lazy.compactMap({ o[$0] }).first(where: { !$0.isNone }) else { return o }
        var out = JinjaObject([("thinking", reasoning)])
        for (k, v) in o.pairs { out[k] = v }
        out["reasoning_content"] = reasoning
        return out
    }
}

/// A model's chat template: turns a conversation into the prompt text the model was trained
/// on, rendering exactly as Hugging Face transformers' `apply_chat_template` does.
public struct ChatTemplate: Sendable {
    /// How the template expects message content.
    public enum ContentFormat: Sendable {
        /// Content is a plain string; list content is flattened to its text parts.
        case string
        /// The template iterates over content parts itself.
        case openAI
    }

    /// The template text.
    public let source: String
    /// Passed to the template as `bos_token` (many templates print it first).
    public var bosToken: String
    /// Passed to the template as `eos_token`.
    public var eosToken: String
    /// Detected from the template; set `.openAI` to pass content parts through unchanged.
    public var contentFormat: ContentFormat
    /// Whether the template prints the `tools` it is given (found by rendering a probe tool);
    /// when it does not, `renderServing` adds a generic tool prompt.
    public private(set) var rendersTools = false
    private let template: JinjaTemplate

    /// Parses `source`; a syntax error throws a `JinjaError` giving line and column.
    public init(source: String, bosToken: String = "", eosToken: String = "") throws {
        self.source = source
        self.bosToken = bosToken
        self.eosToken = eosToken
        template = try JinjaTemplate(source: source)
        // vLLM's rule: a template that loops over `message.content` handles content parts.
        contentFormat = template.loopsOverMember("content") ? .openAI : .string
        rendersTools = Self.probeRendersTools(self)
    }

    /// Renders `messages`. `tools` are function schemas
    /// (`{"type": "function", "function": {"name", "description", "parameters"}}`), passed as
    /// `none` when absent, as transformers does. `extra` adds or overrides template variables
    /// (e.g. `date_string`, `enable_thinking`).
    public func render(
        messages: [ChatMessage], addGenerationPrompt: Bool, tools: [JinjaValue]? = nil,
        extra: [String: JinjaValue] = [:]
    ) throws -> String {
        let flatten = contentFormat == .string
        var context: [String: JinjaValue] = [
            "messages": .array(messages.map { $0.jinjaValue(flattenParts: flatten) }),
            "tools": tools.map { .array($0) } ?? .none,
            "documents": .none,
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ]
        for (k, v) in extra { context[k] = v }
        return try template.render(context)
    }
}

// MARK: - Finding a model's template

extension ChatTemplate {
    /// The template stored in a GGUF file (`tokenizer.chat_template`, or
    /// `tokenizer.chat_template.<name>` for a named one), with the file's BOS/EOS token text.
    public init(gguf: GGUFFile, name: String? = nil) throws {
        let key = name.map { "tokenizer.chat_template.\($0)" } ?? "tokenizer.chat_template"
        guard let source = gguf.metadata[key]?.string else {
            throw JinjaError(.runtime, "the GGUF file has no \(key)")
        }
        let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array
        func token(_ idKey: String) -> String {
            guard let id = gguf.metadata[idKey]?.int, let tokens, tokens.indices.contains(id) else { return "" }
            return tokens[id].string ?? ""
        }
        try self.init(source: source, bosToken: token("tokenizer.ggml.bos_token_id"), eosToken: token("tokenizer.ggml.eos_token_id"))
    }

    /// The template from a Hugging Face `tokenizer_config.json`: its `chat_template` (a string,
    /// or a list of `{name, template}` from which `name` or "default" is taken) and its
    /// `bos_token`/`eos_token` (strings or `{"content": ...}` objects). `templateOverride`
    /// (e.g. a `chat_template.jinja` file) replaces the config's template.
    public init(tokenizerConfig data: Data, name: String? = nil, templateOverride: String? = nil) throws {
        let config = try JinjaValue(json: data)
        func tokenText(_ key: String) -> String {
            switch config.objectValue?[key] {
            case .string(let s)?: return s
            case .object(let o)?: return o["content"]?.stringValue ?? ""
            default: return ""
            }
        }
        var source = templateOverride
        if source == nil {
            switch config.objectValue?["chat_template"] {
            case .string(let s)?: source = s
            case .array(let named)?:
                let wanted = name ?? "default"
                source = named.first { $0.objectValue?["name"]?.stringValue == wanted }?.objectValue?["template"]?.stringValue
            default: break
            }
        }
        guard let source else { throw JinjaError(.runtime, "tokenizer_config.json has no chat_template\(name.map { " named '\($0)'" } ?? "")") }
        try self.init(source: source, bosToken: tokenText("bos_token"), eosToken: tokenText("eos_token"))
    }

    /// The template of a Hugging Face model directory: `chat_template.jinja` if present (newer
    /// exports), else `tokenizer_config.json`'s; BOS/EOS come from `tokenizer_config.json`.
    public init(modelDirectory: URL) throws {
        let jinja = modelDirectory.appendingPathComponent("chat_template.jinja")
        let configURL = modelDirectory.appendingPathComponent("tokenizer_config.json")
        let override = try? String(contentsOf: jinja, encoding: .utf8)
        if let config = try? Data(contentsOf: configURL) {
            try self.init(tokenizerConfig: config, templateOverride: override)
        } else if let override {
            try self.init(source: override)
        } else {
            throw JinjaError(.runtime, "no chat_template.jinja or tokenizer_config.json in \(modelDirectory.path)")
        }
    }
}
