/// A token matched whole in the text before any other tokenization (Hugging Face "added token").
public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int
    /// Special tokens (BOS, `<|im_start|>`…) are removed by `skipSpecialTokens`, and are matched in
    /// text only when the caller asks for special-token parsing.
    public var special: Bool
    /// Whether the match swallows white space on its left / right.
    public var lstrip: Bool
    public var rstrip: Bool
    /// Match only when not inside a word.
    public var singleWord: Bool
    /// Matched against normalized text (after the normalizer) rather than raw text.
    public var normalized: Bool

    public init(content: String, id: Int, special: Bool, lstrip: Bool = false, rstrip: Bool = false,
                singleWord: Bool = false, normalized: Bool = false) {
        self.content = content
        self.id = id
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
        self.normalized = normalized
    }
}

/// One piece of text after added tokens are cut out: either a byte range of plain text or a token.
struct TextSegment {
    var start: Int
    var end: Int
    /// The added token's id, or -1 for plain text.
    var id: Int32
    var isText: Bool { id < 0 }
}

/// Finds added tokens in UTF-8 text: leftmost match first, the longest at that position (as the
/// Aho-Corasick `LeftmostLongest` search in `tokenizers`), so `<|im_start|>` is never split.
struct AddedTokenMatcher: Sendable {
    private struct Node: Sendable {
        var edges: [UInt8] = []
        var children: [Int32] = []
        var token: Int32 = -1
    }

    private var nodes: [Node] = [Node()]
    private var firstByte = [Bool](repeating: false, count: 256)
    private(set) var tokens: [AddedToken] = []
    var isEmpty: Bool { tokens.isEmpty }

    init(_ tokens: [AddedToken], spelling: (AddedToken) -> [UInt8] = { Array($0.content.utf8) }) {
        for t in tokens {
            let bytes = spelling(t)
            guard !bytes.isEmpty else { continue }
            var node = 0
            for b in bytes {
                if let k = nodes[node].edges.firstIndex(of: b) {
                    node = Int(nodes[node].children[k])
                } else {
                    nodes.append(Node())
                    nodes[node].edges.append(b)
                    nodes[node].children.append(Int32(nodes.count - 1))
                    node = nodes.count - 1
                }
            }
            if nodes[node].token < 0 {
                nodes[node].token = Int32(self.tokens.count)
                self.tokens.append(t)
            }
            firstByte[Int(bytes[0])] = true
        }
    }

    /// Cuts `bytes[from..<to]` into text and token segments, appended to `out`.
    /// With `parseSpecial` false, special tokens are left in the text.
    func split(_ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int, parseSpecial: Bool,
               into out: inout [TextSegment]) {
        if tokens.isEmpty {
            if from < to { out.append(TextSegment(start: from, end: to, id: -1)) }
            return
        }
        var textStart = from
        var i = from
        while i < to {
            if !firstByte[Int(bytes[i])] { i += 1; continue }
            var node = 0
            var j = i
            var bestEnd = -1
            var best = -1
            while j < to {
                let b = bytes[j]
                guard let k = nodes[node].edges.firstIndex(of: b) else { break }
                node = Int(nodes[node].children[k])
                j += 1
                let t = Int(nodes[node].token)
                if t >= 0 && (parseSpecial || !tokens[t].special) {
                    if !tokens[t].singleWord || isWordBoundary(bytes, from, to, i, j) {
                        bestEnd = j
                        best = t
                    }
                }
            }
            if best < 0 { i += 1; continue }
            let tok = tokens[best]
            var ms = i
            var me = bestEnd
            if tok.lstrip {
                while ms > textStart, let (v, len) = scalarBefore(bytes, ms, textStart), ScalarClass.of(v) & ScalarClass.space != 0 {
                    ms -= len
                }
            }
            if tok.rstrip {
                while me < to, let (v, len) = scalarAt(bytes, me, to), ScalarClass.of(v) & ScalarClass.space != 0 {
                    me += len
                }
            }
            if textStart < ms { out.append(TextSegment(start: textStart, end: ms, id: -1)) }
            out.append(TextSegment(start: ms, end: me, id: Int32(tok.id)))
            textStart = me
            i = me
        }
        if textStart < to { out.append(TextSegment(start: textStart, end: to, id: -1)) }
    }

    private func isWordBoundary(_ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int, _ s: Int, _ e: Int) -> Bool {
        func isWord(_ v: UInt32) -> Bool {
            v == 0x5F || ScalarClass.of(v) & (ScalarClass.letter | ScalarClass.number) != 0
        }
        if s > from, let (v, _) = scalarBefore(bytes, s, from), isWord(v) { return false }
        if e < to, let (v, _) = scalarAt(bytes, e, to), isWord(v) { return false }
        return true
    }
}

/// The scalar starting at `i` and its UTF-8 length.
@inline(__always)
func scalarAt(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> (UInt32, Int)? {
    guard i < end else { return nil }
    let b0 = UInt32(b[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0, i + 1 < end { return ((b0 & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F), 2) }
    if b0 < 0xF0, i + 2 < end {
        return ((b0 & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F), 3)
    }
    if i + 3 < end {
        return ((b0 & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6
                | UInt32(b[i + 3] & 0x3F), 4)
    }
    return nil
}

/// The scalar ending just before `i` and its UTF-8 length.
@inline(__always)
func scalarBefore(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ start: Int) -> (UInt32, Int)? {
    guard i > start else { return nil }
    var s = i - 1
    while s > start && b[s] & 0xC0 == 0x80 { s -= 1 }
    guard let (v, len) = scalarAt(b, s, i) else { return nil }
    return (v, len)
}
