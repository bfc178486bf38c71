import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletFormats
@testable import SwiftletTokenizers

/// Parity with Hugging Face on the fixtures written by scripts/make_tokenizer_fixtures.py.
enum TokenizerFixtures {
    static let directory = TestPaths.fixtures.appendingPathComponent("tokenizers")

    static var smolLM2Path: String? {
        // SWIFTLET_MODEL_PATH may name another model; only SmolLM2's vocabulary matches the fixture.
        for path in [TestPaths.smolLM2, TestPaths.installedSmolLM2] where FileManager.default.fileExists(atPath: path) {
            if let f = try? GGUFFile(path: path), f.metadata["tokenizer.ggml.pre"]?.string == "smollm",
               f.metadata["tokenizer.ggml.tokens"]?.array?.count == 49152 {
                return path
            }
        }
        return nil
    }

    struct Case: Decodable {
        var text: String
        var ids: [Int]
        var idsPlain: [Int]
        var decoded: String
        var decodedSkip: String

        enum CodingKeys: String, CodingKey {
            case text, ids, decoded
            case idsPlain = "ids_plain"
            case decodedSkip = "decoded_skip"
        }
    }

    private struct File: Decodable { var cases: [Case] }

    /// Decoded with `JSONDecoder`: `JSONSerialization` drops U+FEFF inside strings on Linux.
    static func cases(_ name: String) throws -> [Case] {
        let data = try Data(contentsOf: directory.appendingPathComponent("\(name).json"))
        return try JSONDecoder().decode(File.self, from: data).cases
    }

    /// Checks every case; returns how many matched in full, and records the first few failures.
    @discardableResult
    static func check(_ tok: any Tokenizer, _ name: String) throws -> Int {
        let all = try cases(name)
        var ok = 0
        var reported = 0
        for c in all {
            let ids = tok.encode(c.text, addSpecialTokens: true, parseSpecial: true)
            let plain = tok.encode(c.text, addSpecialTokens: false, parseSpecial: false)
            let decoded = tok.decode(c.ids, skipSpecialTokens: false)
            let skip = tok.decode(c.ids, skipSpecialTokens: true)
            if ids == c.ids && plain == c.idsPlain && decoded == c.decoded && skip == c.decodedSkip {
                ok += 1
            } else if reported < 8 {
                reported += 1
                Issue.record("""
                    \(name): \(c.text.debugDescription)
                      ids      \(ids == c.ids ? "ok" : "\(ids) != \(c.ids)")
                      plain    \(plain == c.idsPlain ? "ok" : "\(plain) != \(c.idsPlain)")
                      decoded  \(decoded == c.decoded ? "ok" : "\(decoded.debugDescription) != \(c.decoded.debugDescription)")
                      skip     \(skip == c.decodedSkip ? "ok" : "\(skip.debugDescription) != \(c.decodedSkip.debugDescription)")
                    """)
            }
        }
        #expect(all.count >= 300)
        #expect(ok == all.count, "\(name): \(ok)/\(all.count) cases match")
        return ok
    }
}

@Suite struct TokenizerParityTests {
    @Test(.enabled(if: TokenizerFixtures.smolLM2Path != nil, "SmolLM2 GGUF not found"))
    func smolLM2GGUF() throws {
        let tok = try loadTokenizer(gguf: GGUFFile(path: TokenizerFixtures.smolLM2Path!))
        #expect(tok is BPETokenizer)
        try TokenizerFixtures.check(tok, "smollm2-gguf")
    }

    @Test(.enabled(if: TestPaths.stories260KIfPresent != nil, "stories260K.gguf not found"))
    func stories260KGGUF() throws {
        let tok = try loadTokenizer(gguf: GGUFFile(path: TestPaths.stories260KIfPresent!))
        #expect(tok is SentencePieceBPETokenizer)
        try TokenizerFixtures.check(tok, "stories260k-gguf")
    }

    /// 262,144 pieces with no merges stored (rebuilt in vocabulary order), runs of spaces
    /// respelled as `▁`, no dummy prefix, byte fallback, BOS added.
    @Test(.enabled(if: TestPaths.gemma3IfInstalled != nil, "gemma-3-270m-q4_k_m.gguf not found; run scripts/bootstrap.sh --with-gemma3"))
    func gemma3GGUF() throws {
        let tok = try loadTokenizer(gguf: GGUFFile(path: TestPaths.gemma3IfInstalled!))
        #expect(tok is SentencePieceBPETokenizer)
        #expect(tok.bosTokenID == 2)
        try TokenizerFixtures.check(tok, "gemma3-gguf")
    }

    @Test func miniLMTokenizerJSON() throws {
        let dir = TokenizerFixtures.directory.appendingPathComponent("minilm")
        let tok = try loadTokenizer(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"),
                                    config: dir.appendingPathComponent("tokenizer_config.json"))
        #expect(tok is WordPieceTokenizer)
        try TokenizerFixtures.check(tok, "minilm")
    }

    @Test(arguments: ["gpt2-style", "llama3-style", "qwen2-style"])
    func byteLevelTokenizerJSON(_ name: String) throws {
        let tok = try loadTokenizer(
            tokenizerJSON: TokenizerFixtures.directory.appendingPathComponent("\(name).tokenizer.json"), config: nil)
        #expect(tok is BPETokenizer)
        try TokenizerFixtures.check(tok, name)
    }

    @Test(arguments: ["spm-first", "spm-legacy", "spm-split"])
    func sentencePieceTokenizerJSON(_ name: String) throws {
        let tok = try loadTokenizer(
            tokenizerJSON: TokenizerFixtures.directory.appendingPathComponent("\(name).tokenizer.json"), config: nil)
        #expect(tok is SentencePieceBPETokenizer)
        try TokenizerFixtures.check(tok, name)
    }
}
