import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletFormats
@testable import SwiftletJinja
@testable import SwiftletTokenizers

/// Byte-level BPE in miniature: tokens are byte chunks cut without regard to character
/// boundaries, so multi-byte characters span tokens, as with GPT-2-style vocabularies.
private struct MockByteTokenizer: Tokenizer {
    let chunks: [[UInt8]]
    let ids: [[UInt8]: Int]
    static let special = "<|eot|>"
    var specialID: Int { chunks.count }

    init(texts: [String]) {
        var chunks: [[UInt8]] = (0...255).map { [UInt8($0)] }
        var ids: [[UInt8]: Int] = [:]
        for (i, c) in chunks.enumerated() { ids[c] = i }
        for t in texts {
            for c in Self.cut(t) where ids[c] == nil {
                ids[c] = chunks.count
                chunks.append(c)
            }
        }
        self.chunks = chunks
        self.ids = ids
    }

    /// Deterministic chunk sizes 3, 1, 2, 4, 2, ... bytes.
    static func cut(_ text: String) -> [[UInt8]] {
        let bytes = Array(text.utf8)
        let sizes = [3, 1, 2, 4, 2]
        var out: [[UInt8]] = []
        var i = 0, k = 0
        while i < bytes.count {
            let n = min(sizes[k % sizes.count], bytes.count - i)
            out.append(Array(bytes[i..<i + n]))
            i += n
            k += 1
        }
        return out
    }

    var vocabularySize: Int { chunks.count + 1 }
    var bosTokenID: Int? { nil }
    var eosTokenIDs: [Int] { [specialID] }
    var addsBOS: Bool { false }
    func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] { Self.cut(text).map { ids[$0]! } }
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            if id == specialID {
                if !skipSpecialTokens { bytes += Array(Self.special.utf8) }
            } else {
                bytes += chunks[id]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
    func tokenBytes(_ id: Int, isFirst: Bool) -> [UInt8] { id == specialID ? Array(Self.special.utf8) : chunks[id] }
    func isSpecial(_ id: Int) -> Bool { id == specialID }
    func tokenString(_ id: Int) -> String? { id == specialID ? Self.special : String(decoding: chunks[id], as: UTF8.self) }
    func tokenID(_ string: String) -> Int? { string == Self.special ? specialID : ids[Array(string.utf8)] }
}

/// SentencePiece in miniature: `▁` marks a space, words are cut into short pieces, any
/// non-ASCII character falls back to `<0xNN>` byte tokens, and decoding drops one leading space.
private struct MockSentencePieceTokenizer: Tokenizer {
    let pieces: [String]
    let ids: [String: Int]
    static let bos = 1, eos = 2

    init(texts: [String]) {
        var pieces = ["<unk>", "<s>", "</s>"] + (0...255).map { String(format: "<0x%02X>", $0) }
        var ids: [String: Int] = [:]
        for (i, p) in pieces.enumerated() { ids[p] = i }
        for t in texts {
            for p in Self.cut(t) where ids[p] == nil {
                ids[p] = pieces.count
                pieces.append(p)
            }
        }
        self.pieces = pieces
        self.ids = ids
    }

    static func cut(_ text: String) -> [String] {
        let normalized = "▁" + text.replacingOccurrences(of: " ", with: "▁")
        var out: [String] = []
        var run = ""
        func flush() {
            var s = Substring(run)
            while !s.isEmpty {
                let n = s.first == "▁" ? 3 : 2
                out.append(String(s.prefix(n)))
                s = s.dropFirst(n)
            }
            run = ""
        }
        for ch in normalized.unicodeScalars {
            if ch.isASCII || ch == "▁" {
                run.unicodeScalars.append(ch)
            } else {
                flush()
                out += String(ch).utf8.map { String(format: "<0x%02X>", $0) }
            }
        }
        flush()
        return out
    }

    func byteValue(_ id: Int) -> UInt8? {
        let p = pieces[id]
        guard p.count == 6, p.hasPrefix("<0x") else { return nil }
        return UInt8(p.dropFirst(3).prefix(2), radix: 16)
    }

    var vocabularySize: Int { pieces.count }
    var bosTokenID: Int? { Self.bos }
    var eosTokenIDs: [Int] { [Self.eos] }
    var addsBOS: Bool { true }
    func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        (addSpecialTokens ? [Self.bos] : []) + Self.cut(text).map { ids[$0]! }
    }
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var out: [UInt8] = []
        var run: [UInt8] = []
        func flush() {
            if String(validatingUTF8: run.map { CChar(bitPattern: $0) } + [0]) != nil || run.isEmpty {
                out += run
            } else {
                for _ in run { out += Array("\u{FFFD}".utf8) }
            }
            run = []
        }
        for id in ids {
            if isSpecial(id) && skipSpecialTokens { continue }
            if let b = byteValue(id) {
                run.append(b)
            } else {
                flush()
                out += Array(pieces[id].replacingOccurrences(of: "▁", with: " ").utf8)
            }
        }
        flush()
        if out.first == 0x20 { out.removeFirst() }
        return String(decoding: out, as: UTF8.self)
    }
    func tokenBytes(_ id: Int, isFirst: Bool) -> [UInt8] {
        if let b = byteValue(id) { return [b] }
        let bytes = Array(pieces[id].replacingOccurrences(of: "▁", with: " ").utf8)
        return isFirst && bytes.first == 0x20 ? Array(bytes.dropFirst()) : bytes
    }
    func isSpecial(_ id: Int) -> Bool { id == Self.bos || id == Self.eos }
    func tokenString(_ id: Int) -> String? { pieces[id] }
    func tokenID(_ string: String) -> Int? { ids[string] }
}

private let sampleTexts = [
    "Hello world! This is a test.",
    "  leading and trailing spaces  ",
    "日本語のテキストです。漢字とひらがな。",
    "Emoji: 🙂🐉👍🏽 and flags 🇫🇷🇯🇵, family 👨‍👩‍👧",
    "Mixed: café, naïve, Ελληνικά, русский, עברית, 한국어",
    "Line one\nLine two\n\n\tTabbed\r\nWindows",
    "Math: ∑∫√∞ ≠ ≤ ≥ and combining e\u{301}",
    "x",
    "",
]

/// Streams `ids` one at a time and returns the pieces, checking each is whole UTF-8 text.
private func stream(_ d: inout IncrementalDetokenizer, _ ids: [Int]) -> [String] {
    var pieces: [String] = []
    for id in ids {
        let (text, _) = d.append(id)
        pieces.append(text)
    }
    pieces.append(d.finish())
    return pieces
}

@Suite struct IncrementalDetokenizerTests {
    @Test func byteLevelStreamMatchesFullDecode() {
        let tok = MockByteTokenizer(texts: sampleTexts)
        for text in sampleTexts {
            let ids = tok.encode(text, addSpecialTokens: false, parseSpecial: false)
            var d = IncrementalDetokenizer(tokenizer: tok)
            let pieces = stream(&d, ids)
            #expect(pieces.joined() == tok.decode(ids, skipSpecialTokens: true), "\(text.debugDescription)")
            #expect(pieces.joined() == text)
            #expect(d.text == text)
            #expect(!pieces.contains { $0.contains("\u{FFFD}") }, "emitted a partial character for \(text.debugDescription)")
        }
    }

    @Test func sentencePieceStreamMatchesFullDecode() {
        let tok = MockSentencePieceTokenizer(texts: sampleTexts + ["Prompt text"])
        for text in sampleTexts {
            let ids = tok.encode(text, addSpecialTokens: false, parseSpecial: false)
            var d = IncrementalDetokenizer(tokenizer: tok)
            let pieces = stream(&d, ids)
            #expect(pieces.joined() == tok.decode(ids, skipSpecialTokens: true), "\(text.debugDescription)")
            #expect(!pieces.contains { $0.contains("\u{FFFD}") })

            // After a prompt, the first token's `▁` is a real space, as in decoding prompt + output.
            let prompt = tok.encode("Prompt text", addSpecialTokens: true, parseSpecial: false)
            var withPrompt = IncrementalDetokenizer(tokenizer: tok, promptIDs: prompt)
            let full = tok.decode(prompt + ids, skipSpecialTokens: true)
            let promptText = tok.decode(prompt, skipSpecialTokens: true)
            #expect(full.hasPrefix(promptText))
            #expect(stream(&withPrompt, ids).joined() == String(full.dropFirst(promptText.count)), "\(text.debugDescription)")
        }
    }

    @Test func specialTokensAreSkippedOrShown() {
        let tok = MockByteTokenizer(texts: ["ab"])
        let ids = tok.encode("ab", addSpecialTokens: false, parseSpecial: false) + [tok.specialID]
        var skip = IncrementalDetokenizer(tokenizer: tok)
        #expect(stream(&skip, ids).joined() == "ab")
        var keep = IncrementalDetokenizer(tokenizer: tok, skipSpecialTokens: false)
        #expect(stream(&keep, ids).joined() == "ab<|eot|>")
    }

    @Test func invalidBytesFinishAsReplacementCharacters() {
        let tok = MockByteTokenizer(texts: [])
        // A lone lead byte of a three-byte sequence, then ASCII: decoded as U+FFFD then "A".
        let ids = [0xE6, 0x41]
        var d = IncrementalDetokenizer(tokenizer: tok)
        #expect(stream(&d, ids).joined() == tok.decode(ids, skipSpecialTokens: true))
        var partial = IncrementalDetokenizer(tokenizer: tok)
        #expect(partial.append(0xE6).text == "")
        #expect(partial.finish() == "\u{FFFD}")
    }

    @Test func stopStringIsCutAndNeverPartlyEmitted() {
        let text = "The answer is 42.\nUser: what else?"
        let tok = MockByteTokenizer(texts: [text])
        let ids = tok.encode(text, addSpecialTokens: false, parseSpecial: false)
        var d = IncrementalDetokenizer(tokenizer: tok, stop: ["\nUser:"])
        var emitted = ""
        var stoppedAt: Int? = nil
        for (i, id) in ids.enumerated() {
            let (piece, stopped) = d.append(id)
            emitted += piece
            #expect(!emitted.contains("\n"), "emitted part of the stop string")
            if stopped {
                stoppedAt = i
                break
            }
        }
        #expect(emitted == "The answer is 42.")
        #expect(d.matchedStop == "\nUser:")
        // It stops on the token that completes the stop string, not later.
        let prefix = tok.decode(Array(ids[...stoppedAt!]), skipSpecialTokens: true)
        #expect(prefix.contains("\nUser:"))
        #expect(!tok.decode(Array(ids[..<stoppedAt!]), skipSpecialTokens: true).contains("\nUser:"))
        #expect(d.append(ids[0]) == ("", true))
        #expect(d.finish() == "")
    }

    @Test func falseStartsAreReleased() {
        let cases: [(String, [String], String, Bool)] = [
            ("a<st b<stop> c", ["<stop>"], "a<st b", true),
            ("Hello <", ["<stop>"], "Hello <", false),
            ("今日は日本語", ["日本"], "今日は", true),
            ("xxabxabc", ["abc", "bx"], "xxa", true),
            ("aab", ["ab", "aab"], "", true),
            ("no stop here", ["zzz", "here!"], "no stop here", false),
        ]
        for (text, stops, expected, stops_) in cases {
            let tok = MockByteTokenizer(texts: [text])
            var d = IncrementalDetokenizer(tokenizer: tok, stop: stops)
            let out = stream(&d, tok.encode(text, addSpecialTokens: false, parseSpecial: false)).joined()
            #expect(out == expected, "\(text) with \(stops)")
            #expect(d.isStopped == stops_, "\(text)")
            #expect(d.text == expected)
        }
        let tok = MockByteTokenizer(texts: ["say STOP now"])
        var include = IncrementalDetokenizer(tokenizer: tok, stop: ["STOP"], includeStopString: true)
        #expect(stream(&include, tok.encode("say STOP now", addSpecialTokens: false, parseSpecial: false)).joined() == "say STOP")
    }

    @Test func holdsBackOnlyWhatCouldStartAStop() {
        let tok = MockByteTokenizer(texts: [])
        var d = IncrementalDetokenizer(tokenizer: tok, stop: ["</answer>"])
        var out = ""
        for b in Array("42 </a".utf8) { out += d.append(Int(b)).text }
        #expect(out == "42 ")
        for b in Array("b>".utf8) { out += d.append(Int(b)).text }
        #expect(out == "42 </ab>")
    }
}

// MARK: - Real tokenizers

private let storiesPath = TestPaths.stories260K
private let smolLM2Path = TestPaths.smolLM2IfInstalled

private let realTexts = sampleTexts + [
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "The quick brown fox jumps over the lazy dog 1234567890 times.",
    "中文：我喜欢学习新的东西，尤其是编程。🐍 Python と Swift 🦅",
    "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "Ünïcödé ßtraße — “quotes” ‘single’ … ellipsis",
]

private func checkRealTokenizer(_ tok: any Tokenizer, prompt: String) {
    let promptIDs = tok.encode(prompt, addSpecialTokens: true, parseSpecial: true)
    let promptText = tok.decode(promptIDs, skipSpecialTokens: true)
    for text in realTexts {
        let ids = tok.encode(text, addSpecialTokens: false, parseSpecial: true)
        for skip in [true, false] {
            var d = IncrementalDetokenizer(tokenizer: tok, skipSpecialTokens: skip)
            let pieces = stream(&d, ids)
            #expect(pieces.joined() == tok.decode(ids, skipSpecialTokens: skip), "\(text.debugDescription) skip=\(skip)")
            #expect(!pieces.contains { $0.contains("\u{FFFD}") }, "partial character in \(text.debugDescription)")
        }
        var withPrompt = IncrementalDetokenizer(tokenizer: tok, promptIDs: promptIDs)
        let full = tok.decode(promptIDs + ids, skipSpecialTokens: true)
        #expect(full.hasPrefix(promptText))
        #expect(stream(&withPrompt, ids).joined() == String(full.dropFirst(promptText.count)), "\(text.debugDescription) after prompt")
    }
}

@Suite struct IncrementalDetokenizerRealTokenizerTests {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: storiesPath), "needs stories260K.gguf"))
    func stories260KSentencePiece() throws {
        let tok = try loadTokenizer(gguf: try GGUFFile(path: storiesPath))
        // The 512-piece vocabulary spells most non-ASCII text with byte-fallback tokens.
        let ids = tok.encode("日本 🐉", addSpecialTokens: false, parseSpecial: false)
        #expect(ids.count >= 7)
        checkRealTokenizer(tok, prompt: "Once upon a time")
    }

    @Test(.enabled(if: smolLM2Path != nil, "needs the SmolLM2 GGUF"))
    func smolLM2ByteLevelBPE() throws {
        let tok = try loadTokenizer(gguf: try GGUFFile(path: smolLM2Path!))
        checkRealTokenizer(tok, prompt: "<|im_start|>user\nWrite a story<|im_end|>\n<|im_start|>assistant\n")
        // Stop strings across real token boundaries.
        let text = "Sure! 日本語 is fun.\nUser: next"
        var d = IncrementalDetokenizer(tokenizer: tok, stop: ["\nUser:"])
        let out = stream(&d, tok.encode(text, addSpecialTokens: false, parseSpecial: false)).joined()
        #expect(out == "Sure! 日本語 is fun.")
        #expect(d.isStopped)
    }
}

// MARK: - Every tokenizer fixture, streamed

/// The tokenizer fixtures (scripts/make_tokenizer_fixtures.py) hold ids with Hugging Face's full
/// decodes; streaming the ids token by token must concatenate to exactly those.
@Suite struct IncrementalDetokenizerFixtureTests {
    static let fixtures = TestPaths.fixtures.appendingPathComponent("tokenizers")

    private func load(_ name: String) throws -> (any Tokenizer)? {
        switch name {
        case "smollm2-gguf": return try smolLM2Path.map { try loadTokenizer(gguf: try GGUFFile(path: $0)) }
        case "stories260k-gguf":
            return FileManager.default.fileExists(atPath: storiesPath) ? try loadTokenizer(gguf: try GGUFFile(path: storiesPath)) : nil
        case "gemma3-gguf": return try TestPaths.gemma3IfInstalled.map { try loadTokenizer(gguf: try GGUFFile(path: $0)) }
        case "minilm":
            let dir = Self.fixtures.appendingPathComponent("minilm")
            return try loadTokenizer(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"), config: dir.appendingPathComponent("tokenizer_config.json"))
        default:
            return try loadTokenizer(tokenizerJSON: Self.fixtures.appendingPathComponent("\(name).tokenizer.json"), config: nil)
        }
    }

    @Test(arguments: ["smollm2-gguf", "stories260k-gguf", "gemma3-gguf", "gpt2-style", "llama3-style", "qwen2-style", "minilm"])
    func streamingMatchesHuggingFaceDecode(_ name: String) throws {
        guard let tok = try load(name) else { return }
        let file = try JinjaValue(json: try Data(contentsOf: Self.fixtures.appendingPathComponent("\(name).json")))
        let cases = try #require(file.objectValue?["cases"]?.arrayValue)
        #expect(cases.count >= 100)
        var mismatches = 0
        for case .object(let c) in cases {
            let ids = (c["ids"]?.arrayValue ?? []).compactMap(\.asInt)
            for (skip, key) in [(false, "decoded"), (true, "decoded_skip")] {
                guard let want = c[key]?.stringValue else { continue }
                var d = IncrementalDetokenizer(tokenizer: tok, skipSpecialTokens: skip)
                let got = stream(&d, ids).joined()
                if got != want {
                    mismatches += 1
                    if mismatches <= 5 { Issue.record("\(name) skip=\(skip): \(got.debugDescription) != \(want.debugDescription)") }
                }
            }
        }
        #expect(mismatches == 0, "\(name): \(mismatches) streamed decodes differ")
    }
}
