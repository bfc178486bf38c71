/// The bytes each token id adds to the text; nil for special/control tokens, which a grammar never produces.
///
/// Holds the vocabulary as a byte trie laid out in depth-first order, so that a token mask is one
/// pass over an array that skips a whole subtree as soon as its prefix is impossible.
public final class GrammarVocabulary: Sendable {
    /// Tokens that end the sequence (EOS, end of turn): allowed exactly when the grammar can end.
    public let endTokenIDs: [Int]
    let tokenBytes: [[UInt8]?]
    let isEnd: [Bool]
    let trie: VocabularyTrie

    /// `tokenBytes[i]` is what token `i` appends to the text; nil (or empty) for tokens a grammar
    /// never allows, such as control tokens.
    public init(tokenBytes: [[UInt8]?], endTokenIDs: [Int]) {
        let ends = endTokenIDs.filter { $0 >= 0 && $0 < tokenBytes.count }
        // End tokens are decided by `canEnd` alone, never by their text; empty tokens would let a
        // model stall without advancing the grammar.
        var bytes = tokenBytes.map { $0.flatMap { $0.isEmpty ? nil : $0 } }
        for id in ends { bytes[id] = nil }
        self.tokenBytes = bytes
        self.endTokenIDs = ends
        var isEnd = [Bool](repeating: false, count: tokenBytes.count)
        for id in ends { isEnd[id] = true }
        self.isEnd = isEnd
        self.trie = VocabularyTrie(bytes)
    }

    /// Number of token ids (the mask covers them all).
    public var count: Int { tokenBytes.count }
}

/// Nodes in depth-first order: node `i`'s subtree is `i ..< subtreeEnd[i]`, its children follow
/// it directly, and `byte[i]` is the edge from its parent (the root is not stored).
struct VocabularyTrie: Sendable {
    let byte: [UInt8]
    let depth: [Int32]
    let subtreeEnd: [Int32]
    /// Tokens ending at node `i`: `tokens[tokenStart[i] ..< tokenStart[i + 1]]`.
    let tokenStart: [Int32]
    let tokens: [Int32]
    let maxDepth: Int

    init(_ tokenBytes: [[UInt8]?]) {
        let ids = tokenBytes.indices.filter { tokenBytes[$0] != nil }.sorted {
            tokenBytes[$0]!.lexicographicallyPrecedes(tokenBytes[$1]!)
        }
        var byte: [UInt8] = [], depth: [Int32] = [], subtreeEnd: [Int32] = []
        var tokenStart: [Int32] = [], tokens: [Int32] = []
        var path: [Int] = []          // node index at each depth of the current token
        var pathBytes: [UInt8] = []
        var maxDepth = 0
        for id in ids {
            let bytes = tokenBytes[id]!
            var common = 0
            while common < min(pathBytes.count, bytes.count), pathBytes[common] == bytes[common] { common += 1 }
            while path.count > common {
                subtreeEnd[path.removeLast()] = Int32(byte.count)
                pathBytes.removeLast()
            }
            for b in bytes[common...] {
                path.append(byte.count)
                pathBytes.append(b)
                byte.append(b); depth.append(Int32(path.count)); subtreeEnd.append(0)
                tokenStart.append(Int32(tokens.count))
            }
            maxDepth = max(maxDepth, bytes.count)
            tokens.append(Int32(id))
        }
        for node in path { subtreeEnd[node] = Int32(byte.count) }
        tokenStart.append(Int32(tokens.count))
        self.byte = byte; self.depth = depth; self.subtreeEnd = subtreeEnd
        self.tokenStart = tokenStart; self.tokens = tokens; self.maxDepth = maxDepth
    }
}
