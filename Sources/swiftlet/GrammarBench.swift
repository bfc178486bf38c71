import ArgumentParser
import Foundation
import SwiftletFormats
import SwiftletEngine
import SwiftletGrammar
import SwiftletModels
import SwiftletTokenizers

/// `swiftlet bench grammar`: compile time of a structured-output spec and token-mask times on a
/// model's vocabulary, for several streams sharing the grammar as concurrent requests do.
struct BenchGrammarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grammar",
        abstract: "Grammar compile time and token-mask time per step on a model's vocabulary.")

    @Option(help: "A GGUF model whose tokenizer gives the vocabulary. Default: the SmolLM2 cache copy.")
    var model: String?

    @Option(help: "A JSON Schema file (default: any JSON object).")
    var schema: String?

    @Option(help: "Documents to walk, one JSON text per line, spread over the streams in turn. Without it each stream takes random allowed tokens (seeded).")
    var documents: String?

    @Option(help: "Streams sharing the grammar.")
    var streams: Int = 32

    @Option(help: "Tokens per stream at most.")
    var maxTokens: Int = 256

    func validate() throws {
        guard streams > 0, maxTokens > 0 else { throw ValidationError("--streams and --max-tokens must be positive") }
    }

    func run() throws {
        let tokenizer = try loadTokenizer(gguf: GGUFFile(path: model ?? DefaultModel.path))
        let vocabulary = StructuredOutputCompiler.vocabulary(tokenizer: tokenizer, vocabSize: tokenizer.vocabularySize,
                                                             endTokenIDs: tokenizer.eosTokenIDs)
        let spec: GrammarSpec = try schema.map { .jsonSchema(try String(contentsOfFile: $0, encoding: .utf8)) } ?? .jsonObject
        let grammar = try GrammarCompiler(vocabulary: vocabulary).compile(spec)
        let texts = try documents.map { try String(contentsOfFile: $0, encoding: .utf8).split(separator: "\n").map(String.init) } ?? []
        let scripts: [[Int]?] = (0..<streams).map { s in
            texts.isEmpty ? nil : tokenizer.encode(texts[s % texts.count], addSpecialTokens: false, parseSpecial: false)
        }
        var matchers = [GrammarMatcher](repeating: GrammarMatcher(grammar), count: streams)
        var finished = [Bool](repeating: false, count: streams)
        var mask = [UInt32](repeating: 0, count: (vocabulary.count + 31) / 32)
        var times: [Double] = []
        var rng = SeededGenerator(seed: 42)
        for step in 0..<maxTokens {
            for s in 0..<streams where !finished[s] {
                let t0 = DispatchTime.now().uptimeNanoseconds
                mask.withUnsafeMutableBufferPointer { matchers[s].fillNextTokenMask($0) }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                let token: Int
                if let script = scripts[s] {
                    guard step < script.count else { finished[s] = true; continue }
                    token = script[step]
                } else {
                    let allowed = (0..<vocabulary.count).filter { (mask[$0 >> 5] >> UInt32($0 & 31)) & 1 == 1 }
                    guard !allowed.isEmpty else { finished[s] = true; continue }
                    token = allowed[Int(rng.next() % UInt64(allowed.count))]
                }
                guard matchers[s].accept(token) else {
                    throw ValidationError("stream \(s): token \(token) at step \(step) is not allowed (is the document valid under the schema?)")
                }
                if matchers[s].isComplete || vocabulary.endTokenIDs.contains(token) { finished[s] = true }
            }
        }
        let sorted = times.sorted()
        let mean = times.reduce(0, +) / Double(max(times.count, 1))
        print(String(format: "vocabulary %d tokens; compile %.2f ms; %d masks over %d streams: mean %.4f ms, p50 %.4f ms, p99 %.4f ms, max %.2f ms",
                     vocabulary.count, grammar.compileSeconds * 1000, times.count, streams, mean,
                     sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)], sorted.last ?? 0))
    }
}
