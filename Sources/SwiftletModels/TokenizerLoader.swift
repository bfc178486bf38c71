import Foundation

/// Builds the tokenizer a GGUF file describes, as transformers' GGUF loader
/// (`AutoTokenizer.from_pretrained(dir, gguf_file:)`) builds it, so ids match it exactly.
///
/// - `tokenizer.ggml.model` `gpt2`: byte-level BPE with the file's merges, split by the rule
///   `tokenizer.ggml.pre` names (names transformers does not map keep GPT-2's rule — SmolLM2's
///   `smollm` among them, so its digits are not split one by one as its `tokenizer.json` does).
/// - `llama`: SentencePiece-style BPE with byte fallback; merges come from the file or are rebuilt
///   from the scores. A `▁` goes before the text's first segment only.
///
/// Control tokens (type 3) and the BOS/EOS/UNK/PAD tokens are special; user-defined tokens (type 4)
/// are matched whole but are not special. BOS/EOS are added as `add_bos_token`/`add_eos_token` say
/// (BOS by default for `llama`). Special ids past the vocabulary (e.g. 4294967295 for "none") are ignored.
public func loadTokenizer(gguf: GGUFFile) throws -> any Tokenizer {
    let md = gguf.metadata
    guard let model = md["tokenizer.ggml.model"]?.string else {
        throw TokenizerError.malformed("GGUF has no tokenizer.ggml.model")
    }
    guard let tokenValues = md["tokenizer.ggml.tokens"]?.array else {
        throw TokenizerError.malformed("GGUF has no tokenizer.ggml.tokens")
    }
    let tokens = tokenValues.map { $0.string ?? "" }
    let types = md["tokenizer.ggml.token_type"]?.array?.map { $0.int ?? 1 } ?? []
    func id(_ key: String) -> Int? {
        guard let v = md["tokenizer.ggml.\(key)"]?.int, v >= 0, v < tokens.count else { return nil }
        return v
    }
    let bos = id("bos_token_id"), eos = id("eos_token_id"), unk = id("unknown_token_id"), pad = id("padding_token_id")
    var eosIDs: [Int] = []
    for e in [eos, id("eot_token_id"), id("eom_token_id")] { if let e, !eosIDs.contains(e) { eosIDs.append(e) } }
    let merges: [(String, String)]? = md["tokenizer.ggml.merges"]?.array?.map { v in
        let s = v.string ?? ""
        guard let space = s.firstIndex(of: " ") else { return (s, "") }
        return (String(s[..<space]), String(s[s.index(after: space)...]))
    }

    func addedTokens(spelledOnly: Bool) -> [AddedToken] {
        var added: [AddedToken] = []
        var seen = Set<Int>()
        for (i, t) in types.enumerated() where i < tokens.count && t == 3 {
            // transformers skips "control" tokens outside the byte alphabet of a byte-level vocabulary.
            if spelledOnly && !ByteLevel.isSpelled(tokens[i]) { continue }
            added.append(AddedToken(content: tokens[i], id: i, special: true))
            seen.insert(i)
        }
        for named in [bos, eos, unk, pad] {
            if let i = named, !seen.contains(i) {
                added.append(AddedToken(content: tokens[i], id: i, special: true))
                seen.insert(i)
            }
        }
        for (i, t) in types.enumerated() where i < tokens.count && t == 4 && !seen.contains(i) {
            // transformers adds only those found in its (re-spelled) vocabulary.
            if spelledOnly && !ByteLevel.isSpelled(tokens[i]) { continue }
            added.append(AddedToken(content: tokens[i], id: i, special: false))
        }
        return added
    }
    let addBOS = md["tokenizer.ggml.add_bos_token"]?.bool ?? (model == "llama")
    let addEOS = md["tokenizer.ggml.add_eos_token"]?.bool ?? false

    switch model {
    case "gpt2":
        let spelled = tokens.map { ByteLevel.isSpelled($0) ? $0 : ByteLevel.spell(Array($0.utf8)) }
        var c = BPETokenizer.Configuration(tokens: spelled, merges: merges ?? [])
        c.addedTokens = addedTokens(spelledOnly: true)
        c.splitRule = SplitRule.forGGUFPre(md["tokenizer.ggml.pre"]?.string)
        c.bosTokenID = bos
        c.eosTokenIDs = eosIDs
        if addBOS, let bos { c.prefixIDs = [bos] }
        if addEOS, let eos { c.suffixIDs = [eos] }
        return BPETokenizer(c)
    case "llama":
        let scores = md["tokenizer.ggml.scores"]?.array?.map { $0.double ?? 0 } ?? []
        var c = SentencePieceBPETokenizer.Configuration(
            tokens: tokens, merges: merges ?? sentencePieceMerges(tokens: tokens, scores: scores))
        c.addedTokens = addedTokens(spelledOnly: false)
        // transformers ignores this key and always prefixes; an explicit `false` is honoured here,
        // as llama.cpp does, since the file states it.
        c.spacePrefix = md["tokenizer.ggml.add_space_prefix"]?.bool == false ? .never : .first
        c.stripLeadingSpace = c.spacePrefix != .never
        c.bosTokenID = bos
        c.eosTokenIDs = eosIDs
        if addBOS, let bos { c.prefixIDs = [bos] }
        if addEOS, let eos { c.suffixIDs = [eos] }
        return SentencePieceBPETokenizer(c)
    default:
        throw TokenizerError.unsupported("GGUF tokenizer.ggml.model \(model)")
    }
}

/// Merge rules implied by a SentencePiece vocabulary, as transformers' `generate_merges` derives
/// them: every split of every token into two tokens, best score first, then longer left side,
/// then longer right side; ties keep vocabulary order.
func sentencePieceMerges(tokens: [String], scores: [Double]) -> [(String, String)] {
    // Keyed by UTF-8 bytes, as Python compares strings (Swift's `==` is canonical equivalence).
    var index: [[UInt8]: Int] = [:]
    var score: [[UInt8]: Double] = [:]
    var order: [String] = []
    for (i, t) in tokens.enumerated() {
        let key = Array(t.utf8)
        if index[key] == nil { order.append(t) }
        index[key] = i
        score[key] = i < scores.count ? scores[i] : 0
    }
    struct Candidate { var left: String; var right: String; var score: Double; var ll: Int; var rl: Int }
    var all: [Candidate] = []
    for t in order {
        let scalars = Array(t.unicodeScalars)
        guard scalars.count > 1 else { continue }
        let tokenScore = score[Array(t.utf8)]!
        var local: [(Candidate, Int, Int)] = []
        var utf8: [UInt8] = []
        var offsets: [Int] = []
        for s in scalars {
            offsets.append(utf8.count)
            utf8.append(contentsOf: UTF8.encode(s)!)
        }
        for k in 1..<scalars.count {
            let lb = Array(utf8[..<offsets[k]]), rb = Array(utf8[offsets[k]...])
            if let li = index[lb], let ri = index[rb] {
                local.append((Candidate(left: String(decoding: lb, as: UTF8.self), right: String(decoding: rb, as: UTF8.self),
                                        score: tokenScore, ll: k, rl: scalars.count - k), li, ri))
            }
        }
        local.sort { ($0.1, $0.2) < ($1.1, $1.2) }
        all.append(contentsOf: local.map { $0.0 })
    }
    let sorted = all.indices.sorted { a, b in
        let x = all[a], y = all[b]
        if x.score != y.score { return x.score > y.score }
        if x.ll != y.ll { return x.ll > y.ll }
        if x.rl != y.rl { return x.rl > y.rl }
        return a < b
    }
    return sorted.map { (all[$0].left, all[$0].right) }
}

/// Builds a tokenizer from a Hugging Face `tokenizer.json`, with `tokenizer_config.json` (if given)
/// deciding BOS/EOS as transformers does: its `add_bos_token`/`add_eos_token` override the file's
/// post-processor, and its `bos_token`/`eos_token` name the BOS and EOS tokens. Without a config,
/// BOS is the first token the post-processor puts before the text, and there is no EOS.
///
/// Supported: `BPE` with byte-level pre-tokenization (GPT-2's rule, or a `Split` with the
/// GPT-2, Llama 3 or Qwen2 pattern, optionally after `Digits`), `BPE` SentencePiece-style
/// (`Metaspace` or `Prepend`/`Replace` normalizers, byte fallback), and `WordPiece` with
/// `BertNormalizer`. Padding and truncation settings in the file are ignored.
public func loadTokenizer(tokenizerJSON: URL, config: URL?) throws -> any Tokenizer {
    let root = try TokenizerJSON.parse(Data(contentsOf: tokenizerJSON))
    let cfg = try config.flatMap { url -> TokenizerJSON? in
        FileManager.default.fileExists(atPath: url.path) ? try TokenizerJSON.parse(Data(contentsOf: url)) : nil
    }
    return try TokenizerJSONLoader(root: root, config: cfg).build()
}

/// The parts of `tokenizer.json` the loader reads, turned into tokenizer configurations.
private struct TokenizerJSONLoader {
    let root: TokenizerJSON
    let config: TokenizerJSON?

    func build() throws -> any Tokenizer {
        let model = root["model"]
        let type = model["type"].string ?? (model["merges"].array != nil ? "BPE" : nil)
        switch type {
        case "BPE": return try buildBPE(model)
        case "WordPiece": return try buildWordPiece(model)
        default: throw TokenizerError.unsupported("tokenizer.json model type \(type ?? "none")")
        }
    }

    /// The model vocabulary as an id-indexed array.
    func vocabulary(_ model: TokenizerJSON) throws -> [String] {
        guard case .object(let entries) = model["vocab"] else { throw TokenizerError.malformed("model.vocab") }
        var maxID = -1
        for (_, v) in entries { maxID = max(maxID, v.int ?? -1) }
        var tokens = [String](repeating: "", count: maxID + 1)
        for (k, v) in entries { if let i = v.int, i >= 0 { tokens[i] = k } }
        return tokens
    }

    var addedTokens: [AddedToken] {
        (root["added_tokens"].array ?? []).compactMap { t in
            guard let content = t["content"].string, let id = t["id"].int else { return nil }
            return AddedToken(content: content, id: id, special: t["special"].bool ?? false,
                              lstrip: t["lstrip"].bool ?? false, rstrip: t["rstrip"].bool ?? false,
                              singleWord: t["single_word"].bool ?? false, normalized: t["normalized"].bool ?? false)
        }
    }

    func id(of token: String, _ tokens: [String], _ added: [AddedToken]) -> Int? {
        if let a = added.first(where: { $0.content.utf8.elementsEqual(token.utf8) }) { return a.id }
        return tokens.firstIndex { $0.utf8.elementsEqual(token.utf8) }
    }

    /// A `tokenizer_config.json` token entry: a string or `{"content": …}`.
    func configToken(_ key: String) -> String? {
        guard let v = config?[key] else { return nil }
        return v.string ?? v["content"].string
    }

    /// (prefix, suffix, bos, eos) for single sequences.
    func specials(_ tokens: [String], _ added: [AddedToken]) -> ([Int], [Int], Int?, [Int]) {
        var prefix: [Int] = []
        var suffix: [Int] = []
        func template(_ p: TokenizerJSON) {
            switch p["type"].string {
            case "TemplateProcessing":
                var seenSequence = false
                for item in p["single"].array ?? [] {
                    if item["Sequence"] != .null { seenSequence = true; continue }
                    guard let name = item["SpecialToken"]["id"].string else { continue }
                    let ids = p["special_tokens"][name]["ids"].array?.compactMap(\.int)
                        ?? id(of: name, tokens, added).map { [$0] } ?? []
                    if seenSequence { suffix += ids } else { prefix += ids }
                }
            case "BertProcessing", "RobertaProcessing":
                if let cls = p["cls"].array?.last?.int { prefix = [cls] }
                if let sep = p["sep"].array?.last?.int { suffix = [sep] }
            case "Sequence":
                for q in p["processors"].array ?? [] { template(q) }
            default: break
            }
        }
        template(root["post_processor"])
        var bos = configToken("bos_token").flatMap { id(of: $0, tokens, added) }
        let eos = configToken("eos_token").flatMap { id(of: $0, tokens, added) }
        if bos == nil, let first = prefix.first { bos = first }
        if let addBOS = config?["add_bos_token"].bool {
            prefix = addBOS ? (bos.map { [$0] } ?? []) : []
        }
        if let addEOS = config?["add_eos_token"].bool {
            suffix = addEOS ? (eos.map { [$0] } ?? []) : []
        }
        return (prefix, suffix, bos, eos.map { [$0] } ?? [])
    }

    func merges(_ model: TokenizerJSON) -> [(String, String)] {
        (model["merges"].array ?? []).compactMap { m in
            if let s = m.string {
                guard let space = s.firstIndex(of: " ") else { return nil }
                return (String(s[..<space]), String(s[s.index(after: space)...]))
            }
            if let pair = m.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string { return (a, b) }
            return nil
        }
    }

    /// Flattens `Sequence` wrappers into a list of components.
    func components(_ v: TokenizerJSON, _ key: String) -> [TokenizerJSON] {
        if v == .null { return [] }
        if v["type"].string == "Sequence" { return (v[key].array ?? []).flatMap { components($0, key) } }
        return [v]
    }

    func buildBPE(_ model: TokenizerJSON) throws -> any Tokenizer {
        let tokens = try vocabulary(model)
        let added = addedTokens
        let pres = components(root["pre_tokenizer"], "pretokenizers")
        let norms = components(root["normalizer"], "normalizers")
        let decoders = components(root["decoder"], "decoders")
        let (prefix, suffix, bos, eos) = specials(tokens, added)
        let unk = model["unk_token"].string.flatMap { id(of: $0, tokens, added) }

        let byteLevel = pres.contains { $0["type"].string == "ByteLevel" }
            || decoders.contains { $0["type"].string == "ByteLevel" }
        if byteLevel {
            var c = BPETokenizer.Configuration(tokens: tokens, merges: merges(model))
            c.addedTokens = added
            c.ignoreMerges = model["ignore_merges"].bool ?? false
            c.unknownTokenID = unk
            c.bosTokenID = bos
            c.eosTokenIDs = eos
            c.prefixIDs = prefix
            c.suffixIDs = suffix
            c.splitRule = nil
            for n in norms {
                switch n["type"].string {
                case "NFC": c.nfc = true
                default: throw TokenizerError.unsupported("normalizer \(n["type"].string ?? "?") with byte-level BPE")
                }
            }
            for p in pres {
                switch p["type"].string {
                case "ByteLevel":
                    c.addPrefixSpace = p["add_prefix_space"].bool ?? false
                    if p["use_regex"].bool ?? true {
                        if c.splitRule != nil { throw TokenizerError.unsupported("two split rules") }
                        c.splitRule = .gpt2
                    }
                case "Split":
                    guard let pattern = p["pattern"]["Regex"].string ?? p["pattern"]["String"].string,
                          let rule = SplitRule.knownPatterns[pattern] else {
                        throw TokenizerError.unsupported("Split pattern \(p["pattern"])")
                    }
                    let behavior = p["behavior"].string ?? "Isolated"
                    guard behavior == "Isolated", !(p["invert"].bool ?? false) else {
                        throw TokenizerError.unsupported("Split behavior \(behavior)")
                    }
                    c.splitRule = rule
                case "Digits":
                    guard p["individual_digits"].bool ?? false else {
                        throw TokenizerError.unsupported("Digits(individual_digits: false)")
                    }
                    c.isolateDigits = true
                default:
                    throw TokenizerError.unsupported("pre-tokenizer \(p["type"].string ?? "?") with byte-level BPE")
                }
            }
            return BPETokenizer(c)
        }

        var c = SentencePieceBPETokenizer.Configuration(tokens: tokens, merges: merges(model))
        c.addedTokens = added
        c.byteFallback = model["byte_fallback"].bool ?? false
        c.unknownTokenID = unk
        c.bosTokenID = bos
        c.eosTokenIDs = eos
        c.prefixIDs = prefix
        c.suffixIDs = suffix
        c.spacePrefix = .never
        var replacesSpaces = false
        for n in norms {
            switch n["type"].string {
            case "Prepend" where n["prepend"].string == "\u{2581}": c.spacePrefix = .unconditional
            case "Replace" where n["pattern"]["String"].string == " " && n["content"].string == "\u{2581}":
                replacesSpaces = true
            default: throw TokenizerError.unsupported("normalizer \(n["type"].string ?? "?") with SentencePiece BPE")
            }
        }
        for p in pres {
            switch p["type"].string {
            case "Metaspace":
                guard (p["replacement"].string ?? "\u{2581}") == "\u{2581}" else {
                    throw TokenizerError.unsupported("Metaspace replacement")
                }
                replacesSpaces = true
                switch p["prepend_scheme"].string ?? ((p["add_prefix_space"].bool ?? true) ? "always" : "never") {
                case "always": c.spacePrefix = .always
                case "first": c.spacePrefix = .first
                default: c.spacePrefix = .never
                }
                c.splitOnSpace = p["split"].bool ?? true
            default:
                throw TokenizerError.unsupported("pre-tokenizer \(p["type"].string ?? "?") with SentencePiece BPE")
            }
        }
        guard replacesSpaces else { throw TokenizerError.unsupported("BPE without byte-level or ▁ spaces") }
        c.stripLeadingSpace = decoders.contains { $0["type"].string == "Strip" && ($0["start"].int ?? 0) > 0 }
            || decoders.contains { $0["type"].string == "Metaspace" && $0["prepend_scheme"].string != "never" }
        return SentencePieceBPETokenizer(c)
    }

    func buildWordPiece(_ model: TokenizerJSON) throws -> any Tokenizer {
        var c = WordPieceTokenizer.Configuration(tokens: try vocabulary(model))
        c.addedTokens = addedTokens
        c.unknownToken = model["unk_token"].string ?? "[UNK]"
        c.continuingSubwordPrefix = model["continuing_subword_prefix"].string ?? "##"
        c.maxInputCharsPerWord = model["max_input_chars_per_word"].int ?? 100
        c.normalizer = nil
        for n in components(root["normalizer"], "normalizers") {
            guard n["type"].string == "BertNormalizer" else {
                throw TokenizerError.unsupported("normalizer \(n["type"].string ?? "?") with WordPiece")
            }
            c.normalizer = BertNormalizer(cleanText: n["clean_text"].bool ?? true,
                                          handleChineseChars: n["handle_chinese_chars"].bool ?? true,
                                          stripAccents: n["strip_accents"].bool, lowercase: n["lowercase"].bool ?? true)
        }
        for p in components(root["pre_tokenizer"], "pretokenizers") where p["type"].string != "BertPreTokenizer" {
            throw TokenizerError.unsupported("pre-tokenizer \(p["type"].string ?? "?") with WordPiece")
        }
        let decoder = components(root["decoder"], "decoders").first { $0["type"].string == "WordPiece" }
        c.cleanup = decoder?["cleanup"].bool ?? true
        let (prefix, suffix, bos, eos) = specials(c.tokens, c.addedTokens)
        c.prefixIDs = prefix
        c.suffixIDs = suffix
        c.bosTokenID = bos
        c.eosTokenIDs = eos
        return WordPieceTokenizer(c)
    }
}

/// A parsed JSON value. Hand-parsed from the UTF-8 bytes: `JSONSerialization` drops U+FEFF inside
/// strings on Linux (a real token in some vocabularies) and both Foundation parsers are slow on
/// multi-megabyte vocabularies.
indirect enum TokenizerJSON: Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([TokenizerJSON])
    /// Key order is kept; lookups scan, which is fine for the small objects read by key.
    case object([(String, TokenizerJSON)])

    static func == (a: TokenizerJSON, b: TokenizerJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .number(let d): return "\(d)"
        case .string(let s): return s.debugDescription
        case .array(let a): return "[\(a.map(\.description).joined(separator: ", "))]"
        case .object(let o): return "{\(o.map { "\($0.0.debugDescription): \($0.1)" }.joined(separator: ", "))}"
        }
    }

    subscript(key: String) -> TokenizerJSON {
        if case .object(let entries) = self { return entries.first { $0.0 == key }?.1 ?? .null }
        return .null
    }

    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var int: Int? { if case .number(let d) = self, d == d.rounded() { return Int(d) } else { return nil } }
    var array: [TokenizerJSON]? { if case .array(let a) = self { return a } else { return nil } }

    static func parse(_ data: Data) throws -> TokenizerJSON {
        try data.withUnsafeBytes { raw in
            var p = JSONParser(bytes: raw.bindMemory(to: UInt8.self))
            p.skipSpace()
            let v = try p.value(depth: 0)
            p.skipSpace()
            guard p.i == p.bytes.count else { throw TokenizerError.malformed("trailing data in JSON") }
            return v
        }
    }
}

private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        // A UTF-8 byte-order mark before the document is allowed.
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    func fail(_ what: String) -> TokenizerError { .malformed("JSON: \(what) at byte \(i)") }

    mutating func expect(_ literal: String) throws {
        for b in literal.utf8 {
            guard i < bytes.count, bytes[i] == b else { throw fail("expected \(literal)") }
            i += 1
        }
    }

    mutating func value(depth: Int) throws -> TokenizerJSON {
        guard depth < 512 else { throw fail("nesting too deep") }
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var entries: [(String, TokenizerJSON)] = []
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(entries) }
            while true {
                skipSpace()
                let key = try string()
                skipSpace()
                try expect(":")
                skipSpace()
                entries.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(entries) }
                throw fail("expected , or }")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [TokenizerJSON] = []
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected , or ]")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true"); return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false"); return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null"); return .null
        default:
            return .number(try number())
        }
    }

    mutating func number() throws -> Double {
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            if (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { i += 1 } else { break }
        }
        guard i > start, let d = Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
        else { throw fail("bad number") }
        return d
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw fail("bad \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected string") }
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < bytes.count && bytes[i] != UInt8(ascii: "\"") && bytes[i] != UInt8(ascii: "\\") { i += 1 }
        guard i < bytes.count else { throw fail("unterminated string") }
        if bytes[i] == UInt8(ascii: "\"") {
            let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            i += 1
            return s
        }
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b != UInt8(ascii: "\\") { out.append(b); i += 1; continue }
            i += 1
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if (0xD800..<0xDC00).contains(v), i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"),
                   bytes[i + 1] == UInt8(ascii: "u") {
                    let save = i
                    i += 2
                    let lo = try hex4()
                    if (0xDC00..<0xE000).contains(lo) {
                        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                    } else {
                        i = save
                    }
                }
                let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: out.append(e)  // \" \\ \/
            }
        }
        throw fail("unterminated string")
    }
}
