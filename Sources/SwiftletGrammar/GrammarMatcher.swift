/// Where one sequence is in its grammar.
///
/// Value semantics: a copy forks the state (the engine copies it for n/best_of and beam search).
public struct GrammarMatcher: Sendable {
    public let grammar: CompiledGrammar
    private var state: GrammarAutomaton.State

    public init(_ grammar: CompiledGrammar) {
        self.grammar = grammar
        self.state = grammar.automaton.initialState()
    }

    /// Advances by one token; returns false and leaves the state unchanged if the grammar forbids it.
    /// An end token (GrammarVocabulary.endTokenIDs) is allowed exactly when `canEnd`.
    public mutating func accept(_ token: Int) -> Bool {
        let vocabulary = grammar.vocabulary
        guard token >= 0, token < vocabulary.count else { return false }
        if vocabulary.isEnd[token] { return canEnd }
        guard let bytes = vocabulary.tokenBytes[token],
            let next = grammar.automaton.advance(state, by: bytes) else { return false }
        state = next
        return true
    }

    /// Advances by raw bytes (text the engine forces, or tests); false and unchanged if forbidden.
    public mutating func accept(bytes: [UInt8]) -> Bool {
        guard let next = grammar.automaton.advance(state, by: bytes) else { return false }
        state = next
        return true
    }

    /// Whether `token` would be accepted now (cheap: for checking a sampled token before computing a mask).
    public func allows(_ token: Int) -> Bool {
        let vocabulary = grammar.vocabulary
        guard token >= 0, token < vocabulary.count else { return false }
        if vocabulary.isEnd[token] { return canEnd }
        guard let bytes = vocabulary.tokenBytes[token] else { return false }
        return grammar.automaton.allows(state, bytes: bytes)
    }

    /// Bit (i & 31) of word (i >> 5) set = token i allowed next; end tokens set when canEnd. mask.count >= (vocab + 31) / 32.
    public func fillNextTokenMask(_ mask: UnsafeMutableBufferPointer<UInt32>) {
        let vocabulary = grammar.vocabulary
        let words = (vocabulary.count + 31) / 32
        precondition(mask.count >= words, "token mask has \(mask.count) words, the vocabulary needs \(words)")
        grammar.automaton.fillMask(state, mask)
        for i in words..<mask.count { mask[i] = 0 }
        let end = canEnd
        for token in vocabulary.endTokenIDs {
            if end { mask[token >> 5] |= 1 << UInt32(token & 31) } else { mask[token >> 5] &= ~(1 << UInt32(token & 31)) }
        }
    }

    /// The text so far is a complete match (end tokens are allowed).
    public var canEnd: Bool { state.stacks.canEnd }

    /// A complete match that no further byte can extend: the sequence should stop now.
    public var isComplete: Bool { state.stacks.isComplete }
}
