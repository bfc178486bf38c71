import SwiftletAPI
import SwiftletFormats
import SwiftletGrammar

/// The GBNF grammar that enforces `tool_choice` `required` or a named function: the output is
/// nothing but calls in the format's own shape, each naming one of the allowed functions with
/// arguments that follow that function's parameters schema. With `parallel_tool_calls` false
/// exactly one call; otherwise one or more.
enum ToolGrammar {
    static func gbnf(_ request: ToolRequest, format: ToolCallFormat) throws -> String {
        let allowed: [ToolRequest.Function]
        switch request.choice {
        case .function(let name): allowed = request.functions.filter { $0.name == name }
        case .required: allowed = request.functions
        case .none, .auto: return ""
        }
        // Each function's arguments get their own rule; helper rules are prefixed with its name.
        var rules: [String] = []
        var alternatives: [String] = []
        let argumentsKey = format == .llama3JSON ? "parameters" : "arguments"
        for (i, fn) in allowed.enumerated() {
            let rule = "fn\(i)-args"
            do {
                rules.append(try JSONSchemaGrammar.gbnfRules(schemaText: fn.parameters.serialized(), rootRule: rule))
            } catch {
                throw OpenAIError.invalidRequest("The parameters schema of '\(fn.name)' cannot be enforced: \(error)", param: "tools")
            }
            alternatives.append(GBNFText.literal("{\"name\": \"\(fn.name)\", \"\(argumentsKey)\": ") + " " + rule + " " + GBNFText.literal("}"))
        }
        let call = "call ::= " + alternatives.joined(separator: " | ")
        let root: String
        switch format {
        case .hermes:
            let block = GBNFText.literal("<tool_call>\n") + " call " + GBNFText.literal("\n</tool_call>")
            root = request.parallel ? "root ::= \(block) (\(GBNFText.literal("\n")) \(block))*" : "root ::= \(block)"
        case .llama3JSON:
            root = request.parallel ? "root ::= call (\(GBNFText.literal("; ")) call)*" : "root ::= call"
        case .mistral:
            // The bare array: `[TOOL_CALLS]` is a special token a grammar over text cannot emit.
            root = request.parallel ? "root ::= \(GBNFText.literal("[")) call (\(GBNFText.literal(", ")) call)* \(GBNFText.literal("]"))"
                : "root ::= \(GBNFText.literal("[")) call \(GBNFText.literal("]"))"
        }
        return ([root, call] + rules).joined(separator: "\n") + "\n"
    }
}
