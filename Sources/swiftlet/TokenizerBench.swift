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
