import Testing
@testable import SwiftletGrammar

@Suite struct GrammarMatcherTests {
    let end = TestVocabulary.endToken
    func byte(_ c: Character) -> Int { Int(c.asciiValue!) }
    func multi(_ s: String) -> Int { 256 + TestVocabulary.multiByte.firstIndex(of: s)! }

    @Test func rejectedTokensLeaveTheStateUnchanged() throws {
        var m = GrammarMatcher(try TestVocabulary.compiler.compile(.gbnf(#"root ::= "ab" "c"?"#)))
        var results: [Bool] = []
        results.append(m.accept(byte("a")))
        results.append(!m.accept(byte("c")))
        results.append(!m.canEnd && !m.accept(end))
        results.append(m.accept(byte("b")))
        results.append(m.canEnd && !m.isComplete)
        results.append(m.accept(byte("c")))
        results.append(m.isComplete)
        results.append(!m.accept(byte("c")))
        results.append(m.accept(end))
        #expect(results == Array(repeating: true, count: results.count))
    }

    @Test func tokensSpanRulesAndSplitCodePoints() throws {
        let spec = GrammarSpec.gbnf("root ::= \"a\" b \"c\" | \"é\"\nb ::= \"b\"")
        var m = GrammarMatcher(try TestVocabulary.compiler.compile(spec))
        let whole = m.accept(multi("abc"))
        #expect(whole && m.isComplete)
        var split = GrammarMatcher(try TestVocabulary.compiler.compile(spec))
        let first = split.accept(0xC3)
        let midway = split.canEnd
        let second = split.accept(0xA9)
        #expect(first && !midway && second && split.canEnd)
    }

    @Test func aCopyForksTheState() throws {
        var a = GrammarMatcher(try TestVocabulary.compiler.compile(.choice(["yes", "no"])))
        var b = a
        let acceptedA = a.accept(byte("y")), acceptedB = b.accept(byte("n"))
        #expect(acceptedA && acceptedB)
        #expect(!a.allows(byte("o")) && b.allows(byte("o")))
        #expect(a.allows(byte("e")) && !b.allows(byte("e")))
    }

    @Test func controlTokensAndOutOfRangeIdsAreNeverAllowed() throws {
        var m = GrammarMatcher(try TestVocabulary.compiler.compile(.gbnf("root ::= .*")))
        #expect(m.canEnd && m.allows(end))
        let control = m.accept(end + 1)
        #expect(!m.allows(end + 1) && !control && !m.allows(-1) && !m.allows(100_000))
    }

    @Test func maskMatchesAllowsOnTheTestVocabulary() throws {
        let grammar = try TestVocabulary.compiler.compile(.gbnf(#"root ::= "{" ( "\"a\":" [0-9]+ ( ", " "\"b\":" ( "true" | "null" ) )? ) "}""#))
        var m = GrammarMatcher(grammar)
        let words = (TestVocabulary.vocabulary.count + 31) / 32
        var mask = [UInt32](repeating: 0xFFFF_FFFF, count: words + 1)
        for token in ["{\"", "a", "\":", "1", "2", ", ", "\"", "b", "\":", "true", "}"] {
            mask.withUnsafeMutableBufferPointer { m.fillNextTokenMask($0) }
            for id in 0..<TestVocabulary.vocabulary.count {
                #expect((mask[id >> 5] >> UInt32(id & 31)) & 1 == (m.allows(id) ? 1 : 0), "token \(id) before \(token)")
            }
            #expect(mask[words] == 0)
            let accepted = m.accept(token.utf8.count == 1 ? Int(token.utf8.first!) : multi(token))
            #expect(accepted, "token \(token)")
        }
        let ended = m.accept(end)
        #expect(m.isComplete && ended)
    }

    @Test func compilerCachesBySpecAndEvictsTheLeastRecent() throws {
        let compiler = GrammarCompiler(vocabulary: TestVocabulary.vocabulary, cacheCapacity: 2)
        let a = try compiler.compile(.choice(["a"]))
        #expect(try compiler.compile(.choice(["a"])) === a)
        _ = try compiler.compile(.choice(["b"]))
        _ = try compiler.compile(.choice(["a"]))
        _ = try compiler.compile(.choice(["c"]))   // evicts "b", the least recently used
        #expect(compiler.cachedCount == 2)
        #expect(try compiler.compile(.choice(["a"])) === a)
        #expect(throws: GrammarError.self) { try compiler.compile(.choice([])) }
    }

    @Test func concurrentCompilesOfOneSpecShareOneGrammar() async throws {
        let compiler = GrammarCompiler(vocabulary: TestVocabulary.vocabulary)
        let spec = GrammarSpec.jsonSchema(#"{"type":"object","properties":{"a":{"type":"integer"}}}"#)
        let grammars = try await withThrowingTaskGroup(of: CompiledGrammar.self) { group in
            for _ in 0..<8 { group.addTask { try compiler.compile(spec) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(grammars.allSatisfy { $0 === grammars[0] })
        #expect(compiler.cachedCount == 1)
    }

    @Test func jsonObjectAcceptsAnyObjectOnly() throws {
        #expect(try TestVocabulary.matches(.jsonObject, #"{"a": [1, -2.5e+3, {"b": null}], "c": "x\"\u00e9"}"#))
        #expect(try TestVocabulary.matchesGreedy(.jsonObject, "{\"a\": true,\n  \"b\": false}"))
        #expect(try TestVocabulary.matches(.jsonObject, "{}"))
        #expect(try !TestVocabulary.matches(.jsonObject, "[1]"))
        #expect(try !TestVocabulary.matches(.jsonObject, #"{"a": 01}"#))
        #expect(try !TestVocabulary.matches(.jsonObject, #"{"a":   1}"#))   // whitespace is bounded
    }
}
