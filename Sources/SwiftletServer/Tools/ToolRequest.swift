import SwiftletAPI
import SwiftletFormats
import SwiftletJinja

/// A chat request's `tools`, `tool_choice` and `parallel_tool_calls`, checked as OpenAI checks
/// them (each problem a 400 naming the field).
struct ToolRequest: Sendable {
    /// OpenAI's `tool_choice`.
    enum Choice: Equatable, Sendable {
        /// No calls: the output is plain content and is not parsed.
        case none
        /// The model decides; the output is parsed for calls.
        case auto
        /// At least one call, enforced by a grammar.
        case required
        /// A call of this function, enforced by a grammar.
        case function(String)
    }

    /// One function tool.
    struct Function: Sendable {
        let name: String
        /// The parameters' JSON schema (`{"type": "object", "properties": {}}` when absent).
        let parameters: JSONValue
    }

    /// The tools as sent (each `{"type": "function", "function": {...}}`), for the template.
    let tools: [JSONValue]
    let functions: [Function]
    let choice: Choice
    /// Whether several calls may come in one answer (default true, as OpenAI's).
    let parallel: Bool

    /// The tools the template sees, as transformers passes them.
    var templateTools: [JinjaValue] { tools.map { JinjaValue($0) } }

    /// Reads the fields; nil when the request has no tools (a `tool_choice` of `none` or `auto`
    /// alone is accepted, one asking for a call is a 400).
    init?(_ f: RequestFields) throws {
        let rawChoice = f.value("tool_choice")
        guard let rawTools = f.value("tools") else {
            if let rawChoice, rawChoice != .string("none"), rawChoice != .string("auto") {
                throw OpenAIError.invalidRequest("tool_choice needs 'tools' to choose from.", param: "tool_choice")
            }
            if f.value("parallel_tool_calls") != nil { _ = try f.bool("parallel_tool_calls") }
            return nil
        }
        guard case .array(let list) = rawTools else { throw f.typeError("tools", "a list of tools") }
        var functions: [Function] = []
        for (i, tool) in list.enumerated() {
            let param = "tools[\(i)]"
            guard tool.object != nil else { throw OpenAIError.invalidRequest("\(param) must be an object.", param: "tools") }
            guard tool["type"] == .string("function") else {
                throw OpenAIError.invalidRequest("\(param).type must be 'function'.", param: "tools")
            }
            let fn = tool["function"]
            guard fn.object != nil else { throw OpenAIError.invalidRequest("\(param).function must be an object.", param: "tools") }
            guard case .string(let name) = fn["name"], Self.isValidName(name) else {
                throw OpenAIError.invalidRequest(
                    "\(param).function.name must be a string of 1 to 64 letters, digits, underscores or dashes.", param: "tools")
            }
            guard !functions.contains(where: { $0.name == name }) else {
                throw OpenAIError.invalidRequest("Two tools are named '\(name)'.", param: "tools")
            }
            if !fn["description"].isNull, fn["description"].string == nil {
                throw OpenAIError.invalidRequest("\(param).function.description must be a string.", param: "tools")
            }
            var parameters: JSONValue = ["type": "object", "properties": [:]]
            if !fn["parameters"].isNull {
                parameters = fn["parameters"]
                try Self.checkSchema(parameters, at: "\(param).function.parameters")
            }
            functions.append(Function(name: name, parameters: parameters))
        }
        tools = list
        self.functions = functions
        parallel = try f.bool("parallel_tool_calls") ?? true
        switch rawChoice {
        case nil: choice = .auto
        case .string("none")?: choice = .none
        case .string("auto")?: choice = .auto
        case .string("required")?: choice = .required
        case .object?:
            guard rawChoice?["type"] == .string("function"), case .string(let name)? = rawChoice?["function"]["name"] else {
                throw OpenAIError.invalidRequest(
                    #"tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}."#,
                    param: "tool_choice")
            }
            guard functions.contains(where: { $0.name == name }) else {
                throw OpenAIError.invalidRequest("tool_choice names the function '\(name)', which is not among the tools.",
                                                 param: "tool_choice")
            }
            choice = .function(name)
        default:
            throw OpenAIError.invalidRequest(#"tool_choice must be "none", "auto", "required" or a named function."#,
                                             param: "tool_choice")
        }
        if choice == .required, functions.isEmpty {
            throw OpenAIError.invalidRequest("tool_choice 'required' needs at least one tool.", param: "tool_choice")
        }
    }

    /// OpenAI's rule for function names: `^[a-zA-Z0-9_-]{1,64}$`.
    static func isValidName(_ s: String) -> Bool {
        (1...64).contains(s.utf8.count)
            && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D }
    }

    /// A parameters schema must be a JSON Schema object describing an object; the grammar
    /// compiler checks the rest when a call is enforced.
    private static func checkSchema(_ schema: JSONValue, at path: String) throws {
        guard schema.object != nil else {
            throw OpenAIError.invalidRequest("\(path) must be a JSON Schema object.", param: "tools")
        }
        switch schema["type"] {
        case .null, .string("object"): break
        case .array(let types) where types.contains(.string("object")): break
        default:
            throw OpenAIError.invalidRequest("\(path) must describe an object (type \"object\").", param: "tools")
        }
        if !schema["properties"].isNull, schema["properties"].object == nil {
            throw OpenAIError.invalidRequest("\(path).properties must be an object.", param: "tools")
        }
        if !schema["required"].isNull {
            guard case .array(let req) = schema["required"], req.allSatisfy({ $0.string != nil }) else {
                throw OpenAIError.invalidRequest("\(path).required must be a list of property names.", param: "tools")
            }
        }
    }
}

extension ToolRequest {
    /// Tool turns of the conversation as OpenAI requires them: a `tool` message answers a call
    /// (`tool_call_id`), and an assistant's `tool_calls` each name a function.
    static func checkMessages(_ messages: [JSONValue]) throws {
        for (i, m) in messages.enumerated() {
            let param = "messages[\(i)]"
            if m["role"] == .string("tool"), m["tool_call_id"].string == nil {
                throw OpenAIError.invalidRequest("\(param): a tool message needs a string 'tool_call_id'.", param: "messages")
            }
            guard !m["tool_calls"].isNull else { continue }
            guard case .array(let calls) = m["tool_calls"] else {
                throw OpenAIError.invalidRequest("\(param).tool_calls must be a list.", param: "messages")
            }
            for (j, call) in calls.enumerated() {
                guard call["function"]["name"].string != nil else {
                    throw OpenAIError.invalidRequest("\(param).tool_calls[\(j)].function.name must be a string.", param: "messages")
                }
                switch call["function"]["arguments"] {
                case .string, .object, .null: break
                default:
                    throw OpenAIError.invalidRequest("\(param).tool_calls[\(j)].function.arguments must be a JSON string.",
                                                     param: "messages")
                }
            }
        }
    }
}
