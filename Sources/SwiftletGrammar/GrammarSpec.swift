/// What a request constrains its output to: the forms of OpenAI's `response_format` and of vLLM's
/// `guided_*` / `structured_outputs` parameters.
///
/// Two specs that are equal compile to the same grammar, so the compiler caches by the spec
/// itself. A JSON schema is kept as its text in the client's key order: object members are
/// generated in the order of `properties`, so sorting the keys would change the grammar.
public enum GrammarSpec: Hashable, Sendable {
    /// Any JSON object (`response_format: {"type": "json_object"}`).
    case jsonObject
    /// JSON valid under a JSON Schema, given as its text.
    case jsonSchema(String)
    /// Text matching a regular expression in full.
    case regex(String)
    /// Exactly one of the given strings.
    case choice([String])
    /// A context-free grammar in llama.cpp's GBNF, with its start rule named `root`.
    case gbnf(String)
}
