import Foundation

/// GPT-2's byte ↔ printable-character table: byte-level vocabularies spell every byte as one
/// visible character (space is `Ġ`, newline `Ċ`), so tokens are plain strings.
enum ByteLevel {
    /// Character for each byte.
    static let byteToScalar: [UInt32] = {
        var bs: [Int] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [UInt32](repeating: 0, count: 256)
        for (b, c) in zip(bs, cs) { table[b] = UInt32(c) }
        return table
    }()

    /// Byte for each character of the table, indexed by scalar value (-1: not a table character).
    /// The table's characters all lie below U+0144.
    static let scalarToByte: [Int16] = {
        var m = [Int16](repeating: -1, count: 0x144)
        for (b, c) in byteToScalar.enumerated() { m[Int(c)] = Int16(b) }
        return m
    }()

    @inline(__always) static func byte(for scalar: UInt32) -> Int16 {
        scalar < 0x144 ? scalarToByte[Int(scalar)] : -1
    }

    /// The bytes a token string stands for, as the `ByteLevel` decoder reads it: a token made only of
    /// table characters maps back byte by byte; any other token is taken as its own UTF-8.
    static func bytes(of token: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            let b = byte(for: s.value)
            guard b >= 0 else { return Array(token.utf8) }
            out.append(UInt8(b))
        }
        return out
    }

    /// A token string in the table's spelling.
    static func spell(_ bytes: [UInt8]) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(s)
    }

    /// Whether every character of `token` is a table character.
    static func isSpelled(_ token: String) -> Bool {
        token.unicodeScalars.allSatisfy { byte(for: $0.value) >= 0 }
    }
}

/// Byte-level BPE (GPT-2, SmolLM2, Llama 3, Qwen2): text is cut into words by the model's split rule,
/// each word's UTF-8 bytes are merged by rank. Results match Hugging Face `tokenizers`.
public final class BPETokenizer: Tokenizer, @unchecked Sendable {
    /// Everything that defines the tokenizer, as read from `tokenizer.json` or GGUF metadata.
    public struct Configuration: Sendable {
        /// Vocabulary strings in byte-level spelling, indexed by id.
        public var tokens: [String]
        /// Merge rules in rank order, each side in byte-level spelling.
        public var merges: [(String, String)]
        public var specials = SpecialTokens()
        /// nil: no split (`ByteLevel(use_regex: false)` alone).
        public var splitRule: SplitRule? = .gpt2
        /// `Digits(individual_digits: true)` before the split rule.
        public var isolateDigits = false
        /// `ByteLevel(add_prefix_space: true)`: a segment not starting with a space gets one.
        public var addPrefixSpace = false
        /// NFC normalizer (Qwen2's `tokenizer.json`).
        public var nfc = false
        /// `ignore_merges`: a word that is itself a token is not merged (Llama 3).
        public var ignoreMerges = false
        public var unknownTokenID: Int? = nil

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
    /// Decoded bytes of every id, in one arena.
    private let byteArena: [UInt8]
    private let byteStarts: [Int32]
    private let special: [Bool]
    private let vocab: ByteSliceMap
    private let byteIDs: [Int32]
    private let merges: BPEMerges
    private let rawAdded: AddedTokenMatcher
    private let normalizedAdded: AddedTokenMatcher
    private let splitter: Splitter?
    private let cache = WordCache()
    /// Keyed by UTF-8 bytes: `String` equality is canonical equivalence, which would merge distinct tokens.
    private let stringToID: ByteSliceMap

    public init(_ c: Configuration) {
        config = c
        let strings = c.specials.strings(c.tokens)
        tokenStrings = strings
        vocabularySize = strings.count
        bosTokenID = c.specials.bosTokenID
        eosTokenIDs = c.specials.eosTokenIDs
        addsBOS = c.specials.addsBOS(anyPrefixCounts: false)

        var vocab = ByteSliceMap(capacity: c.tokens.count)
        var arena: [UInt8] = []
        var starts: [Int32] = [0]
        for t in strings {
            arena.append(contentsOf: ByteLevel.bytes(of: t))
            starts.append(Int32(arena.count))
        }
        // Inserted backwards so a duplicated string keeps its last id, as the Python dict transformers
        // builds the vocabulary with does.
        for (id, t) in c.tokens.enumerated().reversed() { vocab.insert(ByteLevel.bytes(of: t), Int32(id)) }
        byteArena = arena
        byteStarts = starts
        self.vocab = vocab
        special = c.specials.flags(count: strings.count)
        var stringToID = ByteSliceMap(capacity: strings.count)
        for (i, t) in strings.enumerated() { stringToID.insert(Array(t.utf8), Int32(i)) }
        self.stringToID = stringToID

        var bytes = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { bytes[b] = vocab.single([UInt8(b)]) ?? -1 }
        byteIDs = bytes

        // Merges name tokens by their text; later duplicates win, as in the vocabulary.
        var textToken = ByteSliceMap(capacity: c.tokens.count)
        for (i, t) in c.tokens.enumerated().reversed() { textToken.insert(Array(t.utf8), Int32(i)) }
        var pairs: [(Int32, Int32, Int32)] = []
        pairs.reserveCapacity(c.merges.count)
        var joined: [UInt8] = []
        for (l, r) in c.merges {
            joined.removeAll(keepingCapacity: true)
            joined.append(contentsOf: l.utf8)
            let split = joined.count
            joined.append(contentsOf: r.utf8)
            let ids: (Int32?, Int32?, Int32?) = joined.withUnsafeBufferPointer { j in
                guard let base = j.baseAddress else { return (nil, nil, nil) }
                return (textToken.single(base, split), textToken.single(base + split, j.count - split),
                        textToken.single(base, j.count))
            }
            guard let a = ids.0, let b = ids.1, let m = ids.2 else { continue }
            pairs.append((a, b, m))
        }
        merges = BPEMerges(pairs: pairs)
        (rawAdded, normalizedAdded) = c.specials.matchers()
        splitter = c.splitRule.map { Splitter(rule: $0, isolateDigits: c.isolateDigits) }
    }

    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < special.count && special[id] }

    public func tokenString(_ id: Int) -> String? { id >= 0 && id < tokenStrings.count ? tokenStrings[id] : nil }

    public func tokenID(_ string: String) -> Int? { stringToID.single(Array(string.utf8)).map(Int.init) }

    public func tokenBytes(_ id: Int, isFirst: Bool) -> [UInt8] {
        guard id >= 0 && id < tokenStrings.count else { return [] }
        return Array(byteArena[Int(byteStarts[id])..<Int(byteStarts[id + 1])])
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var out: [UInt8] = []
        for id in ids where id >= 0 && id < tokenStrings.count {
            if skipSpecialTokens && special[id] { continue }
            out.append(contentsOf: byteArena[Int(byteStarts[id])..<Int(byteStarts[id + 1])])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        if addSpecialTokens { out.append(contentsOf: config.specials.prefixIDs) }
        var text = text
        text.withUTF8 { bytes in
            cache.with { map in
                var state = EncodeState()
                var segments: [TextSegment] = []
                rawAdded.split(bytes, 0, bytes.count, parseSpecial: parseSpecial, into: &segments)
                for seg in segments {
                    if !seg.isText { out.append(Int(seg.id)); continue }
                    if config.nfc || config.addPrefixSpace || !normalizedAdded.isEmpty {
                        encodeNormalized(bytes, seg, parseSpecial, &state, &map, &out)
                    } else {
                        encodeText(UnsafeBufferPointer(rebasing: bytes[seg.start..<seg.end]), &state, &map, &out)
                    }
                }
            }
        }
        if addSpecialTokens { out.append(contentsOf: config.specials.suffixIDs) }
        return out
    }

    /// The slower path for segments that need rewriting before the split: NFC, a prefix space,
    /// or added tokens that match normalized text.
    private func encodeNormalized(_ bytes: UnsafeBufferPointer<UInt8>, _ seg: TextSegment, _ parseSpecial: Bool,
                                  _ state: inout EncodeState, _ map: inout ByteSliceMap, _ out: inout [Int]) {
        var text = [UInt8](UnsafeBufferPointer(rebasing: bytes[seg.start..<seg.end]))
        if config.nfc && text.contains(where: { $0 >= 0x80 }) {
            text = Array(String(decoding: text, as: UTF8.self).precomposedStringWithCanonicalMapping.utf8)
        }
        text.withUnsafeBufferPointer { t in
            var parts: [TextSegment] = []
            normalizedAdded.split(t, 0, t.count, parseSpecial: parseSpecial, into: &parts)
            for p in parts {
                if !p.isText { out.append(Int(p.id)); continue }
                if config.addPrefixSpace && t[p.start] != 0x20 {
                    let spaced = [0x20] + Array(t[p.start..<p.end])
                    spaced.withUnsafeBufferPointer { encodeText($0, &state, &map, &out) }
                } else {
                    encodeText(UnsafeBufferPointer(rebasing: t[p.start..<p.end]), &state, &map, &out)
                }
            }
        }
    }

    private func encodeText(_ text: UnsafeBufferPointer<UInt8>, _ state: inout EncodeState, _ map: inout ByteSliceMap,
                            _ out: inout [Int]) {
        guard let splitter else {
            encodeWord(text, &state, &map, &out)
            return
        }
        state.run.load(text)
        state.pieces.removeAll(keepingCapacity: true)
        splitter.split(state.run, into: &state.pieces)
        state.run.offsets.withUnsafeBufferPointer { offsets in
            for (s, e) in state.pieces {
                let a = Int(offsets[Int(s)])
                let b = Int(offsets[Int(e)])
                encodeWord(UnsafeBufferPointer(rebasing: text[a..<b]), &state, &map, &out)
            }
        }
    }

    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, _ state: inout EncodeState, _ map: inout ByteSliceMap,
                            _ out: inout [Int]) {
        let n = word.count
        guard n > 0, let p = word.baseAddress else { return }
        let cacheable = n <= WordCache.maxWordBytes
        if cacheable && map.withValue(p, n, { ids in for id in ids { out.append(Int(id)) } }) { return }
        if config.ignoreMerges, let id = vocab.single(p, n) {
            out.append(Int(id))
            if cacheable { cacheStore(&map, p, n, [id]) }
            return
        }
        var sym = state.symbols
        state.symbols = []
        sym.removeAll(keepingCapacity: true)
        let unk = Int32(config.unknownTokenID ?? -1)
        for i in 0..<n {
            let id = byteIDs[Int(word[i])]
            if id >= 0 {
                sym.append(id)
            } else if unk >= 0 && sym.last != unk {
                sym.append(unk)  // HF fuses runs of unknowns into one
            }
        }
        merges.apply(&sym, scratch: &state.scratch)
        for id in sym { out.append(Int(id)) }
        if cacheable { cacheStore(&map, p, n, sym) }
        state.symbols = sym
    }

    private func cacheStore(_ map: inout ByteSliceMap, _ p: UnsafePointer<UInt8>, _ n: Int, _ ids: [Int32]) {
        if map.count >= WordCache.maxEntries { map.removeAll() }
        ids.withUnsafeBufferPointer { map.insert(p, n, $0) }
    }
}

/// Per-call buffers, reused for every word of one `encode`.
struct EncodeState {
    var run = ScalarRun()
    var pieces: [(Int32, Int32)] = []
    var symbols: [Int32] = []
    var scratch = BPEScratch()
}

/// Words already encoded, shared by calls on one tokenizer.
///
/// A call that finds the cache busy (another thread encoding) uses a private one instead of
/// waiting, so concurrent encodes never serialize on it.
final class WordCache: @unchecked Sendable {
    static let maxWordBytes = 256
    static let maxEntries = 200_000
    private let lock = NSLock()
    private var map = ByteSliceMap(capacity: 4096)

    func with(_ body: (inout ByteSliceMap) -> Void) {
        if lock.try() {
            defer { lock.unlock() }
            body(&map)
        } else {
            var local = ByteSliceMap(capacity: 1024)
            body(&local)
        }
    }
}
