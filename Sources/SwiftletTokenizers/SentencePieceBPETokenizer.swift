import Foundation

/// SentencePiece-style BPE (Llama 2, Mistral, stories260K): spaces become `▁`, text is merged per
/// Unicode character, and characters outside the vocabulary fall back to `<0xXX>` byte tokens.
/// Results match Hugging Face `tokenizers` (its `BPE` model with `byte_fallback`).
public final class SentencePieceBPETokenizer: Tokenizer, @unchecked Sendable {
    /// When a `▁` is put in front of a text segment.
    public enum SpacePrefix: Sendable {
        /// Never.
        case never
        /// `Metaspace(prepend_scheme: always)`: each segment not already starting with `▁`.
        case always
        /// `Metaspace(prepend_scheme: first)`: only the segment at the very start of the text.
        case first
        /// A `Prepend("▁")` normalizer: every non-empty segment, even one starting with `▁`.
        case unconditional
    }

    /// Everything that defines the tokenizer, as read from `tokenizer.json` or GGUF metadata.
    public struct Configuration: Sendable {
        /// Vocabulary strings, indexed by id (`▁` for space, `<0x0A>` for byte tokens).
        public var tokens: [String]
        /// Merge rules in rank order.
        public var merges: [(String, String)]
        public var specials = SpecialTokens()
        public var spacePrefix: SpacePrefix = .first
        /// `Metaspace(split: true)`: merges stay within `▁`-started words.
        public var splitOnSpace = false
        public var byteFallback = true
        /// Id for characters with neither a token nor byte tokens; nil drops them, as HF does.
        public var unknownTokenID: Int? = nil
        /// The decoder drops one leading space of the decoded text.
        public var stripLeadingSpace = true

        public init(tokens: [String], merges: [(String, String)]) {
            self.tokens = tokens
            self.merges = merges
        }
    }

    public let vocabularySize: Int
    public let bosTokenID: Int?
    public let eosTokenIDs: [Int]
    public let addsBOS: Bool
    let config: Configuration

    private let tokenStrings: [String]
    private let special: [Bool]
    /// For ids that are `<0xXX>` tokens: the byte, else -1.
    private let byteValue: [Int16]
    private let byteIDs: [Int32]
    /// Single-character tokens of the Basic Multilingual Plane by scalar value (-1: none).
    private let charIDs: [Int32]
    private let astralCharIDs: [UInt32: Int32]
    private let merges: BPEMerges
    private let rawAdded: AddedTokenMatcher
    private let normalizedAdded: AddedTokenMatcher
    /// Keyed by UTF-8 bytes: `String` equality is canonical equivalence, which would merge distinct tokens.
    private let stringToID: [[UInt8]: Int]
    /// Raw decoded bytes per id (space for `▁`, the byte for `<0xXX>`).
    private let pieceBytes: [[UInt8]]

    private static let meta: UInt32 = 0x2581

    public init(_ c: Configuration) {
        config = c
        let strings = c.specials.strings(c.tokens)
        tokenStrings = strings
        vocabularySize = strings.count
        bosTokenID = c.specials.bosTokenID
        eosTokenIDs = c.specials.eosTokenIDs
        addsBOS = c.specials.addsBOS(anyPrefixCounts: false)

        var vocab: [[UInt8]: Int32] = [:]
        vocab.reserveCapacity(c.tokens.count)
        // Later duplicates win, as in the Python dict transformers builds the vocabulary with.
        for (i, t) in c.tokens.enumerated() { vocab[Array(t.utf8)] = Int32(i) }
        special = c.specials.flags(count: strings.count)

        var bv = [Int16](repeating: -1, count: strings.count)
        for (i, t) in strings.enumerated() { if let b = SentencePieceBPETokenizer.byteToken(t) { bv[i] = Int16(b) } }
        byteValue = bv
        var bids = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { bids[b] = vocab[Array(String(format: "<0x%02X>", b).utf8)] ?? -1 }
        byteIDs = bids

        var chars = [Int32](repeating: -1, count: 0x10000)
        var astral: [UInt32: Int32] = [:]
        for (i, t) in c.tokens.enumerated() {
            let us = t.unicodeScalars
            guard us.count == 1, let s = us.first, vocab[Array(t.utf8)] == Int32(i) else { continue }
            if s.value < 0x10000 { chars[Int(s.value)] = Int32(i) } else { astral[s.value] = Int32(i) }
        }
        charIDs = chars
        astralCharIDs = astral

        var pairs: [(Int32, Int32, Int32)] = []
        pairs.reserveCapacity(c.merges.count)
        for (l, r) in c.merges {
            let lb = Array(l.utf8), rb = Array(r.utf8)
            guard let a = vocab[lb], let b = vocab[rb], let m = vocab[lb + rb] else { continue }
            pairs.append((a, b, m))
        }
        merges = BPEMerges(pairs: pairs)
        (rawAdded, normalizedAdded) = c.specials.matchers { replaceBytes(Array($0.content.utf8), [0x20], Array("\u{2581}".utf8)) }
        var stringToID: [[UInt8]: Int] = [:]
        for (i, t) in strings.enumerated() where stringToID[Array(t.utf8)] == nil { stringToID[Array(t.utf8)] = i }
        self.stringToID = stringToID
        pieceBytes = strings.enumerated().map { i, t in
            if bv[i] >= 0 { return [UInt8(bv[i])] }
            return replaceBytes(Array(t.utf8), Array("\u{2581}".utf8), [0x20])
        }
    }

    /// The byte of a `<0xXX>` token, as the `ByteFallback` decoder reads it.
    static func byteToken(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < special.count && special[id] }

    public func tokenString(_ id: Int) -> String? { id >= 0 && id < tokenStrings.count ? tokenStrings[id] : nil }

    public func tokenID(_ string: String) -> Int? { stringToID[Array(string.utf8)] }

    public func tokenBytes(_ id: Int, isFirst: Bool) -> [UInt8] {
        guard id >= 0 && id < pieceBytes.count else { return [] }
        let b = pieceBytes[id]
        if isFirst && config.stripLeadingSpace && byteValue[id] < 0 && b.first == 0x20 { return Array(b.dropFirst()) }
        return b
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        // Replace(▁ → space), ByteFallback, Fuse, Strip(1 leading space): a run of byte tokens
        // that is not valid UTF-8 becomes one U+FFFD per byte, not per bad sequence.
        var out: [UInt8] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if isValidUTF8(pending) {
                out.append(contentsOf: pending)
            } else {
                for _ in pending { out.append(contentsOf: [0xEF, 0xBF, 0xBD]) }
            }
            pending.removeAll()
        }
        for id in ids where id >= 0 && id < tokenStrings.count {
            if skipSpecialTokens && special[id] { continue }
            if byteValue[id] >= 0 {
                pending.append(UInt8(byteValue[id]))
            } else {
                flush()
                out.append(contentsOf: pieceBytes[id])
            }
        }
        flush()
        if config.stripLeadingSpace && out.first == 0x20 { out.removeFirst() }
        return String(decoding: out, as: UTF8.self)
    }

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        if addSpecialTokens { out.append(contentsOf: config.specials.prefixIDs) }
        var text = text
        text.withUTF8 { bytes in
            var segments: [TextSegment] = []
            rawAdded.split(bytes, 0, bytes.count, parseSpecial: parseSpecial, into: &segments)
            var state = EncodeState()
            var normalized: [UInt32] = []
            for seg in segments {
                if !seg.isText { out.append(Int(seg.id)); continue }
                normalize(bytes, seg, into: &normalized)
                if normalizedAdded.isEmpty {
                    encodeNormalized(normalized[...], &state, &out)
                } else {
                    encodeWithNormalizedAdded(normalized, parseSpecial, &state, &out)
                }
            }
        }
        if addSpecialTokens { out.append(contentsOf: config.specials.suffixIDs) }
        return out
    }

    /// Spaces to `▁` and the prefix `▁`, as scalars.
    private func normalize(_ bytes: UnsafeBufferPointer<UInt8>, _ seg: TextSegment, into n: inout [UInt32]) {
        n.removeAll(keepingCapacity: true)
        var i = seg.start
        while let (v, len) = scalarAt(bytes, i, seg.end) {
            n.append(v == 0x20 ? SentencePieceBPETokenizer.meta : v)
            i += len
        }
        let prefix: Bool
        switch config.spacePrefix {
        case .never: prefix = false
        case .always: prefix = n.first != SentencePieceBPETokenizer.meta
        case .first: prefix = seg.start == 0 && n.first != SentencePieceBPETokenizer.meta
        case .unconditional: prefix = !n.isEmpty
        }
        if prefix { n.insert(SentencePieceBPETokenizer.meta, at: 0) }
    }

    private func encodeWithNormalizedAdded(_ n: [UInt32], _ parseSpecial: Bool, _ state: inout EncodeState,
                                           _ out: inout [Int]) {
        var s = String.UnicodeScalarView()
        for v in n { s.append(Unicode.Scalar(v) ?? "\u{FFFD}") }
        var utf8 = Array(String(s).utf8)
        utf8.withUnsafeMutableBufferPointer { b in
            let bytes = UnsafeBufferPointer(b)
            var parts: [TextSegment] = []
            normalizedAdded.split(bytes, 0, bytes.count, parseSpecial: parseSpecial, into: &parts)
            var scalars: [UInt32] = []
            for p in parts {
                if !p.isText { out.append(Int(p.id)); continue }
                scalars.removeAll(keepingCapacity: true)
                var i = p.start
                while let (v, len) = scalarAt(bytes, i, p.end) { scalars.append(v); i += len }
                encodeNormalized(scalars[...], &state, &out)
            }
        }
    }

    private func encodeNormalized(_ n: ArraySlice<UInt32>, _ state: inout EncodeState, _ out: inout [Int]) {
        guard config.splitOnSpace else { return encodeWord(n, &state, &out) }
        // `MergedWithNext`: every `▁` starts a new word.
        var start = n.startIndex
        var i = n.startIndex
        while i < n.endIndex {
            if n[i] == SentencePieceBPETokenizer.meta && i > start {
                encodeWord(n[start..<i], &state, &out)
                start = i
            }
            i += 1
        }
        if start < n.endIndex { encodeWord(n[start..<n.endIndex], &state, &out) }
    }

    private func encodeWord(_ word: ArraySlice<UInt32>, _ state: inout EncodeState, _ out: inout [Int]) {
        var sym = state.symbols
        state.symbols = []
        sym.removeAll(keepingCapacity: true)
        let unk = Int32(config.unknownTokenID ?? -1)
        charIDs.withUnsafeBufferPointer { chars in
            for v in word {
                let id = v < 0x10000 ? chars[Int(v)] : (astralCharIDs[v] ?? -1)
                if id >= 0 { sym.append(id); continue }
                if config.byteFallback, let bytes = byteFallback(v) {
                    sym.append(contentsOf: bytes)
                    continue
                }
                if unk >= 0 && sym.last != unk { sym.append(unk) }
            }
        }
        merges.apply(&sym, scratch: &state.scratch)
        for id in sym { out.append(Int(id)) }
        state.symbols = sym
    }

    /// The `<0xXX>` ids of a scalar's UTF-8, or nil if any is missing (then it counts as unknown).
    private func byteFallback(_ v: UInt32) -> [Int32]? {
        guard let s = Unicode.Scalar(v) else { return nil }
        var ids: [Int32] = []
        for b in String(Character(s)).utf8 {
            let id = byteIDs[Int(b)]
            if id < 0 { return nil }
            ids.append(id)
        }
        return ids
    }
}

/// Strict UTF-8 check (no overlongs, surrogates or values past U+10FFFF), as Rust's `String::from_utf8`.
func isValidUTF8(_ b: [UInt8]) -> Bool {
    var i = 0
    let n = b.count
    while i < n {
        let c = b[i]
        if c < 0x80 { i += 1; continue }
        var need: Int
        var v: UInt32
        var minimum: UInt32
        if c & 0xE0 == 0xC0 {
            need = 1; v = UInt32(c & 0x1F); minimum = 0x80
        } else if c & 0xF0 == 0xE0 {
            need = 2; v = UInt32(c & 0x0F); minimum = 0x800
        } else if c & 0xF8 == 0xF0 {
            need = 3; v = UInt32(c & 0x07); minimum = 0x10000
        } else {
            return false
        }
        for k in 1...need {
            guard i + k < n, b[i + k] & 0xC0 == 0x80 else { return false }
            v = v << 6 | UInt32(b[i + k] & 0x3F)
        }
        if v < minimum || v > 0x10FFFF || (0xD800...0xDFFF).contains(v) { return false }
        i += need + 1
    }
    return true
}
