import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// A sequence's logits, and an input's embedding, are bit-identical whether computed alone or in
/// a batch beside longer and shorter neighbours, at every kernel level this machine runs (vLLM's
/// CPU backend gives the opposite, vllm#27034). Each level is entered for the calling thread only
/// (`KernelLevel.with`), and models are loaded inside it because layers pick their kernels at load.
@Suite(.serialized) struct BatchInvarianceTests {
    /// Every family at both precisions: the fast path (integer kernels) and fp32 (oneDNN at
    /// AVX-512, the fixed-order fp32 kernel below it); SmolLM2 on the fast path, its default.
    static let models: [String] = ["stories260K", "smolLM2"] + FamilyFidelityTests.families + ["gpt2.gguf"]

    static func path(_ name: String) -> String {
        switch name {
        case "stories260K": return TestPaths.stories260K
        case "smolLM2": return TestPaths.smolLM2
        case "gpt2.gguf": return FamilyFidelityTests.gguf("gpt2")
        default: return FamilyFidelityTests.directory(name)
        }
    }

    /// Levels worth running per model: the scalar kernels take seconds per pass on SmolLM2, and
    /// they are covered by the tiny models.
    static func levels(_ name: String) -> [KernelLevel] {
        name == "smolLM2" ? KernelLevel.upToCurrent.filter { $0 != .scalar } : KernelLevel.upToCurrent
    }

    /// Deterministic token ids inside the vocabulary.
    static func tokens(_ count: Int, seed: Int, vocab: Int) -> [Int32] {
        (0..<count).map { Int32(($0 * 7919 + seed * 104_729) % (vocab - 1) + 1) }
    }

    /// A's logits after its prompt and after one decoded token, run alone and then in batches
    /// [B, A, C] (prefill) and [C, A, B] (decode), each in a cache of its own.
    static func logitsAloneAndBatched(_ loaded: LoadedModel) throws -> (alone: [[Float]], batched: [[Float]]) {
        let c = loaded.config, V = c.vocabSize, bs = 16
        func cache() throws -> PagedKVCache {
            try PagedKVCache(numBlocks: 16, blockSize: bs, numLayers: c.numLayers, numKVHeads: c.numKVHeads, headDim: c.headDim, dtype: .bf16)
        }
        let a = tokens(11, seed: 1, vocab: V), b = tokens(37, seed: 2, vocab: V), cc = tokens(4, seed: 3, vocab: V)
        let next: [Int32] = [5, 6, 7].map { Int32($0 % V) }
        let model = loaded.model

        let solo = try cache()
        let aTable: [Int32] = [0, 1]
        let soloPrefill = model.forward(tokens: a, metadata: .build(sequences: [(a.count, 0, aTable)], blockSize: bs), cache: solo)
        let soloDecode = model.forward(tokens: [next[1]], metadata: .build(sequences: [(1, a.count, aTable)], blockSize: bs), cache: solo)

        let shared = try cache()
        let bTable: [Int32] = [2, 3, 4], abTable: [Int32] = [5, 6], cTable: [Int32] = [7]
        let prefill = model.forward(tokens: b + a + cc,
                                    metadata: .build(sequences: [(b.count, 0, bTable), (a.count, 0, abTable), (cc.count, 0, cTable)], blockSize: bs),
                                    cache: shared)
        let decode = model.forward(tokens: [next[2], next[1], next[0]],
                                   metadata: .build(sequences: [(1, cc.count, cTable), (1, a.count, abTable), (1, b.count, bTable)], blockSize: bs),
                                   cache: shared)
        return ([soloPrefill, soloDecode], [Array(prefill[V..<(2 * V)]), Array(decode[V..<(2 * V)])])
    }

    @Test(arguments: models)
    func logitsAloneEqualLogitsInABatch(_ name: String) throws {
        for precision in name == "smolLM2" ? [ComputePrecision.fast] : [.fast, .fp32] {
            for level in Self.levels(name) {
                try KernelLevel.with(level) {
                    let loaded = try loadModel(path: Self.path(name), precision: precision)
                    let (alone, batched) = try Self.logitsAloneAndBatched(loaded)
                    #expect(alone[0].count == loaded.config.vocabSize && alone[0].contains { $0 != 0 })
                    #expect(alone[0] == batched[0], "\(name) \(precision) at \(level): prefill logits differ in a batch")
                    #expect(alone[1] == batched[1], "\(name) \(precision) at \(level): decode logits differ in a batch")
                }
            }
        }
    }

    /// The embedding model: "Hello" encoded alone and between two other inputs.
    @Test(.enabled(if: TestPaths.miniLM != nil, "all-MiniLM-L6-v2 not installed; run scripts/bootstrap.sh"))
    func embeddingAloneEqualsEmbeddingInABatch() throws {
        for level in KernelLevel.upToCurrent {
            try KernelLevel.with(level) {
                let loaded = try loadEmbeddingModel(path: TestPaths.miniLM!)
                let ids = { (text: String) in loaded.tokenizer.encode(text, addSpecialTokens: true, parseSpecial: false).map { Int32($0) } }
                let hello = ids("Hello"), before = ids("Bonjour, tout le monde, comment allez-vous ce matin ?"), after = ids("Hi")
                let D = loaded.config.hiddenSize
                let alone = loaded.model.encode(tokens: hello, sequenceLengths: [hello.count])
                let batch = loaded.model.encode(tokens: before + hello + after, sequenceLengths: [before.count, hello.count, after.count])
                let inBatch = Array(batch[(before.count * D)..<((before.count + hello.count) * D)])
                #expect(alone.count == hello.count * D)
                #expect(alone == inBatch, "all-MiniLM-L6-v2 at \(level): \"Hello\" differs in a batch")
            }
        }
    }
}
