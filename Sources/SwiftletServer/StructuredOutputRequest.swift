import SwiftletAPI
import SwiftletEngine
import SwiftletFormats
import SwiftletGrammar

/// The output constraint a request asks for, from whichever form of the API it came in:
/// OpenAI's `response_format` (`text`, `json_object`, `json_schema`), vLLM's older `guided_json`,
/// `guided_regex`, `guided_choice` and `guided_grammar`, or vLLM's `structured_outputs` object
/// (`json`, `regex`, `choice`, `grammar`, `json_object`).
///
/// At most one constraint per request; what cannot be enforced is a 400 naming the field, never
/// unconstrained output.
struct StructuredOutputRequest: Equatable {
    let spec: GrammarSpec
    /// The field the constraint came from, as errors name it.
    let param: String

    /// The constraint of a request body, or nil when it asks for free text.
    static func read(_ f: RequestFields) throws -> StructuredOutputRequest? {
        var found: [StructuredOutputRequest] = []
        if let format = try f.object("response_format"), let c = try responseFormat(format) { found.append(c) }
        if let v = f.value("guided_json") { found.append(.init(spec: try schemaSpec(v, param: "guided_json"), param: "guided_json")) }
        if let r = try f.string("guided_regex") { found.append(.init(spec: .regex(r), param: "guided_regex")) }
        if let v = f.value("guided_choice") { found.append(.init(spec: try choiceSpec(v, param: "guided_choice"), param: "guided_choice")) }
        if let g = try f.string("guided_grammar") { found.append(.init(spec: .gbnf(g), param: "guided_grammar")) }
        if f.value("guided_whitespace_pattern") != nil {
            throw OpenAIError.invalidRequest("guided_whitespace_pattern is not supported: whitespace between JSON tokens is "
                                                 + "fixed by the engine (bounded, so a model cannot stall in it).",
                                             param: "guided_whitespace_pattern")
        }
        if let so = try f.object("structured_outputs") { found += try structuredOutputs(so) }
        guard found.count <= 1 else {
            throw OpenAIError.invalidRequest("Only one structured output constraint may be given; got "
                                                 + found.map(\.param).joined(separator: " and ") + ".",
                                             param: found[1].param)
        }
        return found.first
    }

    /// `response_format`: `{"type": "text"}`, `{"type": "json_object"}` or
    /// `{"type": "json_schema", "json_schema": {"name", "schema", "strict", "description"}}`.
    private static func responseFormat(_ f: RequestFields) throws -> StructuredOutputRequest? {
        let param = "response_format"
        guard let type = try f.string("type") else {
            throw OpenAIError.invalidRequest("response_format needs a 'type': text, json_object or json_schema.", param: param)
        }
        switch type {
        case "text": return nil
        case "json_object": return .init(spec: .jsonObject, param: param)
        case "json_schema":
            guard let js = try f.object("json_schema") else {
                throw OpenAIError.invalidRequest("response_format of type json_schema needs a 'json_schema' object.", param: param)
            }
            guard let schema = js.value("schema") else {
                throw OpenAIError.invalidRequest("response_format.json_schema needs a 'schema'.", param: param)
            }
            return .init(spec: try schemaSpec(schema, param: param), param: param)
        default:
            throw OpenAIError.invalidRequest("response_format type '\(type)' is not supported; use text, json_object or json_schema.",
                                             param: param)
        }
    }

    /// vLLM's `structured_outputs` object; its flags that tune a backend are accepted and have no
    /// effect here, its other constraints are refused.
    private static func structuredOutputs(_ f: RequestFields) throws -> [StructuredOutputRequest] {
        let param = "structured_outputs"
        var found: [StructuredOutputRequest] = []
        if let v = f.value("json") { found.append(.init(spec: try schemaSpec(v, param: param), param: param + ".json")) }
        if let r = try f.string("regex") { found.append(.init(spec: .regex(r), param: param + ".regex")) }
        if let v = f.value("choice") { found.append(.init(spec: try choiceSpec(v, param: param), param: param + ".choice")) }
        if let g = try f.string("grammar") { found.append(.init(spec: .gbnf(g), param: param + ".grammar")) }
        if try f.bool("json_object") == true { found.append(.init(spec: .jsonObject, param: param + ".json_object")) }
        for unsupported in ["structural_tag", "whitespace_pattern"] where f.value(unsupported) != nil {
            throw OpenAIError.invalidRequest("structured_outputs.\(unsupported) is not supported.", param: param)
        }
        // Every constraint names the object itself, which is what OpenAI-style errors point at.
        return found.map { .init(spec: $0.spec, param: found.count > 1 ? $0.param : param) }
    }

    /// A JSON schema given as an object (or a boolean) or as its text; kept as compact text with the
    /// keys in the order sent, so the same schema hits the compiler's cache while `properties`
    /// keep their order (the order in which the output's keys are generated, as with OpenAI).
    static func schemaSpec(_ v: JSONValue, param: String) throws -> GrammarSpec {
        var schema = v
        if case .string(let text) = v {
            do {
                schema = try JSONValue.parse(text)
            } catch {
                throw OpenAIError.invalidRequest("The JSON schema in \(param) is not valid JSON: \(error)", param: param)
            }
        }
        switch schema {
        // `true` (any value) and `false` (none) are schemas too; the compiler refuses `false`.
        case .object, .bool: return .jsonSchema(schema.serialized())
        default: throw OpenAIError.invalidRequest("The JSON schema in \(param) must be an object.", param: param)
        }
    }

    private static func choiceSpec(_ v: JSONValue, param: String) throws -> GrammarSpec {
        guard case .array(let items) = v, !items.isEmpty else {
            throw OpenAIError.invalidRequest("\(param) must be a non-empty list of strings.", param: param)
        }
        return .choice(try items.map {
            guard case .string(let s) = $0 else { throw OpenAIError.invalidRequest("\(param) must be a list of strings.", param: param) }
            return s
        })
    }

    /// Compiles the constraint with the engine's compiler (a cache hit when the engine meets it
    /// again); one that does not compile is a 400 naming this request's field.
    func validate(with compiler: StructuredOutputCompiler?) throws {
        guard let compiler else {
            throw OpenAIError.invalidRequest("Structured outputs need the model's tokenizer.", param: param)
        }
        do {
            _ = try compiler.compile(spec)
        } catch let e as GrammarError {
            throw OpenAIError.invalidRequest("Invalid \(kind) in \(param): \(e.message)", param: param)
        }
    }

    /// What the constraint is, for error messages.
    private var kind: String {
        switch spec {
        case .jsonObject, .jsonSchema: return "JSON schema"
        case .regex: return "regular expression"
        case .choice: return "choice list"
        case .gbnf: return "grammar"
        }
    }
}

extension OpenAIServer {
    /// The request's output constraint, checked by compiling it; nil for free text.
    func structuredOutput(_ f: RequestFields, _ g: GenerationService) throws -> GrammarSpec? {
        guard let c = try StructuredOutputRequest.read(f) else { return nil }
        try c.validate(with: g.engine.structuredOutputCompiler)
        return c.spec
    }
}
