import Testing
@testable import SwiftletGrammar

@Suite struct RegexGrammarTests {
    func check(_ pattern: String, valid: [String], invalid: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for s in valid { #expect(try TestVocabulary.matches(.regex(pattern), s), "should accept \(s)", sourceLocation: sourceLocation) }
        for s in invalid { #expect(try !TestVocabulary.matches(.regex(pattern), s), "should reject \(s)", sourceLocation: sourceLocation) }
    }

    @Test func literalsEscapesAndClasses() throws {
        try check(#"a\.b\d\w\s"#, valid: ["a.b1_ ", "a.b9Z\t"], invalid: ["axb1_ ", "a.bx_ "])
        try check(#"[A-Fa-f0-9]+[^\d\s]"#, valid: ["beef!", "0x"], invalid: ["beef1", "beef "])
        try check(#"\D\W\S"#, valid: ["a!b"], invalid: ["1!b", "aab", "a! "])
        try check(#"\x41\u00e9\u{1F600}\n"#, valid: ["Aé😀\n"], invalid: ["Ae😀\n"])
        try check("é[à-ü]", valid: ["éö"], invalid: ["éa"])
    }

    @Test func dotGroupsAlternationAndQuantifiers() throws {
        try check(#"(ab|c)+(?:x|yz)?"#, valid: ["ab", "cabc", "abyz", "cx"], invalid: ["", "abxy", "ba"])
        try check(#"a{2}b{1,}c{0,2}d{1,2}"#, valid: ["aabd", "aabbbccdd"], invalid: ["abd", "aabcccd", "aabddd"])
        try check(#"a.c"#, valid: ["abc", "a€c"], invalid: ["a\nc", "ac"])
        try check(#"(?<year>\d{4})-(?P<m>\d\d)"#, valid: ["2024-01"], invalid: ["24-01"])
        try check(#"a+?b*?c??"#, valid: ["aab", "a", "abbc"], invalid: ["b"])
    }

    @Test func anchorsAtTheEndsAreFullMatch() throws {
        try check(#"^ab$"#, valid: ["ab"], invalid: ["xab", "abx"])
        try check(#"^a|b$"#, valid: ["a", "b"], invalid: ["ab"])
    }

    @Test func choiceIsAnAlternationOfLiterals() throws {
        #expect(try TestVocabulary.matches(.choice(["yes", "no", "a\"b\\"]), "a\"b\\"))
        #expect(try TestVocabulary.matches(.choice(["yes", "no"]), "no"))
        #expect(try !TestVocabulary.matches(.choice(["yes", "no"]), "n"))
        #expect(try !TestVocabulary.matches(.choice(["yes", "no"]), "yesno"))
    }

    @Test func unsupportedConstructsAreNamed() {
        #expect(TestVocabulary.error(.regex(#"(a)\1"#)) == "regex at offset 3: backreferences are not supported")
        #expect(TestVocabulary.error(.regex(#"a(?=b)"#)) == "regex at offset 1: lookaround is not supported")
        #expect(TestVocabulary.error(.regex(#"a(?<!b)"#)) == "regex at offset 1: lookaround is not supported")
        #expect(TestVocabulary.error(.regex(#"\bword"#)) == #"regex at offset 0: word boundaries (\b) are not supported"#)
        #expect(TestVocabulary.error(.regex("(ab")) == "regex at offset 3: unbalanced '(': no matching ')'")
        #expect(TestVocabulary.error(.regex("ab)")) == "regex at offset 2: unbalanced ')'")
        #expect(TestVocabulary.error(.regex("*a")) == "regex at offset 0: nothing to repeat before '*'")
        #expect(TestVocabulary.error(.regex("[a-")) == "regex at offset 3: unterminated character class")
        #expect(TestVocabulary.error(.regex("a^b"))?.contains("anchors") == true)
        #expect(TestVocabulary.error(.regex("(?i)a"))?.contains("inline flags") == true)
        #expect(TestVocabulary.error(.regex(String(repeating: "(", count: 5000)))?.contains("nested more than 100 deep") == true)
    }
}
