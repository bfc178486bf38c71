import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletFormats
@testable import SwiftletTokenizers

@Suite struct TokenizerBehaviourTests {
    static let smol: (any Tokenizer)? = TokenizerFixtures.smolLM2Path.flatMap { try? loadTokenizer(gguf: GGUFFile(path: $0)) }
    static let stories: (any Tokenizer)? = TestPaths.stories260KIfPresent.flatMap {
        try? loadTokenizer(gguf: GGUFFile(path: $0))
    }
    static let miniLM: any Tokenizer = {
        let dir = TokenizerFixtures.directory.appendingPathComponent("minilm")
        return try! loadTokenizer(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"),
                                  config: dir.appendingPathComponent("tokenizer_config.json"))
    }()
    static let llama3Style: any Tokenizer = try! loadTokenizer(
        tokenizerJSON: TokenizerFixtures.directory.appendingPathComponent("llama3-style.tokenizer.json"), config: nil)

    @Test(.enabled(if: TokenizerFixtures.smolLM2Path != nil))
    func smolLM2SpecialTokens() throws {
        let tok = try #require(Self.smol)
        #expect(tok.vocabularySize == 49152)
        #expect(tok.bosTokenID == 1)
        #expect(tok.eosTokenIDs == [2])
        #expect(!tok.addsBOS)
        #expect(tok.tokenID("<|im_end|>") == 2)
        #expect(tok.tokenString(1) == "<|im_start|>")
        #expect(tok.isSpecial(1) && !tok.isSpecial(19556))

        let text = "<|im_start|>user\nHi<|im_end|>"
        let parsed = tok.encode(text, addSpecialTokens: true, parseSpecial: true)
        #expect(parsed.first == 1 && parsed.last == 2)
        let literal = tok.encode(text, addSpecialTokens: true, parseSpecial: false)
        #expect(!literal.contains(1) && !literal.contains(2))
        #expect(tok.decode(literal, skipSpecialTokens: true) == text)
        #expect(tok.decode(parsed, skipSpecialTokens: true) == "user\nHi")
        #expect(tok.decode(parsed, skipSpecialTokens: false) == text)
        // The convenience overloads parse special tokens and skip them when decoding.
        #expect(tok.encode(text) == parsed)
        #expect(tok.decode(parsed) == "user\nHi")
    }

    @Test(.enabled(if: TestPaths.stories260KIfPresent != nil))
    func stories260KBOSAndSpaces() throws {
        let tok = try #require(Self.stories)
        #expect(tok.vocabularySize == 512)
        #expect(tok.addsBOS && tok.bosTokenID == 1 && tok.eosTokenIDs == [2])
        #expect(tok.encode("Hello world", addSpecialTokens: true, parseSpecial: true) == [1, 346, 306, 414, 263, 304, 341])
        #expect(tok.encode("Hello world", addSpecialTokens: false, parseSpecial: true) == [346, 306, 414, 263, 304, 341])
        // "▁He": the leading space goes only at the very start of the decoded text.
        #expect(tok.tokenBytes(346, isFirst: true) == Array("He".utf8))
        #expect(tok.tokenBytes(346, isFirst: false) == Array(" He".utf8))
        #expect(tok.tokenBytes(13, isFirst: false) == [0x0A])  // <0x0A>
        #expect(tok.tokenString(346) == "\u{2581}He")
        // Bytes of a split character decode to U+FFFD per byte, as HF's ByteFallback decoder does.
        #expect(tok.decode([233, 154], skipSpecialTokens: true) == "\u{FFFD}\u{FFFD}")
    }

    /// Concatenating `tokenBytes` (the streaming detokenizer's view) gives the same text as `decode`.
    @Test func tokenBytesMatchDecode() throws {
        var tokenizers: [any Tokenizer] = [Self.llama3Style, Self.miniLM]
        if let t = Self.smol { tokenizers.append(t) }
        if let t = Self.stories { tokenizers.append(t) }
        for tok in tokenizers {
            for text in ["Hello, world! 日本語 👨‍👩‍👧", " two  spaces\n\ttab", "naïve café — ok?"] {
                let ids = tok.encode(text, addSpecialTokens: false, parseSpecial: true)
                var bytes: [UInt8] = []
                for (i, id) in ids.enumerated() { bytes += tok.tokenBytes(id, isFirst: i == 0) }
                #expect(String(decoding: bytes, as: UTF8.self) == tok.decode(ids, skipSpecialTokens: false), "\(type(of: tok))")
            }
        }
    }

    @Test func llama3StyleTemplateAndAddedTokens() {
        let tok = Self.llama3Style
        let bos = tok.tokenID("<|begin_of_text|>")
        #expect(bos != nil && tok.bosTokenID == bos && tok.addsBOS)
        let ids = tok.encode("hi<think>x", addSpecialTokens: true, parseSpecial: false)
        #expect(ids.first == bos)
        // `<think>` is an added, non-special token: matched even when special parsing is off, never skipped.
        let think = tok.tokenID("<think>")!
        #expect(ids.contains(think) && !tok.isSpecial(think))
        #expect(tok.decode(ids, skipSpecialTokens: true) == "hi<think>x")
    }

    @Test func miniLMWordPiece() {
        let tok = Self.miniLM
        #expect(tok is WordPieceTokenizer)
        let ids = tok.encode("Hello, WORLD! Don't", addSpecialTokens: true, parseSpecial: true)
        #expect(ids.first == 101 && ids.last == 102)
        // The decoder's clean-up works token by token, so it cannot rejoin "don ' t" (as in HF).
        #expect(tok.decode(ids, skipSpecialTokens: true) == "hello, world! don ' t")
        #expect(tok.encode("[MASK]", addSpecialTokens: false, parseSpecial: true) == [103])
        #expect(tok.encode("[MASK]", addSpecialTokens: false, parseSpecial: false) != [103])
        // Words past 100 characters are unknown as a whole.
        #expect(tok.encode(String(repeating: "a", count: 101), addSpecialTokens: false, parseSpecial: true) == [100])
    }

    /// One long run of a character (a single BPE word) must not be quadratic.
    @Test(.enabled(if: TokenizerFixtures.smolLM2Path != nil && TestPaths.stories260KIfPresent != nil))
    func longRunsAreFast() throws {
        for tok in [Self.smol, Self.stories].compactMap({ $0 }) {
            for (ch, count) in [("a", 1_000_000), (" ", 200_000), ("日", 200_000), ("\n", 200_000)] {
                let text = String(repeating: ch, count: count)
                let start = Date()
                let ids = tok.encode(text, addSpecialTokens: false, parseSpecial: true)
                let elapsed = Date().timeIntervalSince(start)
                // Generous: this runs unoptimized; release builds take well under a second.
                #expect(elapsed < 20, "\(type(of: tok)) \(ch.debugDescription): \(elapsed) s")
                #expect(tok.decode(ids, skipSpecialTokens: false).hasSuffix(String(repeating: ch, count: 10)))
            }
        }
    }

    @Test(.enabled(if: TokenizerFixtures.smolLM2Path != nil))
    func concurrentEncodesAgree() async throws {
        let tok = try #require(Self.smol)
        let texts = (0..<16).map { "Request \($0): the quick brown fox — 日本語 \($0 * 7919) <|im_end|>" }
        let expected = texts.map { tok.encode($0, addSpecialTokens: true, parseSpecial: true) }
        let results = await withTaskGroup(of: (Int, [Int]).self) { group in
            for _ in 0..<4 {
                for (i, t) in texts.enumerated() {
                    group.addTask { (i, tok.encode(t, addSpecialTokens: true, parseSpecial: true)) }
                }
            }
            var all: [(Int, [Int])] = []
            for await r in group { all.append(r) }
            return all
        }
        for (i, ids) in results { #expect(ids == expected[i]) }
    }

    @Test func splitRules() {
        func pieces(_ rule: SplitRule, _ text: String, digits: Bool = false) -> [String] {
            var run = ScalarRun()
            var out: [(Int32, Int32)] = []
            var t = text
            t.withUTF8 { run.load($0) }
            Splitter(rule: rule, isolateDigits: digits).split(run, into: &out)
            let u = Array(text.utf8)
            return out.map { String(decoding: u[Int(run.offsets[Int($0.0)])..<Int(run.offsets[Int($0.1)])], as: UTF8.self) }
        }
        #expect(pieces(.gpt2, "Hello world's   end\n") == ["Hello", " world", "'s", "  ", " end", "\n"])
        #expect(pieces(.gpt2, "x  12345 ?!") == ["x", " ", " 12345", " ?!"])
        #expect(pieces(.llama3, "I'M 12345 \r\n\n  x") == ["I", "'M", " ", "123", "45", " \r\n\n", " ", " x"])
        #expect(pieces(.llama3, "\t(a)") == ["\t", "(a", ")"])
        #expect(pieces(.qwen2, "v12") == ["v", "1", "2"])
        #expect(pieces(.gpt2, " 2024", digits: true) == [" ", "2", "0", "2", "4"])
    }

    @Test func sentencePieceMergesFollowScores() {
        let merges = sentencePieceMerges(tokens: ["a", "b", "c", "ab", "bc", "abc"], scores: [0, 0, 0, -1, -2, -3])
        #expect(merges.map { "\($0.0) \($0.1)" } == ["a b", "b c", "ab c", "a bc"])
    }

    @Test func unsupportedTokenizerJSONThrows() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-unigram-\(UUID()).json")
        try #"{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}"#.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: TokenizerError.self) { try loadTokenizer(tokenizerJSON: url, config: nil) }
    }

    /// `tokenizer_config.json` overrides the post-processor's BOS/EOS, as transformers does.
    @Test func tokenizerConfigDecidesBOSAndEOS() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-tokcfg-\(UUID()).json")
        try #"{"add_bos_token": false, "add_eos_token": true, "bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>"}}"#
            .write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let tok = try loadTokenizer(
            tokenizerJSON: TokenizerFixtures.directory.appendingPathComponent("llama3-style.tokenizer.json"), config: url)
        let eot = try #require(tok.tokenID("<|eot_id|>"))
        #expect(!tok.addsBOS && tok.bosTokenID == tok.tokenID("<|begin_of_text|>") && tok.eosTokenIDs == [eot])
        let ids = tok.encode("hi", addSpecialTokens: true, parseSpecial: true)
        #expect(ids.last == eot && ids.first != tok.bosTokenID)
    }
}
