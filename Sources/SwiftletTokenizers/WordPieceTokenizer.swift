/// WordPiece (BERT, all-MiniLM-L6-v2): BERT normalization, words split at white space and
/// punctuation, then each word cut greedily into the longest vocabulary pieces (`##` marks a
/// piece inside a word). Results match Hugging Face `tokenizers`.
public final class WordPieceTokenizer: Tokenizer, @unchecked Sendable {
    /// Everything that defines the tokenizer, as read from `tokenizer.json`.
    public struct Configuration: Sendable {
        /// Vocabulary strings, indexed by id.
        public var tokens: [String]
        public var specials = SpecialTokens()
        public var normalizer: BertNormalizer? = BertNormalizer()
        public var unknownToken = "[UNK]"
        public var continuingSubwordPrefix = "##"
        /// Longer words become the unknown token whole.
        public var maxInputCharsPerWord = 100
        /// The decoder's clean-up of spaces before punctuation and contractions.
        public var cleanup = true

        public init(tokens: [String]) { self.tokens = tokens }
    }

    public let vocabularySize: Int
    public let bosTokenID: Int?
    public let eosTokenIDs: [Int]
    public let addsBOS: Bool
    let config: Configuration

    private let tokenStrings: [String]
    private let special: [Bool]
    /// Word-initial pieces, keyed by UTF-8 bytes (`String` equality is canonical equivalence,
    /// which would merge distinct tokens).
    private let vocab: ByteSliceMap
    /// Pieces inside a word, keyed without their `##`, so candidates are looked up in place.
    private let continuations: ByteSliceMap
    private let unknownID: Int?
    private let rawAdded: AddedTokenMatcher
    private let normalizedAdded: AddedTokenMatcher
    /// Decoded bytes per id, as the first token and after others.
    private let firstPieces: [[UInt8]]
    private let nextPieces: [[UInt8]]

    public init(_ c: Configuration) {
        config = c
        let strings = c.specials.strings(c.tokens)
        tokenStrings = strings
        vocabularySize = strings.count
        bosTokenID = c.specials.bosTokenID
        eosTokenIDs = c.specials.eosTokenIDs
        addsBOS = c.specials.addsBOS(anyPrefixCounts: true)
        var v = ByteSliceMap(capacity: c.tokens.count)
        var cont = ByteSliceMap(capacity: c.tokens.count)
        let prefix = Array(c.continuingSubwordPrefix.utf8)
        // Inserted backwards so a duplicated string keeps its last id, as HF's vocabulary map does.
        for (i, t) in c.tokens.enumerated().reversed() {
            let b = Array(t.utf8)
            v.insert(b, Int32(i))
            if !prefix.isEmpty && b.starts(with: prefix) { cont.insert(Array(b[prefix.count...]), Int32(i)) }
        }
        vocab = v
        continuations = cont
        unknownID = v.single(Array(c.unknownToken.utf8)).map(Int.init)
        special = c.specials.flags(count: strings.count)
        firstPieces = strings.map { WordPieceTokenizer.decodePiece($0, first: true, c) }
        nextPieces = strings.map { WordPieceTokenizer.decodePiece($0, first: false, c) }
        let normalizer = c.normalizer
        (rawAdded, normalizedAdded) = c.specials.matchers { t in
            guard let normalizer else { return Array(t.content.utf8) }
            return utf8Bytes(normalizer.normalize(t.content[...]))
        }
    }

    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < special.count && special[id] }

    public func tokenString(_ id: Int) -> String? { id >= 0 && id < tokenStrings.count ? tokenStrings[id] : nil }

    public func tokenID(_ string: String) -> Int? {
        if let id = vocab.single(Array(string.utf8)) { return Int(id) }
        return config.specials.added.first { $0.content.utf8.elementsEqual(string.utf8) }?.id
    }

    /// A piece inside a word loses its `##`; any other token is preceded by a space unless first.
    public func tokenBytes(_ id: Int, isFirst: Bool) -> [UInt8] {
        guard id >= 0 && id < firstPieces.count else { return [] }
        return isFirst ? firstPieces[id] : nextPieces[id]
    }

    /// Byte-exact, as the Rust decoder: `String`'s own prefix and replace compare grapheme
    /// clusters, and `##` followed by a combining vowel sign is not a cluster prefix of itself.
    private static func decodePiece(_ token: String, first: Bool, _ config: Configuration) -> [UInt8] {
        var t = Array(token.utf8)
        if !first {
            let prefix = Array(config.continuingSubwordPrefix.utf8)
            if t.starts(with: prefix) {
                t.removeFirst(prefix.count)
            } else {
                t.insert(0x20, at: 0)
            }
        }
        if config.cleanup { t = WordPieceTokenizer.cleanup(t) }
        return t
    }

    private static let cleanupRules: [([UInt8], [UInt8])] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    static func cleanup(_ s: [UInt8]) -> [UInt8] {
        guard s.contains(0x20) else { return s }
        var s = s
        for (from, to) in cleanupRules { s = replaceBytes(s, from, to) }
        return s
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var out: [UInt8] = []
        var first = true
        for id in ids where id >= 0 && id < firstPieces.count {
            if skipSpecialTokens && special[id] { continue }
            out.append(contentsOf: first ? firstPieces[id] : nextPieces[id])
            first = false
        }
        return String(decoding: out, as: UTF8.self)
    }

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var out: [Int] = []
        if addSpecialTokens { out.append(contentsOf: config.specials.prefixIDs) }
        var text = text
        var segments: [TextSegment] = []
        text.withUTF8 { bytes in
            rawAdded.split(bytes, 0, bytes.count, parseSpecial: parseSpecial, into: &segments)
        }
        let utf8 = Array(text.utf8)
        for seg in segments {
            if !seg.isText { out.append(Int(seg.id)); continue }
            let raw = String(decoding: utf8[seg.start..<seg.end], as: UTF8.self)
            let normalized = config.normalizer?.normalize(raw[...]) ?? raw.unicodeScalars.map(\.value)
            if normalizedAdded.isEmpty {
                encodeNormalized(normalized, &out)
            } else {
                let n = utf8Bytes(normalized)
                n.withUnsafeBufferPointer { b in
                    var parts: [TextSegment] = []
                    normalizedAdded.split(b, 0, b.count, parseSpecial: parseSpecial, into: &parts)
                    for p in parts {
                        if !p.isText { out.append(Int(p.id)); continue }
                        encodeNormalized(String(decoding: b[p.start..<p.end], as: UTF8.self).unicodeScalars.map(\.value), &out)
                    }
                }
            }
        }
        if addSpecialTokens { out.append(contentsOf: config.specials.suffixIDs) }
        return out
    }

    func encodeWord(_ word: ArraySlice<UInt32>, _ out: inout [Int]) {
        if word.count > config.maxInputCharsPerWord {
            if let unknownID { out.append(unknownID) }
            return
        }
        // Candidates are slices of the word's UTF-8, cut at scalar boundaries.
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        bytes.reserveCapacity(word.count * 2)
        offsets.reserveCapacity(word.count + 1)
        for v in word {
            offsets.append(bytes.count)
            if v < 0x80 { bytes.append(UInt8(v)) } else { bytes.append(contentsOf: UTF8.encode(Unicode.Scalar(v) ?? "\u{FFFD}")!) }
        }
        offsets.append(bytes.count)
        let n = word.count
        let firstPiece = out.count
        let complete: Bool = bytes.withUnsafeBufferPointer { b in
            let base = b.baseAddress!
            var start = 0
            while start < n {
                var end = n
                var found: Int32?
                let map = start == 0 || config.continuingSubwordPrefix.isEmpty ? vocab : continuations
                while start < end {
                    if let id = map.single(base + offsets[start], offsets[end] - offsets[start]) {
                        found = id
                        break
                    }
                    end -= 1
                }
                guard let id = found else { return false }
                out.append(Int(id))
                start = end
            }
            return true
        }
        if !complete {
            // A word with any piece missing is one unknown token, as in HF.
            out.removeLast(out.count - firstPiece)
            if let unknownID { out.append(unknownID) }
        }
    }
}
