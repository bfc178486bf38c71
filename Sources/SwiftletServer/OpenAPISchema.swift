import SwiftletAPI
import SwiftletFormats

/// Builders for the JSON Schema objects (OpenAPI 3.0 dialect) of the server's OpenAPI document.
///
/// Request fields are `nullable` because the server reads an explicit `null` as "use the default"
/// (`RequestFields`); ranges are given only where the server rejects values outside them.
enum OpenAPISchema {
    static func integer(min: Int? = nil, max: Int? = nil, nullable: Bool = true, _ description: String? = nil) -> JSONValue {
        var s: [(String, JSONValue)] = [("type", "integer")]
        if let min { s.append(("minimum", .int(min))) }
        if let max { s.append(("maximum", .int(max))) }
        return finish(s, nullable: nullable, description)
    }

    /// A number; `exclusiveMin` makes `min` itself invalid (OpenAPI 3.0's boolean form).
    static func number(min: Double? = nil, max: Double? = nil, exclusiveMin: Bool = false, _ description: String? = nil) -> JSONValue {
        var s: [(String, JSONValue)] = [("type", "number")]
        if let min {
            s.append(("minimum", .double(min)))
            if exclusiveMin { s.append(("exclusiveMinimum", true)) }
        }
        if let max { s.append(("maximum", .double(max))) }
        return finish(s, nullable: true, description)
    }

    static func string(minLength: Int? = nil, values: [String]? = nil, nullable: Bool = true, _ description: String? = nil) -> JSONValue {
        var s: [(String, JSONValue)] = [("type", "string")]
        if let minLength { s.append(("minLength", .int(minLength))) }
        if let values { s.append(("enum", .array(values.map { .string($0) } + (nullable ? [.null] : [])))) }
        return finish(s, nullable: nullable, description)
    }

    static func boolean(_ description: String? = nil) -> JSONValue {
        finish([("type", "boolean")], nullable: true, description)
    }

    static func array(_ items: JSONValue, minItems: Int? = nil, maxItems: Int? = nil, nullable: Bool = false,
                      _ description: String? = nil) -> JSONValue {
        var s: [(String, JSONValue)] = [("type", "array"), ("items", items)]
        if let minItems { s.append(("minItems", .int(minItems))) }
        if let maxItems { s.append(("maxItems", .int(maxItems))) }
        return finish(s, nullable: nullable, description)
    }

    /// An object with the given properties; `additional` nil leaves other keys unspecified.
    static func object(_ properties: [(String, JSONValue)], required: [String] = [], additional: JSONValue? = nil,
                       nullable: Bool = false, _ description: String? = nil) -> JSONValue {
        var s: [(String, JSONValue)] = [("type", "object"), ("properties", .object(properties))]
        if !required.isEmpty { s.append(("required", .array(required.map { .string($0) }))) }
        if let additional { s.append(("additionalProperties", additional)) }
        return finish(s, nullable: nullable, description)
    }

    static func oneOf(_ choices: [JSONValue], nullable: Bool = false, _ description: String? = nil) -> JSONValue {
        finish([("oneOf", .array(choices))], nullable: nullable, description)
    }

    static func ref(_ component: String) -> JSONValue {
        ["$ref": .string("#/components/schemas/" + component)]
    }

    private static func finish(_ s: [(String, JSONValue)], nullable: Bool, _ description: String?) -> JSONValue {
        var s = s
        if nullable { s.append(("nullable", true)) }
        if let description { s.append(("description", .string(description))) }
        return .object(s)
    }

    // MARK: - Shared shapes

    /// OpenAI's error body: what every 4xx and 5xx of the server carries (`OpenAIError.jsonBody`).
    static let error: JSONValue = object([
        ("error", object([
            ("message", string(nullable: false)), ("type", string(nullable: false)),
            ("param", string()), ("code", string()),
        ], required: ["message", "type", "param", "code"], additional: false)),
    ], required: ["error"], additional: false)

    static let usage: JSONValue = object([
        ("prompt_tokens", integer(min: 0, nullable: false)), ("completion_tokens", integer(min: 0, nullable: false)),
        ("total_tokens", integer(min: 0, nullable: false)),
    ], required: ["prompt_tokens", "total_tokens"])

    /// A token id of a vocabulary of `vocabSize` entries.
    static func tokenID(_ vocabSize: Int) -> JSONValue {
        integer(min: 0, max: vocabSize - 1, nullable: false)
    }

    /// `stop_reason`: the stop token id or stop string that ended a choice, else null.
    static let stopReason: JSONValue = oneOf([integer(nullable: false), string(nullable: false)], nullable: true)

    static let finishReason: JSONValue = string()
}
