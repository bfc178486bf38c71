/// Gemma's GGUF vocabulary as its tokenizer spells it. llama.cpp's converter writes tokens made
/// of two or more spaces as real spaces, while the SentencePiece model (and transformers, which
/// renames them the same way) matches them as runs of `▁`: left as stored they would never match,
/// and the merges rebuilt from the vocabulary would miss them.
enum GemmaVocabulary {
    /// Every token of white space only that holds a space becomes as many `▁` as it has characters.
    static func respell(_ tokens: [String]) -> [String] {
        tokens.map { t in
            guard t.unicodeScalars.contains(" "), t.unicodeScalars.allSatisfy(isPythonWhitespace) else { return t }
            return String(repeating: "\u{2581}", count: t.unicodeScalars.count)
        }
    }

    /// Python's `str.strip()` white space, which decides what counts as blank in transformers.
    private static func isPythonWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }
}
