import Foundation
import SwiftletFormats

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

    // Gemma stores runs of spaces as spaces; its vocabulary and merges spell them with `▁`.
    let gemma = model == "llama" && md["general.architecture"]?.string?.hasPrefix("gemma") == true
    let vocabulary = gemma ? GemmaVocabulary.respell(tokens) : tokens
    let inVocabulary: Set<String>? = gemma ? Set(vocabulary) : nil

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
            if let inVocabulary, !inVocabulary.contains(tokens[i]) { continue }
            added.append(AddedToken(content: tokens[i], id: i, special: false))
        }
        return added
    }
    let addBOS = md["tokenizer.ggml.add_bos_token"]?.bool ?? (model == "llama")
    let addEOS = md["tokenizer.ggml.add_eos_token"]?.bool ?? false
    func specials(_ added: [AddedToken]) -> SpecialTokens {
        SpecialTokens(added: added, bosTokenID: bos, eosTokenIDs: eosIDs, prefixIDs: addBOS ? bos.map { [$0] } ?? [] : [],
                      suffixIDs: addEOS ? eos.map { [$0] } ?? [] : [])
    }

    switch model {
    case "gpt2":
        let spelled = tokens.map { ByteLevel.isSpelled($0) ? $0 : ByteLevel.spell(Array($0.utf8)) }
        var c = BPETokenizer.Configuration(tokens: spelled, merges: merges ?? [])
        c.specials = specials(addedTokens(spelledOnly: true))
        c.splitRule = SplitRule.forGGUFPre(md["tokenizer.ggml.pre"]?.string)
        return BPETokenizer(c)
    case "llama":
        let scores = md["tokenizer.ggml.scores"]?.array?.map { $0.double ?? 0 } ?? []
        // Gemma's scores do not follow its merge order; the order of the vocabulary does.
        let mergeScores = gemma ? vocabulary.indices.map { -Double($0) } : scores
        var c = SentencePieceBPETokenizer.Configuration(
            tokens: vocabulary, merges: merges ?? sentencePieceMerges(tokens: vocabulary, scores: mergeScores))
        c.specials = specials(addedTokens(spelledOnly: false))
        // transformers ignores this key and always prefixes; an explicit `false` is honoured here,
        // as llama.cpp does, since the file states it.
        c.spacePrefix = md["tokenizer.ggml.add_space_prefix"]?.bool == false ? .never : .first
        c.stripLeadingSpace = c.spacePrefix != .never
        return SentencePieceBPETokenizer(c)
    default:
        throw TokenizerError.unsupported("GGUF tokenizer.ggml.model \(model)")
    }
}
