/// Regular expressions to GBNF.
public enum RegexGrammar {
    public static func gbnfRules(pattern: String, rootRule: String) throws -> String {
        throw GrammarError("regex is not supported yet")
    }
}
