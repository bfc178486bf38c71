import Foundation
import SwiftletFormats

/// JSON Schema to GBNF: OpenAI's strict subset and the common rest.
///
/// Supported: `type` (a name or a list, and `nullable`), `properties` (emitted in schema order,
/// optional ones may be left out), `required`, `additionalProperties` (`false`, `true` or a
/// schema), `enum`, `const`, `anyOf`, `oneOf` (as `anyOf`: exclusivity is not enforced, as in
/// vLLM's backends), `allOf` (merged into one schema), `items` (also the older tuple form with
/// `additionalItems`), `prefixItems`, `minItems`/`maxItems`, `minLength`/`maxLength`, `pattern`,
/// `format` (`date`, `time`, `date-time`, `uuid`, `email`; other formats are annotations),
/// `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum` (exact for integers, held for
/// numbers), `$ref` into `$defs`/`definitions` or any local JSON pointer, recursion included.
/// Keywords that would change validity but cannot be enforced (`not`, `if`, `patternProperties`,
/// `uniqueItems`, `multipleOf`, ...) throw a `GrammarError` naming them; annotations (`title`,
/// `description`, `default`, ...) and unknown keywords are ignored, as JSON Schema says.
public enum JSONSchemaGrammar {
    /// GBNF text defining `rootRule` as JSON valid under the schema; every helper rule's name
    /// starts with `rootRule`, so several schemas can share one GBNF document with other rules.
    public static func gbnfRules(schemaText: String, rootRule: String) throws -> String {
        guard GBNFText.isValidRuleName(rootRule) else {
            throw GrammarError("rule name '\(rootRule)' may only hold letters, digits, '-' and '_'")
        }
        let schema: JSONValue
        do { schema = try JSONValue.parse(schemaText) } catch {
            throw GrammarError("the JSON schema is not valid JSON: \(error)")
        }
        return try gbnfRules(schema: schema, rootRule: rootRule)
    }

    /// The same for a parsed schema.
    public static func gbnfRules(schema: JSONValue, rootRule: String) throws -> String {
        let converter = JSONSchemaConverter(root: schema, prefix: rootRule)
        let body = try converter.expression(schema, path: "#")
        return "\(rootRule) ::= \(body)\n" + converter.ruleText() + JSONGrammarPrimitives.rules(prefix: rootRule)
    }

    /// GBNF text defining `rootRule` as any JSON object (`response_format` `json_object`).
    public static func anyObjectGBNF(rootRule: String) -> String {
        "\(rootRule) ::= \(rootRule)-object\n" + JSONGrammarPrimitives.rules(prefix: rootRule)
    }
}

/// Walks one schema, writing a GBNF rule per subschema that needs one.
final class JSONSchemaConverter {
    let root: JSONValue
    let prefix: String
    var lines: [String] = []
    private var names: Set<String> = []
    private var byBody: [String: String] = [:]
    private var refRules: [String: String] = [:]
    private var depth = 0

    init(root: JSONValue, prefix: String) {
        self.root = root
        self.prefix = prefix
    }

    func ruleText() -> String { lines.map { $0 + "\n" }.joined() }

    var ws: String { "\(prefix)-ws" }
    func primitive(_ name: String) -> String { "\(prefix)-\(name)" }

    /// A rule holding `body`, named after `hint`; equal bodies share one rule.
    func define(_ hint: String, _ body: String) -> String {
        if let existing = byBody[body] { return existing }
        let name = uniqueName(hint)
        lines.append("\(name) ::= \(body)")
        byBody[body] = name
        return name
    }

    func uniqueName(_ hint: String) -> String {
        let base = "\(prefix)-\(GBNFText.sanitizedName(hint))"
        var name = base, n = 1
        while names.contains(name) { n += 1; name = "\(base)-\(n)" }
        names.insert(name)
        return name
    }

    /// Keywords that change which documents are valid and that the grammar cannot enforce.
    static let unsupported: Set<String> = [
        "not", "if", "then", "else", "patternProperties", "dependentRequired", "dependentSchemas", "dependencies",
        "propertyNames", "contains", "minContains", "maxContains", "multipleOf", "unevaluatedProperties",
        "unevaluatedItems", "$dynamicRef", "$recursiveRef",
    ]

    /// A GBNF expression (usually one rule name) for the values valid under `schema`.
    func expression(_ schema: JSONValue, path: String) throws -> String {
        // Bounded so that a hostile schema cannot exhaust a server thread's stack.
        depth += 1
        defer { depth -= 1 }
        if depth > 64 { throw GrammarError("schema at \(path) is nested more than 64 deep") }
        switch schema {
        case .bool(true): return primitive("value")
        case .bool(false): throw GrammarError("schema at \(path) is false: no value is valid")
        case .object(let entries):
            for (key, value) in entries {
                if Self.unsupported.contains(key) { throw GrammarError("unsupported JSON Schema keyword '\(key)' at \(path)") }
                if key == "uniqueItems", value != .bool(false) { throw GrammarError("unsupported JSON Schema keyword 'uniqueItems' at \(path)") }
                if key == "minProperties" || key == "maxProperties", !(key == "minProperties" && value.int == 0) {
                    throw GrammarError("unsupported JSON Schema keyword '\(key)' at \(path)")
                }
            }
            return try objectSchema(schema, path: path)
        default: throw GrammarError("schema at \(path) must be an object or a boolean")
        }
    }

    private func objectSchema(_ schema: JSONValue, path: String) throws -> String {
        if let ref = schema["$ref"].string { return try reference(ref, schema: schema, path: path) }
        if let all = schema["allOf"].array {
            var rest = schema.object!.filter { $0.0 != "allOf" }
            rest = rest.filter { !JSONSchemaMerge.annotations.contains($0.0) }
            let merged = try JSONSchemaMerge.merge(all + (rest.isEmpty ? [] : [.object(rest)]), resolve: resolve, path: path)
            return try expression(merged, path: path + "/allOf")
        }
        for key in ["anyOf", "oneOf"] {
            guard let options = schema[key].array else { continue }
            guard !options.isEmpty else { throw GrammarError("'\(key)' at \(path) is empty") }
            let siblings = schema.object!.filter { $0.0 != key && !JSONSchemaMerge.annotations.contains($0.0) }
            var alternatives: [String] = []
            for (i, option) in options.enumerated() {
                let branch = siblings.isEmpty ? option : try JSONSchemaMerge.merge([.object(siblings), option], resolve: resolve, path: path)
                alternatives.append(try expression(branch, path: "\(path)/\(key)/\(i)"))
            }
            return define(hint(path), alternatives.joined(separator: " | "))
        }
        if schema["const"] != .null || schema.object!.contains(where: { $0.0 == "const" }) {
            return GBNFText.literal(schema["const"].serialized())
        }
        if let values = schema["enum"].array {
            guard !values.isEmpty else { throw GrammarError("'enum' at \(path) is empty") }
            return define(hint(path), values.map { GBNFText.literal($0.serialized()) }.joined(separator: " | "))
        }
        var types: [String]
        switch schema["type"] {
        case .string(let t): types = [t]
        case .array(let list): types = list.compactMap(\.string)
        case .null: types = Self.inferredTypes(schema)
        default: throw GrammarError("'type' at \(path) must be a string or an array of strings")
        }
        if schema["nullable"].bool == true, !types.isEmpty, !types.contains("null") { types.append("null") }
        if types.isEmpty { return primitive("value") }
        let alternatives = try types.map { try typed($0, schema, path: path) }
        return alternatives.count == 1 ? alternatives[0] : define(hint(path), alternatives.joined(separator: " | "))
    }

    /// The type the keywords imply when `type` is absent (as xgrammar and llama.cpp read them).
    static func inferredTypes(_ schema: JSONValue) -> [String] {
        let keys = Set((schema.object ?? []).map(\.0))
        if !keys.isDisjoint(with: ["properties", "additionalProperties", "required"]) { return ["object"] }
        if !keys.isDisjoint(with: ["items", "prefixItems", "minItems", "maxItems"]) { return ["array"] }
        if !keys.isDisjoint(with: ["minLength", "maxLength", "pattern", "format"]) { return ["string"] }
        if !keys.isDisjoint(with: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]) { return ["number"] }
        return []
    }

    private func typed(_ type: String, _ schema: JSONValue, path: String) throws -> String {
        switch type {
        case "null": return "\"null\""
        case "boolean": return define("boolean", "\"true\" | \"false\"")
        case "string": return try string(schema, path: path)
        case "integer": return try integer(schema, path: path)
        case "number": return try number(schema, path: path)
        case "object": return try object(schema, path: path)
        case "array": return try array(schema, path: path)
        default: throw GrammarError("unknown type '\(type)' at \(path)")
        }
    }

    private func reference(_ ref: String, schema: JSONValue, path: String) throws -> String {
        let others = (schema.object ?? []).filter { $0.0 != "$ref" && !JSONSchemaMerge.annotations.contains($0.0) && $0.0 != "$defs" && $0.0 != "definitions" }
        if !others.isEmpty {
            let merged = try JSONSchemaMerge.merge([try resolve(ref), .object(others)], resolve: resolve, path: path)
            return try expression(merged, path: path)
        }
        if let rule = refRules[ref] { return rule }
        // Named before the target is converted, so that a recursive reference finds the rule.
        let name = uniqueName("ref-" + (ref.split(separator: "/").last.map(String.init) ?? "root"))
        refRules[ref] = name
        let body = try expression(try resolve(ref), path: ref)
        lines.append("\(name) ::= \(body)")
        return name
    }

    /// The schema a local reference (`#`, `#/$defs/x`, any JSON pointer) points to.
    func resolve(_ ref: String) throws -> JSONValue {
        guard ref.hasPrefix("#") else { throw GrammarError("unsupported $ref '\(ref)': only local references (#/...) are resolved") }
        var node = root
        for raw in ref.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let token = (String(raw).removingPercentEncoding ?? String(raw))
                .replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let array = node.array, let i = Int(token), i >= 0, i < array.count {
                node = array[i]
            } else if node.object?.contains(where: { $0.0 == token }) == true {
                node = node[token]
            } else {
                throw GrammarError("$ref '\(ref)' points to nothing")
            }
        }
        return node
    }

    func hint(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "#" && $0 != "properties" }
        return parts.suffix(2).joined(separator: "-").isEmpty ? "schema" : parts.suffix(2).joined(separator: "-")
    }
}
