import Testing
@testable import SwiftletGrammar

@Suite struct GBNFParserTests {
    func accepts(_ grammar: String, _ text: String) throws -> Bool { try TestVocabulary.matches(.gbnf(grammar), text) }

    @Test func literalsAlternationAndGroups() throws {
        let g = #"root ::= "a" ("b" | "cd")+ "e""#
        #expect(try accepts(g, "abe"))
        #expect(try accepts(g, "acdbcde"))
        #expect(try !accepts(g, "ae"))
        #expect(try !accepts(g, "abce"))
    }

    @Test func escapesInLiterals() throws {
        let g = #"root ::= "\x41\u00e9\n\t\\\"" "\U0001F600""#
        #expect(try accepts(g, "Aé\n\t\\\"😀"))
        #expect(try !accepts(g, "Ae\n\t\\\"😀"))
    }

    @Test func characterClassesAndDot() throws {
        let g = "root ::= [a-c0-9é]+ [^a-z\\n] .\n"
        #expect(try accepts(g, "a9éB!"))
        #expect(try accepts(g, "ccc€😀"))
        #expect(try accepts(g, "ab c"))
        #expect(try !accepts(g, "abc"))         // "c" cannot be [^a-z\n]
        #expect(try !accepts(g, "a\n!"))
        #expect(try !accepts(g, "dB!"))
    }

    @Test func repetitionBounds() throws {
        let g = #"root ::= "x"{2} "y"{1,} "z"{0,2} "w"{2,3}"#
        #expect(try accepts(g, "xxyww"))
        #expect(try accepts(g, "xxyyyzzwww"))
        #expect(try !accepts(g, "xyww"))
        #expect(try !accepts(g, "xxzww"))
        #expect(try !accepts(g, "xxyzzzww"))
        #expect(try !accepts(g, "xxywwww"))
    }

    @Test func rulesCommentsAndMultilineBodies() throws {
        let g = """
            # a list of numbers
            root ::= "[" ( num ( "," num )* )? "]"   # trailing comment
            num ::= "-"?
                    [0-9]+
                  | "inf"
            """
        #expect(try accepts(g, "[1,-22,inf]"))
        #expect(try accepts(g, "[]"))
        #expect(try !accepts(g, "[1,]"))
    }

    @Test func nestedRecursion() throws {
        let g = #"root ::= "(" root ")" | "x""#
        #expect(try accepts(g, "((x))"))
        #expect(try !accepts(g, "((x)"))
    }

    /// The shape of llama.cpp's grammars/json.gbnf: bodies on the following lines, an empty first
    /// alternative, escapes in classes, comments after an alternative.
    @Test func llamaCppStyleJSONGrammar() throws {
        let g = #"""
            root   ::= object
            value  ::= object | array | string | number | ("true" | "false" | "null") ws

            object ::=
              "{" ws (
                        string ":" ws value
                ("," ws string ":" ws value)*
              )? "}" ws

            array  ::=
              "[" ws (
                        value
                ("," ws value)*
              )? "]" ws

            string ::=
              "\"" (
                [^"\\\x7F\x00-\x1F] |
                "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
              )* "\"" ws

            number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

            # Optional space
            ws ::= | " " | "\n" [ \t]{0,20}
            """#
        #expect(try accepts(g, #"{"a": [1, 2.5, {"b": "x\u00e9\n"}], "c": null} "#))
        #expect(try accepts(g, "{\n  \"k\": true\n}"))
        #expect(try !accepts(g, #"{"a": [1,]}"#))
        #expect(try !accepts(g, "{\"a\": \"\u{7F}\"}"))
    }

    @Test func errorsNameThePlaceAndTheProblem() {

        #expect(TestVocabulary.error(.gbnf("root ::= foo")) == "line 1, column 10: undefined rule 'foo'")
        #expect(TestVocabulary.error(.gbnf("root ::= (\"a\"")) == "line 1, column 10: unbalanced '(': no matching ')'")
        #expect(TestVocabulary.error(.gbnf("root ::= \"a\" )")) == "line 1, column 14: unbalanced ')'")
        #expect(TestVocabulary.error(.gbnf("root ::= \"a")) == "line 1, column 12: unterminated string literal")
        #expect(TestVocabulary.error(.gbnf("a ::= \"x\"")) == "the grammar has no 'root' rule (the start rule)")
        #expect(TestVocabulary.error(.gbnf("root ::= \"a\"\nroot ::= \"b\"")) == "line 2, column 1: rule 'root' is defined twice")
        #expect(TestVocabulary.error(.gbnf("root ::= [z-a]"))?.contains("out of order") == true)
        #expect(TestVocabulary.error(.gbnf("root ::= \"\\q\"")) == "line 1, column 11: unknown escape '\\q'")
        #expect(TestVocabulary.error(.gbnf("root = \"a\"")) == "line 1, column 6: expected '::=' after rule name 'root'")
        #expect(TestVocabulary.error(.gbnf("")) == "the grammar is empty")
        #expect(TestVocabulary.error(.gbnf("root ::= \"a\"{3,1}"))?.contains("maximum below its minimum") == true)
        #expect(TestVocabulary.error(.gbnf("root ::= " + String(repeating: "(", count: 5000) + "\"a\"" + String(repeating: ")", count: 5000)))?.contains("nested more than 100 deep") == true)
    }

    @Test func leftRecursionIsRefusedWithItsCycle() {
        let message = TestVocabulary.error(.gbnf("root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]"))
        #expect(message?.hasPrefix("left recursion: rule 'expr'") == true)
        let indirect = TestVocabulary.error(.gbnf("root ::= a\na ::= b? \"x\" | \"y\"\nb ::= \"\" a"))
        #expect(indirect?.contains("b -> a") == true && indirect?.hasPrefix("left recursion: rule 'a'") == true)
    }
}
