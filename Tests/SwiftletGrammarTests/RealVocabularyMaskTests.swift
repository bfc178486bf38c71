import Testing
@testable import SwiftletGrammar

/// Masks on a real vocabulary (SmolLM2's 49,152 tokens when installed), token by token along a
/// document the tokenizer encodes, against `allows` for every token and, on a sample, against
/// the stack sets advanced byte by byte without the automaton's tables.
@Suite struct RealVocabularyMaskTests {
    @Test func masksEqualTheBruteForceCheck() throws {
        guard let (vocabulary, tokenizer) = RealVocabulary.loaded else { return }
        let compiler = GrammarCompiler(vocabulary: vocabulary)
        let grammar = try compiler.compile(.jsonObject)
        let document = #"{"name": "Zoë", "tags": ["a b", "c"], "n": -12.5, "ok": true}"#
        let ids = tokenizer.encode(document, addSpecialTokens: false, parseSpecial: false)
        var m = GrammarMatcher(grammar)
        let words = (vocabulary.count + 31) / 32
        var mask = [UInt32](repeating: 0, count: words)
        for (step, id) in ids.enumerated() {
            mask.withUnsafeMutableBufferPointer { m.fillNextTokenMask($0) }
            var mismatches = 0
            for t in 0..<vocabulary.count where ((mask[t >> 5] >> UInt32(t & 31)) & 1 == 1) != m.allows(t) { mismatches += 1 }
            #expect(mismatches == 0, "step \(step)")
            if step < 4 {
                let stacks = grammar.automaton.initialState().stacks
                var state = stacks
                for prior in ids[..<step] { for b in vocabulary.tokenBytes[prior]! { state = state.advanced(by: b, grammar.automaton.grammar) } }
                for t in stride(from: step, to: vocabulary.count, by: 11) {
                    guard let bytes = vocabulary.tokenBytes[t] else { continue }
                    var s = state
                    for b in bytes where !s.isDead { s = s.advanced(by: b, grammar.automaton.grammar) }
                    #expect(!s.isDead == ((mask[t >> 5] >> UInt32(t & 31)) & 1 == 1), "token \(t) at step \(step)")
                }
            }
            let accepted = m.accept(id)
            #expect(accepted, "token \(id) of the document")
        }
        #expect(m.isComplete)
        for end in vocabulary.endTokenIDs { #expect(m.allows(end)) }
    }
}
