import Foundation

/// BERT's normalizer (`BertNormalizer` in Hugging Face `tokenizers`).
///
/// The character classes follow `tokenizers`, whose tables for "other" (Cc/Cf/Co), punctuation and
/// non-spacing marks are Unicode 8.0's: a character assigned later is none of them there, so it is
/// neither removed, nor split off, nor stripped as an accent. `age` reproduces that.
public struct BertNormalizer: Sendable, Equatable {
    /// Remove control characters and U+FFFD; map white space to a plain space.
    public var cleanText = true
    /// Put spaces around CJK ideographs, so each becomes its own word.
    public var handleChineseChars = true
    /// Remove non-spacing marks after canonical decomposition; nil follows `lowercase`.
    public var stripAccents: Bool? = nil
    public var lowercase = true

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    static func assignedByUnicode8(_ s: Unicode.Scalar) -> Bool {
        guard let age = s.properties.age else { return false }
        return age.major < 8 || (age.major == 8 && age.minor == 0)
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control: return true
        case .format, .privateUse: return assignedByUnicode8(s)
        default: return false
        }
    }

    static func isChinese(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
                || (0x7B...0x7E).contains(v)
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return assignedByUnicode8(s)
        default:
            return false
        }
    }

    // Per-scalar flags, tabled for the Basic Multilingual Plane.
    static let control: UInt8 = 1
    static let whitespace: UInt8 = 2
    static let chinese: UInt8 = 4
    static let punctuation: UInt8 = 8
    static let accent: UInt8 = 16
    /// Lowercase mapping is not a single scalar (or differs from the table's single value).
    static let multiLower: UInt8 = 32
    static let mayDecompose: UInt8 = 64

    static func computeFlags(_ s: Unicode.Scalar) -> UInt8 {
        var f: UInt8 = 0
        if s.value == 0 || s.value == 0xFFFD || isControl(s) { f |= control }
        if s.properties.isWhitespace || s == "\t" || s == "\n" || s == "\r" { f |= whitespace }
        if isChinese(s.value) { f |= chinese }
        if isPunctuation(s) { f |= punctuation }
        if s.properties.generalCategory == .nonspacingMark && assignedByUnicode8(s) { f |= accent }
        if s.properties.lowercaseMapping.unicodeScalars.count != 1 { f |= multiLower }
        if changesUnderNFD(s) { f |= mayDecompose }
        return f
    }

    /// Whether NFD may rewrite or reorder `s`: it has a canonical decomposition, or is a combining mark.
    static func changesUnderNFD(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0xC0 { return false }
        if s.properties.canonicalCombiningClass.rawValue != 0 { return true }
        if (0xAC00...0xD7A3).contains(v) { return true }  // Hangul syllables decompose to jamo
        // Large blocks with no decompositions, skipped to keep the one-time table build short.
        if (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xD800...0xF8FF).contains(v)
            || (0xA000...0xABFF).contains(v) {
            return false
        }
        let nfd = String(Character(s)).decomposedStringWithCanonicalMapping.unicodeScalars
        return nfd.count != 1 || nfd.first != s
    }

    /// (flags, single-scalar lowercase) for every BMP scalar.
    static let table: (flags: [UInt8], lower: [UInt32]) = {
        var flags = [UInt8](repeating: 0, count: 0x10000)
        var lower = [UInt32](repeating: 0, count: 0x10000)
        for v in 0..<0x10000 {
            guard let s = Unicode.Scalar(UInt32(v)) else { continue }
            flags[v] = computeFlags(s)
            let l = s.properties.lowercaseMapping.unicodeScalars
            lower[v] = l.count == 1 ? l.first!.value : UInt32(v)
        }
        return (flags, lower)
    }()

    @inline(__always) static func flags(_ v: UInt32) -> UInt8 {
        if v < 0x10000 { return table.flags[Int(v)] }
        return astralFlags.flags(v)
    }

    /// Flags of scalars past the BMP (emoji, rare ideographs), computed once each: computing them
    /// takes a canonical decomposition, far too slow to repeat per occurrence.
    final class AstralFlags: @unchecked Sendable {
        private let lock = NSLock()
        private var known: [UInt32: UInt8] = [:]

        func flags(_ v: UInt32) -> UInt8 {
            lock.lock()
            let cached = known[v]
            lock.unlock()
            if let cached { return cached }
            let f = Unicode.Scalar(v).map(BertNormalizer.computeFlags) ?? 0
            lock.lock()
            known[v] = f
            lock.unlock()
            return f
        }
    }

    static let astralFlags = AstralFlags()

    /// Normalizes `text` into scalar values.
    public func normalize(_ text: Substring) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(text.utf8.count)
        var nonASCII = false
        let (flagTable, lowerTable) = BertNormalizer.table
        for s in text.unicodeScalars {
            let v = s.value
            if v < 0x80 {
                if cleanText {
                    if v == 0 || (v < 0x20 && v != 9 && v != 10 && v != 13) || v == 0x7F { continue }
                    if v == 9 || v == 10 || v == 13 || v == 0x20 { out.append(0x20); continue }
                }
                out.append(v)
                continue
            }
            nonASCII = true
            let f = v < 0x10000 ? flagTable[Int(v)] : BertNormalizer.flags(v)
            if cleanText {
                if f & BertNormalizer.control != 0 { continue }
                if f & BertNormalizer.whitespace != 0 { out.append(0x20); continue }
            }
            if handleChineseChars && f & BertNormalizer.chinese != 0 {
                out.append(0x20)
                out.append(v)
                out.append(0x20)
                continue
            }
            out.append(v)
        }
        if nonASCII && (stripAccents ?? lowercase) {
            out = BertNormalizer.stripAccents(out)
        }
        if lowercase {
            var i = 0
            var lowered: [UInt32]? = nil
            while i < out.count {
                let v = out[i]
                if v < 0x80 {
                    if v >= 0x41 && v <= 0x5A { out[i] = v + 32 }
                } else if v < 0x10000 && flagTable[Int(v)] & BertNormalizer.multiLower == 0 {
                    out[i] = lowerTable[Int(v)]
                } else {
                    lowered = []
                    break
                }
                i += 1
            }
            if lowered != nil {
                // Rare (e.g. U+0130, astral letters): finish with the general mapping.
                var rest: [UInt32] = Array(out[..<i])
                for v in out[i...] {
                    if v < 0x80 {
                        rest.append(v >= 0x41 && v <= 0x5A ? v + 32 : v)
                    } else if let s = Unicode.Scalar(v) {
                        rest.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars.map(\.value))
                    }
                }
                out = rest
            }
        }
        return out
    }

    /// NFD, then non-spacing marks removed. Runs of scalars that cannot change under NFD are kept as they
    /// are; the rest goes through Foundation's decomposition.
    static func stripAccents(_ text: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(text.count)
        var i = 0
        let flagTable = table.flags
        while i < text.count {
            let v = text[i]
            let f = v < 0x80 ? 0 : (v < 0x10000 ? flagTable[Int(v)] : flags(v))
            if f & (mayDecompose | accent) == 0 {
                out.append(v)
                i += 1
                continue
            }
            // Decompose the run up to the next ASCII scalar, so combining sequences stay together.
            var j = i + 1
            while j < text.count && text[j] >= 0x80 { j += 1 }
            var view = String.UnicodeScalarView()
            for w in text[i..<j] { view.append(Unicode.Scalar(w) ?? "\u{FFFD}") }
            for s in String(view).decomposedStringWithCanonicalMapping.unicodeScalars {
                let g = s.value < 0x10000 ? flagTable[Int(s.value)] : flags(s.value)
                if g & accent == 0 { out.append(s.value) }
            }
            i = j
        }
        return out
    }
}

/// WordPiece (BERT, all-MiniLM-L6-v2): BERT normalization, words split at white space and
/// punctuation, then each word cut greedily into the longest vocabulary pieces (`##` marks a
/// piece inside a word). Results match Hugging Face `tokenizers`.
public final class WordPieceTokenizer: Tokenizer, @unchecked Sendable {
    /// Everything that defines the tokenizer, as read from `tokenizer.json`.
    public struct Configuration: Sendable {
        /// Vocabulary strings, indexed by id.
        public var tokens: [String]
        public var addedTokens: [AddedToken] = []
        public var normalizer: BertNormalizer? = BertNormalizer()
        public var unknownToken = "[UNK]"
        public var continuingSubwordPrefix = "##"
        /// Longer words become the unknown token whole.
        public var maxInputCharsPerWord = 100
        /// The decoder's clean-up of spaces before punctuation and contractions.
        public var cleanup = true
        public var bosTokenID: Int? = nil
        public var eosTokenIDs: [Int] = []
        /// Ids around the encoded text when special tokens are added (`[CLS]` … `[SEP]`).
        public var prefixIDs: [Int] = []
        public var suffixIDs: [Int] = []

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
        var strings = c.tokens
        for t in c.addedTokens {
            while strings.count <= t.id { strings.append("") }
            if strings[t.id].isEmpty { strings[t.id] = t.content }
        }
        tokenStrings = strings
        vocabularySize = strings.count
        bosTokenID = c.bosTokenID
        eosTokenIDs = c.eosTokenIDs
        addsBOS = c.bosTokenID.map { c.prefixIDs.contains($0) } ?? !c.prefixIDs.isEmpty
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
        var sp = [Bool](repeating: false, count: strings.count)
        for t in c.addedTokens where t.special { sp[t.id] = true }
        special = sp
        rawAdded = AddedTokenMatcher(c.addedTokens.filter { !$0.normalized })
        firstPieces = strings.map { WordPieceTokenizer.decodePiece($0, first: true, c) }
        nextPieces = strings.map { WordPieceTokenizer.decodePiece($0, first: false, c) }
        let normalizer = c.normalizer
        normalizedAdded = AddedTokenMatcher(c.addedTokens.filter { $0.normalized }) { t in
            guard let normalizer else { return Array(t.content.utf8) }
            return utf8Bytes(normalizer.normalize(t.content[...]))
        }
    }

    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < special.count && special[id] }

    public func tokenString(_ id: Int) -> String? { id >= 0 && id < tokenStrings.count ? tokenStrings[id] : nil }

    public func tokenID(_ string: String) -> Int? {
        if let id = vocab.single(Array(string.utf8)) { return Int(id) }
        return config.addedTokens.first { $0.content.utf8.elementsEqual(string.utf8) }?.id
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
        if addSpecialTokens { out.append(contentsOf: config.prefixIDs) }
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
        if addSpecialTokens { out.append(contentsOf: config.suffixIDs) }
        return out
    }

    /// `BertPreTokenizer`: split at white space (dropped) and around each punctuation character.
    private func encodeNormalized(_ scalars: [UInt32], _ out: inout [Int]) {
        var start = 0
        var i = 0
        let flagTable = BertNormalizer.table.flags
        while i < scalars.count {
            let v = scalars[i]
            let f: UInt8
            if v < 0x80 {
                f = v == 0x20 || (v >= 9 && v <= 13) ? BertNormalizer.whitespace
                    : ((0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
                        || (0x7B...0x7E).contains(v)) ? BertNormalizer.punctuation : 0
            } else {
                f = v < 0x10000 ? flagTable[Int(v)] : BertNormalizer.flags(v)
            }
            if f & BertNormalizer.whitespace != 0 {
                if start < i { encodeWord(scalars[start..<i], &out) }
                start = i + 1
            } else if f & BertNormalizer.punctuation != 0 {
                if start < i { encodeWord(scalars[start..<i], &out) }
                encodeWord(scalars[i..<(i + 1)], &out)
                start = i + 1
            }
            i += 1
        }
        if start < scalars.count { encodeWord(scalars[start..<scalars.count], &out) }
    }

    private func encodeWord(_ word: ArraySlice<UInt32>, _ out: inout [Int]) {
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

/// Replaces every non-overlapping occurrence of `from`, left to right (Rust's `str::replace`).
func replaceBytes(_ s: [UInt8], _ from: [UInt8], _ to: [UInt8]) -> [UInt8] {
    guard !from.isEmpty, s.count >= from.count else { return s }
    var out: [UInt8] = []
    out.reserveCapacity(s.count)
    var i = 0
    let last = s.count - from.count
    while i < s.count {
        if i <= last && s[i] == from[0] && s[i..<(i + from.count)].elementsEqual(from) {
            out.append(contentsOf: to)
            i += from.count
        } else {
            out.append(s[i])
            i += 1
        }
    }
    return out
}

/// UTF-8 of a list of scalar values.
func utf8Bytes(_ scalars: [UInt32]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(scalars.count)
    for v in scalars { out.append(contentsOf: UTF8.encode(Unicode.Scalar(v) ?? "\u{FFFD}")!) }
    return out
}
