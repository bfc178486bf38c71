import Foundation
import SwiftletFormats
import SwiftletTestSupport
import SwiftletTokenizers
@testable import SwiftletGrammar

/// A vocabulary of every single byte (ids 0...255), some multi-byte tokens that cross grammar
/// boundaries, and an end token; text is driven through it byte by byte or greedily.
enum TestVocabulary {
    static let multiByte: [String] = ["{\"", "\":", "\",", "\"}", "true", "false", "null", ", ", ": ", "\n  ", "ab", "abc", "é", "12", "-1", ".5", "e+", "[{", "}]", "\"a"]
    static let endToken = 256 + multiByte.count
    static let vocabulary: GrammarVocabulary = {
        var bytes: [[UInt8]?] = (0..<256).map { [UInt8($0)] }
        bytes += multiByte.map { Array($0.utf8) }
        bytes.append(nil)   // the end token
        bytes.append(nil)   // a control token that is never allowed
        return GrammarVocabulary(tokenBytes: bytes, endTokenIDs: [endToken])
    }()
    static let compiler = GrammarCompiler(vocabulary: vocabulary)

    /// Whether `text` is a complete match, fed one byte per token (then the end token).
    static func matches(_ spec: GrammarSpec, _ text: String) throws -> Bool {
        var m = GrammarMatcher(try compiler.compile(spec))
        for b in text.utf8 { if !m.accept(Int(b)) { return false } }
        return m.allows(endToken) && m.accept(endToken)
    }

    /// Whether `text` is a complete match when fed greedily with the longest tokens.
    static func matchesGreedy(_ spec: GrammarSpec, _ text: String) throws -> Bool {
        var m = GrammarMatcher(try compiler.compile(spec))
        var rest = Array(text.utf8)[...]
        while !rest.isEmpty {
            var best = Int(rest.first!)
            for (i, token) in multiByte.enumerated() where rest.starts(with: token.utf8) && token.utf8.count > 1 {
                if best < 256 || multiByte[best - 256].utf8.count < token.utf8.count { best = 256 + i }
            }
            guard m.accept(best) else { return false }
            rest = rest.dropFirst(best < 256 ? 1 : multiByte[best - 256].utf8.count)
        }
        return m.canEnd
    }

    static func error(_ spec: GrammarSpec) -> String? {
        do { _ = try compiler.compile(spec); return nil } catch let e as GrammarError { return e.message } catch { return "\(error)" }
    }
}

/// SmolLM2's vocabulary (or stories260K's when SmolLM2 is not installed), as the engine builds it.
enum RealVocabulary {
    static let loaded: (vocabulary: GrammarVocabulary, tokenizer: any Tokenizer)? = {
        guard let path = TestPaths.smolLM2IfInstalled ?? TestPaths.stories260KIfPresent,
            let gguf = try? GGUFFile(path: path), let tokenizer = try? loadTokenizer(gguf: gguf) else { return nil }
        let bytes: [[UInt8]?] = (0..<tokenizer.vocabularySize).map { id in
            tokenizer.isSpecial(id) ? nil : tokenizer.tokenBytes(id, isFirst: false)
        }
        return (GrammarVocabulary(tokenBytes: bytes, endTokenIDs: tokenizer.eosTokenIDs), tokenizer)
    }()
}
