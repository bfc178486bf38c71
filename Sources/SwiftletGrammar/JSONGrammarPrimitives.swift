/// The GBNF rules of plain JSON that the schema converter builds on, with names under a prefix.
///
/// Whitespace between tokens is bounded (nothing, one space, or a newline and up to 16 spaces
/// or tabs of indent) so that a model cannot stall in whitespace; numbers are bounded to 16
/// digits before and after the point for the same reason.
enum JSONGrammarPrimitives {
    static func rules(prefix p: String) -> String {
        """
        \(p)-ws ::= ( " " | "\\n" [ \\t]{0,16} )?
        \(p)-value ::= \(p)-object | \(p)-array | \(p)-string | \(p)-number | "true" | "false" | "null"
        \(p)-object ::= "{" \(p)-ws ( \(p)-string \(p)-ws ":" \(p)-ws \(p)-value ( \(p)-ws "," \(p)-ws \(p)-string \(p)-ws ":" \(p)-ws \(p)-value )* )? \(p)-ws "}"
        \(p)-array ::= "[" \(p)-ws ( \(p)-value ( \(p)-ws "," \(p)-ws \(p)-value )* )? \(p)-ws "]"
        \(p)-string ::= "\\"" \(p)-char* "\\""
        \(p)-char ::= [^"\\\\\\x00-\\x1F] | "\\\\" ( ["\\\\/bfnrt] | "u" [0-9a-fA-F]{4} )
        \(p)-number ::= "-"? \(p)-uint ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?
        \(p)-integer ::= "-"? \(p)-uint
        \(p)-uint ::= "0" | [1-9] [0-9]{0,15}

        """
    }
}
