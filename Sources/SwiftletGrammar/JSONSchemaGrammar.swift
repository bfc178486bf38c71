/// JSON Schema to GBNF.
public enum JSONSchemaGrammar {
    /// GBNF text defining `rootRule` as JSON valid under the schema; every helper rule's name
    /// starts with `rootRule`, so several schemas can share one GBNF document with other rules.
    public static func gbnfRules(schemaText: String, rootRule: String) throws -> String {
        throw GrammarError("JSON Schema is not supported yet")
    }

    /// GBNF text defining `rootRule` as any JSON object (`response_format` `json_object`).
    public static func anyObjectGBNF(rootRule: String) -> String {
        "\(rootRule) ::= \(rootRule)-object\n" + JSONGrammarPrimitives.rules(prefix: rootRule)
    }
}
