import SwiftletFormats

/// Objects and arrays.
extension JSONSchemaConverter {
    /// Members in schema order; an optional one may be left out, which the rules track with two
    /// chains (before and after the first member written) so commas stay right. Without
    /// `additionalProperties`, an object with `properties` allows no other member, as vLLM's
    /// xgrammar backend does by default (strict mode's behaviour); one without `properties`
    /// allows any. Extra members' keys are any string (a defined name is not excluded).
    func object(_ schema: JSONValue, path: String) throws -> String {
        let properties = schema["properties"].object ?? []
        if schema["properties"] != .null, schema["properties"].object == nil {
            throw GrammarError("'properties' at \(path) must be an object")
        }
        let required = Set((schema["required"].array ?? []).compactMap(\.string))
        var members: [(key: String, value: String, required: Bool)] = []
        for (key, sub) in properties {
            members.append((key, try expression(sub, path: "\(path)/properties/\(key)"), required.contains(key)))
        }
        let extra: String?
        switch schema["additionalProperties"] {
        case .bool(false): extra = nil
        case .null: extra = properties.isEmpty ? primitive("value") : nil
        case .bool(true): extra = primitive("value")
        case let sub: extra = try expression(sub, path: "\(path)/additionalProperties")
        }
        for key in (schema["required"].array ?? []).compactMap(\.string) where !properties.contains(where: { $0.0 == key }) {
            guard let extra else {
                throw GrammarError("'required' at \(path) names '\(key)', which 'properties' lacks while additional properties are not allowed")
            }
            members.append((key, extra, true))
        }
        let name = hint(path)
        let colon = "\(ws) \":\" \(ws)", comma = "\(ws) \",\" \(ws)"
        // first[i] / after[i]: members i... when no member / some member has been written.
        var first = "", after = ""
        if let extra {
            let kv = define(name + "-extra-kv", "\(primitive("string")) \(colon) \(extra)")
            after = define(name + "-extra-after", "( \(comma) \(kv) )*")
            first = define(name + "-extra-first", "( \(kv) ( \(comma) \(kv) )* )?")
        }
        for (i, m) in members.enumerated().reversed() {
            let kv = "\(GBNFText.literal(JSONValue.string(m.key).serialized())) \(colon) \(m.value)"
            let nextAfter = after.isEmpty ? "" : " " + after
            if m.required {
                after = define("\(name)-a\(i)", "\(comma) \(kv)\(nextAfter)")
                first = define("\(name)-f\(i)", "\(kv)\(nextAfter)")
            } else {
                after = define("\(name)-a\(i)", "( \(comma) \(kv) )?\(nextAfter)")
                first = define("\(name)-f\(i)", "\(kv)\(nextAfter) | \(first.isEmpty ? "\"\"" : first)")
            }
        }
        let content = first.isEmpty ? "" : " \(first)"
        return define(name + "-object", "\"{\" \(ws)\(content) \(ws) \"}\"")
    }

    /// Items by position (`prefixItems`, or the older tuple form of `items`) then the rest
    /// (`items`, or `additionalItems` after a tuple), within `minItems`...`maxItems`.
    func array(_ schema: JSONValue, path: String) throws -> String {
        var prefixSchemas = schema["prefixItems"].array ?? []
        var restSchema: JSONValue = schema["items"]
        if let tuple = schema["items"].array {
            prefixSchemas = tuple
            restSchema = schema["additionalItems"]
        }
        var prefix: [String] = []
        for (i, sub) in prefixSchemas.enumerated() { prefix.append(try expression(sub, path: "\(path)/prefixItems/\(i)")) }
        let rest: String?
        switch restSchema {
        case .bool(false): rest = nil
        case .null, .bool(true): rest = primitive("value")
        default: rest = try expression(restSchema, path: "\(path)/items")
        }
        let minItems = max(0, schema["minItems"].int ?? 0)
        let maxItems = schema["maxItems"].int
        if let maxItems, maxItems < minItems { throw GrammarError("'maxItems' at \(path) is below 'minItems'") }
        let limit = rest == nil ? prefix.count : maxItems ?? Int.max
        let upper = min(limit, maxItems ?? Int.max)
        guard minItems <= upper else { throw GrammarError("array at \(path) cannot hold 'minItems' \(minItems) items") }
        let comma = "\(ws) \",\" \(ws)"
        if upper > GrammarBuilder.maxRepetition, upper != Int.max { throw GrammarError("'maxItems' at \(path) is above \(GrammarBuilder.maxRepetition)") }

        // tail(i): the items from position i on, each preceded by a comma when i > 0.
        func tail(_ i: Int) -> String {
            if i >= upper { return "" }
            let sep = i == 0 ? "" : "\(comma) "
            if i >= prefix.count, let rest {
                let need = max(0, minItems - i)
                let more = upper == Int.max ? "" : "\(upper - i - 1)"
                if i == 0 {
                    let tailReps = need > 0 ? "{\(need - 1),\(more)}" : "{0,\(more)}"
                    let seq = "\(rest) ( \(comma) \(rest) )\(tailReps)"
                    return need > 0 ? seq : "( \(seq) )?"
                }
                return "( \(comma) \(rest) ){\(need),\(upper == Int.max ? "" : "\(upper - i)")}"
            }
            guard i < prefix.count else { return "" }
            let next = tail(i + 1)
            let body = define("\(hint(path))-item\(i)", "\(sep)\(prefix[i])\(next.isEmpty ? "" : " " + next)")
            return i < minItems ? body : "( \(body) )?"
        }
        let content = tail(0)
        return define(hint(path) + "-array", "\"[\" \(ws)\(content.isEmpty ? "" : " " + content) \(ws) \"]\"")
    }
}
