import ArgumentParser
import Foundation
import SwiftletModels
import SwiftletFormats
import SwiftletTokenizers

/// `swiftlet bench tokenizer`: encode/decode speed on one thread, the Swift half of
/// Benchmarks/tokenizer_bench.py (which times Hugging Face `tokenizers` on the same text).
struct BenchTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Encode and decode speed of a tokenizer on one thread, over a text file.")

    @Option(help: "A GGUF model file, or a tokenizer.json (its tokenizer_config.json beside it is used). Default: the SmolLM2 cache copy.")
    var model: String?

    @Option(help: "UTF-8 text to encode (Benchmarks/tokenizer_bench.py writes a 10 MB mixed-language one).")
    var text: String

    @Option(help: "Timed runs of each measurement; the best is reported.")
    var runs: Int = 3

    func validate() throws {
        guard runs > 0 else { throw ValidationError("--runs must be positive") }
    }

    func run() throws {
        let path = model ?? DefaultModel.path
        let start = Date()
        let tokenizer: any Tokenizer
        if path.hasSuffix(".json") {
            let url = URL(fileURLWithPath: path)
            let config = url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
            tokenizer = try loadTokenizer(tokenizerJSON: url, config: config)
        } else {
            tokenizer = try loadTokenizer(gguf: GGUFFile(path: path))
        }
        let loadSeconds = Date().timeIntervalSince(start)
        let body = try String(contentsOfFile: text, encoding: .utf8)
        print(String(format: "tokenizer: %@ (%@, %d ids), loaded in %.3f s",
                     (path as NSString).lastPathComponent, String(describing: type(of: tokenizer)),
                     tokenizer.vocabularySize, loadSeconds))
        for result in benchmarkTokenizer(tokenizer, text: body, runs: runs) { print(result) }
    }
}

/// Timing of one tokenizer over one text (see `benchmarkTokenizer`).
struct TokenizerBenchmarkResult: Sendable, CustomStringConvertible {
    /// What was measured, e.g. "encode" or "decode".
    var name: String
    var bytes: Int
    var tokens: Int
    /// Best wall time over the runs, in seconds.
    var seconds: Double
    var runs: Int

    var megabytesPerSecond: Double { Double(bytes) / 1_000_000 / seconds }

    var description: String {
        String(format: "%@: %.2f MB, %d tokens, %.3f s (best of %d), %.2f MB/s",
               name, Double(bytes) / 1_000_000, tokens, seconds, runs, megabytesPerSecond)
    }
}

/// Times `encode` (one call on the whole text, one thread, special-token text parsed, no BOS)
/// and `decode` of the result, best of `runs`; plus encoding a run of one character
/// (`repeatedCharacterBytes`, 1 MB by default),
/// the input that makes a naive BPE quadratic.
///
/// The first encode is reported on its own ("encode, first call"): on a freshly loaded tokenizer
/// its word cache is empty. The later runs find it filled, as a long-running server would.
func benchmarkTokenizer(_ tokenizer: any Tokenizer, text: String, runs: Int = 3,
                               repeatedCharacterBytes: Int = 1_000_000) -> [TokenizerBenchmarkResult] {
    func time(_ body: () -> Int) -> (Double, Int) {
        var best = Double.infinity
        var count = 0
        for _ in 0..<max(1, runs) {
            let start = DispatchTime.now().uptimeNanoseconds
            count = body()
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = min(best, elapsed)
        }
        return (best, count)
    }
    let bytes = text.utf8.count
    let coldStart = DispatchTime.now().uptimeNanoseconds
    var ids: [Int] = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: true)
    let coldSeconds = Double(DispatchTime.now().uptimeNanoseconds - coldStart) / 1e9
    let (encodeSeconds, tokenCount) = time {
        ids = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: true)
        return ids.count
    }
    let (decodeSeconds, _) = time { tokenizer.decode(ids, skipSpecialTokens: false).utf8.count }
    let repeated = String(repeating: "a", count: repeatedCharacterBytes)
    let (repeatedSeconds, repeatedTokens) = time {
        tokenizer.encode(repeated, addSpecialTokens: false, parseSpecial: true).count
    }
    return [
        TokenizerBenchmarkResult(name: "encode, first call", bytes: bytes, tokens: ids.count, seconds: coldSeconds, runs: 1),
        TokenizerBenchmarkResult(name: "encode", bytes: bytes, tokens: tokenCount, seconds: encodeSeconds, runs: runs),
        TokenizerBenchmarkResult(name: "decode", bytes: bytes, tokens: ids.count, seconds: decodeSeconds, runs: runs),
        TokenizerBenchmarkResult(name: "encode \"a\" × \(repeatedCharacterBytes)", bytes: repeated.utf8.count, tokens: repeatedTokens,
                                 seconds: repeatedSeconds, runs: runs),
    ]
}
