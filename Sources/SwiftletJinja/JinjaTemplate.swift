/// A parsed Jinja template, rendered the way Hugging Face transformers renders chat
/// templates (`trim_blocks`, `lstrip_blocks`, loop controls, an immutable sandbox, and the
/// globals `raise_exception`, `strftime_now`, `namespace`, `dict`, `range`).
public struct JinjaTemplate: Sendable {
    let nodes: [JinjaNode]

    /// Parses `source`; throws a `JinjaError` of kind `.syntax` with the line and column.
    public init(source: String) throws {
        nodes = try JinjaParser.parse(source)
    }

    /// Renders with `context` as the template's variables.
    public func render(_ context: [String: JinjaValue]) throws -> String {
        try JinjaInterpreter(globals: context).render(nodes)
    }
}
