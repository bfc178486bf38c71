import Foundation
import SwiftletFormats

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
    let root = try readJSON(tokenizerJSON)
    let cfg = try config.flatMap { url -> JSONValue? in
        FileManager.default.fileExists(atPath: url.path) ? try readJSON(url) : nil
    }
    return try TokenizerJSONLoader(root: root, config: cfg).build()
}

private func readJSON(_ url: URL) throws -> JSONValue {
    do { return try JSONValue.parse(Data(contentsOf: url)) } catch let e as JSONError {
        throw TokenizerError.malformed("\(url.lastPathComponent): \(e)")
    }
}

/// The parts of `tokenizer.json` the loader reads, turned into tokenizer configurations.
private struct TokenizerJSONLoader {
    let root: JSONValue
    let config: JSONValue?

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
    func vocabulary(_ model: JSONValue) throws -> [String] {
        guard case .object(let entries) = model["vocab"] else { throw TokenizerError.malformed("model.vocab") }
        var maxID = -1
        for (_, v) in entries { maxID = max(maxID, v.int ?? -1) }
        // Ids are dense in real files; a gap can only be an added token's id. A larger id would
        // size the array from untrusted input (a fuzzed file asked for 4 TB).
        let limit = entries.count + (root["added_tokens"].array?.count ?? 0)
        guard maxID < limit else {
            throw TokenizerError.malformed("model.vocab has id \(maxID) but only \(entries.count) entries")
        }
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

    /// The added tokens, and the ids around a single sequence with BOS and EOS.
    func specials(_ tokens: [String]) -> SpecialTokens {
        let added = addedTokens
        var prefix: [Int] = []
        var suffix: [Int] = []
        func template(_ p: JSONValue) {
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
        return SpecialTokens(added: added, bosTokenID: bos, eosTokenIDs: eos.map { [$0] } ?? [], prefixIDs: prefix, suffixIDs: suffix)
    }

    func merges(_ model: JSONValue) -> [(String, String)] {
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
    func components(_ v: JSONValue, _ key: String) -> [JSONValue] {
        if v == .null { return [] }
        if v["type"].string == "Sequence" { return (v[key].array ?? []).flatMap { components($0, key) } }
        return [v]
    }

    func buildBPE(_ model: JSONValue) throws -> any Tokenizer {
        let tokens = try vocabulary(model)
        let pres = components(root["pre_tokenizer"], "pretokenizers")
        let norms = components(root["normalizer"], "normalizers")
        let decoders = components(root["decoder"], "decoders")
        let specials = specials(tokens)
        let unk = model["unk_token"].string.flatMap { id(of: $0, tokens, specials.added) }

        let byteLevel = pres.contains { $0["type"].string == "ByteLevel" }
            || decoders.contains { $0["type"].string == "ByteLevel" }
        if byteLevel {
            var c = BPETokenizer.Configuration(tokens: tokens, merges: merges(model))
            c.specials = specials
            c.ignoreMerges = model["ignore_merges"].bool ?? false
            c.unknownTokenID = unk
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
                        throw TokenizerError.unsupported("Split pattern \(p["pattern"].serialized())")
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
        c.specials = specials
        c.byteFallback = model["byte_fallback"].bool ?? false
        c.unknownTokenID = unk
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

    func buildWordPiece(_ model: JSONValue) throws -> any Tokenizer {
        var c = WordPieceTokenizer.Configuration(tokens: try vocabulary(model))
        c.specials = specials(c.tokens)
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
        return WordPieceTokenizer(c)
    }
}
