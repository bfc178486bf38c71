/// A spec compiled against one vocabulary: shared by every matcher of requests with that spec,
/// which also share its lazily built automaton and mask cache.
public final class CompiledGrammar: Sendable {
    public let spec: GrammarSpec
    /// Wall time the compilation took (parsing and lowering; masks are built lazily later).
    public let compileSeconds: Double
    let automaton: GrammarAutomaton

    init(spec: GrammarSpec, rules: GrammarRules, vocabulary: GrammarVocabulary, compileSeconds: Double) {
        self.spec = spec
        self.automaton = GrammarAutomaton(grammar: FlatGrammar(rules), vocabulary: vocabulary)
        self.compileSeconds = compileSeconds
    }

    var vocabulary: GrammarVocabulary { automaton.vocabulary }

    /// The spec's rules: each form is first written as GBNF, so that every form shares one parser
    /// and JSON schemas can be combined with other rules as text.
    static func rules(for spec: GrammarSpec) throws -> GrammarRules {
        switch spec {
        case .gbnf(let text): return try GBNFParser.parse(text)
        case .jsonObject: return try GBNFParser.parse(JSONSchemaGrammar.anyObjectGBNF(rootRule: "root"))
        case .jsonSchema(let text): return try GBNFParser.parse(JSONSchemaGrammar.gbnfRules(schemaText: text, rootRule: "root"))
        case .regex(let pattern): return try GBNFParser.parse(RegexGrammar.gbnfRules(pattern: pattern, rootRule: "root"))
        case .choice(let options):
            guard !options.isEmpty else { throw GrammarError("choice needs at least one option") }
            return try GBNFParser.parse("root ::= " + options.map(GBNFText.literal).joined(separator: " | "))
        }
    }
}
