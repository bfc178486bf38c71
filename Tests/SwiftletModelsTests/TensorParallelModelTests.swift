import Foundation
import Testing
import SwiftletFormats
import SwiftletKernels
@testable import SwiftletModels
import SwiftletTestSupport

/// Tensor-parallel shards, run in one process over `ThreadCollectiveGroup`, give the unsharded
/// model's logits on rank 0. fp32 throughout: the only differences left are the order in which
/// the row-parallel projections' partial sums are added, far below 1e-4 at these logit scales.
@Suite(.serialized) struct TensorParallelModelTests {
    static let families = ["llama3", "llama3-tied", "qwen2", "qwen2-swa", "qwen3", "mistral", "phi3", "gemma3"]
    static let ggufFamilies = ["llama3", "llama3-tied", "phi3", "qwen3"]

    static func family(_ name: String) -> String { TestPaths.fixtures.appendingPathComponent("families/\(name)").path }

    /// `argmax`: whether every row's greedy token must agree.
    static func check(_ r: TensorParallelComparison, _ name: String, tolerance: Float = 1e-4, argmax: Bool = true) {
        print("tensor parallel \(name): \(r.summary)")
        #expect(r.failures.isEmpty, "\(name): \(r.failures)")
        #expect(r.sizeMismatches == 0, "\(name)")
        #expect(r.rows > 0)
        #expect(r.maxDifference <= tolerance, "\(name): \(r.summary)")
        #expect(!argmax || r.argmaxMismatches == 0, "\(name): \(r.summary)")
        #expect(r.collectiveCalls.allSatisfy { $0 == r.expectedCollectiveCalls }, "\(name): \(r.collectiveCalls) collectives")
        // Every shard holds less than the whole model.
        #expect(r.residentBytes.allSatisfy { $0 < r.unshardedResidentBytes }, "\(name): \(r.summary)")
    }

    @Test(arguments: families) func huggingFaceDirectoryAtTwoRanks(family: String) throws {
        let r = try TensorParallelComparison(path: Self.family(family), ranks: 2)
        Self.check(r, family)
        #expect(r.cacheKVHeads == [1, 1])
    }

    @Test(arguments: ggufFamilies) func ggufAtTwoRanks(family: String) throws {
        let r = try TensorParallelComparison(path: Self.family(family + ".f32.gguf"), ranks: 2)
        Self.check(r, family + ".f32.gguf")
    }

    @Test func stories260KAtTwoRanks() throws {
        let r = try TensorParallelComparison(path: TestPaths.stories260K, ranks: 2)
        Self.check(r, "stories260K")
        #expect(r.cacheKVHeads == [2, 2])
    }

    /// A real model's logits reach tens and its residual stream carries a few very large
    /// activations that its many layers amplify, so fp32 rounding alone moves its logits by about
    /// 1e-3 (SmolLM2 at 3 ranks: 1.2e-3 with the AVX-512 kernels, 3.3e-3 with the AVX2 ones, whose
    /// sums round in another order): the bound is 2e-4 of the largest logit. That this is rounding
    /// is measured: the same shards with only the all-reduce's terms added in the other order
    /// already move the logits by a part of the sharded-unsharded difference (sharding re-rounds
    /// every o_proj and down_proj dot product as partial sums, a larger change: 4x that noise at
    /// AVX-512, 31x at AVX2), while a wrong slice moves logits by whole units, thousands of times it.
    /// (Two terms add to the same float in either order, so this takes three ranks or more.)
    static func checkRealModel(_ path: String, ranks: Int, _ name: String) throws -> TensorParallelComparison {
        let r = try TensorParallelComparison(path: path, ranks: ranks, decodeSteps: 3)
        if ranks >= 3 {
            let reordered = try TensorParallelComparison(path: path, ranks: ranks, decodeSteps: 3, descendingSums: true)
            let noise = TensorParallelComparison.maxDifference(r.shardedLogits, reordered.shardedLogits)
            print("tensor parallel \(name): logits moved by \(noise) when only the all-reduce order changes")
            #expect(noise > 0 && r.maxDifference <= 100 * noise, "\(name): rounding noise \(noise), sharded difference \(r.maxDifference)")
        }
        check(r, name, tolerance: 2e-4 * r.maxLogit)
        return r
    }

    /// SmolLM2: 9 query heads and 3 KV heads over 3 ranks, Q4_1 weights (dequantized for fp32)
    /// whose o_proj and down_proj are cut on block boundaries; tied head over a Q8_0 embedding.
    @Test(.enabled(if: TestPaths.smolLM2IfInstalled != nil)) func smolLM2AtThreeRanks() throws {
        let r = try Self.checkRealModel(TestPaths.smolLM2, ranks: 3, "SmolLM2 Q4_1")
        #expect(r.cacheKVHeads == [1, 1, 1])
    }

    /// The default precision: integer dot products over the packed Q4_1 blocks, activations
    /// quantized to int8 per 32 values. The column splits fall on those blocks, yet the logits
    /// cannot match closely: any rounding change flips some activations' int8 rounding, a step of
    /// 1/127 of a block's largest value, and 30 layers amplify the flips. Measured here, adding
    /// only the all-reduce's terms in the other order moves the logits by about 1.0 (of 35), as
    /// much as sharding does, and moves a few argmaxes of near-tied prompt rows too. So this checks
    /// that sharding moves them no more than that rounding noise does, and that the step
    /// structure holds; a wrong slice would move them by the logits' own scale.
    @Test(.enabled(if: TestPaths.smolLM2IfInstalled != nil)) func smolLM2FastPrecisionAtThreeRanks() throws {
        let r = try TensorParallelComparison(path: TestPaths.smolLM2, ranks: 3, decodeSteps: 3, precision: .fast)
        let reordered = try TensorParallelComparison(path: TestPaths.smolLM2, ranks: 3, decodeSteps: 3, descendingSums: true,
                                                     precision: .fast)
        let noise = TensorParallelComparison.maxDifference(r.shardedLogits, reordered.shardedLogits)
        print("tensor parallel SmolLM2 (fast precision): logits moved by \(noise) when only the all-reduce order changes")
        #expect(noise > 0 && r.maxDifference <= 3 * noise, "rounding noise \(noise), sharded difference \(r.maxDifference)")
        Self.check(r, "SmolLM2 Q4_1 (fast precision)", tolerance: 3 * noise, argmax: false)
    }

    /// Gemma 3 270M (GGUF): its one KV head replicated on both ranks, Q4_K and Q6_K o_proj and
    /// down_proj cut on 256-value blocks.
    @Test(.enabled(if: TestPaths.gemma3IfInstalled != nil)) func gemma3AtTwoRanks() throws {
        let r = try Self.checkRealModel(TestPaths.gemma3, ranks: 2, "Gemma 3 270M Q4_K_M")
        #expect(r.cacheKVHeads == [1, 1])
    }

    /// More ranks than KV heads: each of llama3's 2 KV heads is replicated on 2 of the 4 ranks.
    @Test(arguments: ["llama3", "gemma3"]) func replicatedKVHeadsAtFourRanks(family: String) throws {
        let r = try TensorParallelComparison(path: Self.family(family), ranks: 4)
        Self.check(r, family + " at 4 ranks")
        #expect(r.cacheKVHeads == [1, 1, 1, 1])
    }

    /// stories260K has 8 heads: 3 ranks cannot share them.
    @Test func headsThatDoNotDivideAreRefused() throws {
        let group = ThreadCollectiveGroup.makeGroup(size: 3)
        let error = #expect(throws: ModelLoadError.self) {
            _ = try loadModel(path: TestPaths.stories260K, precision: .fp32, shard: TensorShard(group: group[0], pool: ThreadPool(threads: 1)))
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("8 attention heads") && text.contains("3 ranks"), "\(text)")
    }

    @Test(arguments: ["gpt2", "gpt2.f32.gguf", "opt-pre"]) func architecturesWithoutTensorParallelismAreRefused(fixture: String) throws {
        let group = ThreadCollectiveGroup.makeGroup(size: 2)
        let error = #expect(throws: ModelLoadError.self) {
            _ = try loadModel(path: Self.family(fixture), precision: .fp32, shard: TensorShard(group: group[0], pool: ThreadPool(threads: 1)))
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("tensor parallelism is not supported for the"), "\(text)")
    }

    static func config(heads: Int, kvHeads: Int, intermediate: Int = 96, vocab: Int = 1001) -> ModelConfig {
        ModelConfig(architecture: "llama", vocabSize: vocab, hiddenSize: 8 * heads, intermediateSize: intermediate, numLayers: 1,
                    numHeads: heads, numKVHeads: kvHeads, headDim: 8)
    }

    static func layout(_ c: ModelConfig, rank: Int, ranks: Int) throws -> ShardLayout {
        let group = ThreadCollectiveGroup.makeGroup(size: ranks)
        return try ShardLayout(config: c, shard: TensorShard(group: group[rank], pool: ThreadPool(threads: 1)), path: "test")
    }

    @Test func layoutSplitsHeadsAndReplicatesKVHeadsAsVLLMDoes() throws {
        // 8 ranks, 2 KV heads: ranks 0-3 hold KV head 0, ranks 4-7 KV head 1; one query head each.
        let replicated = try (0..<8).map { try Self.layout(Self.config(heads: 8, kvHeads: 2), rank: $0, ranks: 8) }
        #expect(replicated.map(\.firstKVHead) == [0, 0, 0, 0, 1, 1, 1, 1])
        #expect(replicated.map(\.kvHeads) == Array(repeating: 1, count: 8))
        #expect(replicated.map(\.firstHead) == Array(0..<8))
        // 4 ranks, 8 KV heads: two each.
        let even = try (0..<4).map { try Self.layout(Self.config(heads: 16, kvHeads: 8), rank: $0, ranks: 4) }
        #expect(even.map(\.firstKVHead) == [0, 2, 4, 6] && even.allSatisfy { $0.kvHeads == 2 && $0.heads == 4 })
        #expect(even.map(\.intermediateColumns) == [0..<24, 24..<48, 48..<72, 72..<96])
        // An uneven vocabulary: the slices cover it end to end.
        let slices = even.map(\.vocabulary)
        #expect(slices.first?.lowerBound == 0 && slices.last?.upperBound == 1001)
        #expect(zip(slices, slices.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
    }

    @Test func layoutRefusesSplitsThatDoNotDivide() throws {
        func reason(_ c: ModelConfig, ranks: Int) -> String? {
            do {
                _ = try Self.layout(c, rank: 0, ranks: ranks)
                return nil
            } catch let ModelLoadError.unsupported(_, reason) {
                return reason
            } catch {
                return "\(error)"
            }
        }
        // 4 KV heads over 6 ranks: neither divides the other.
        #expect(reason(Self.config(heads: 12, kvHeads: 4), ranks: 6)?.contains("4 KV heads") == true)
        #expect(reason(Self.config(heads: 4, kvHeads: 4, intermediate: 90), ranks: 4)?.contains("intermediate size 90") == true)
        #expect(reason(Self.config(heads: 6, kvHeads: 2), ranks: 4)?.contains("6 attention heads") == true)
    }

    /// Row-parallel weights are cut by columns; quantized rows only on block boundaries.
    @Test func columnSlicesKeepWholeQuantizationBlocks() throws {
        // Two rows of 64 Q8_0 values: 2 blocks of 34 bytes (fp16 scale, 32 int8) per row.
        var bytes = [UInt8](repeating: 0, count: 2 * 2 * 34)
        for i in bytes.indices { bytes[i] = UInt8(i % 251) }
        try bytes.withUnsafeBytes { raw in
            let s = WeightSource(type: .q8_0, data: raw.baseAddress!, rows: 2, columns: 64)
            let second = try ColumnSlice(s, columns: 32..<64, name: "w", path: "test")
            let copied = UnsafeRawBufferPointer(start: second.source.data, count: 2 * 34)
            #expect(Array(copied) == Array(bytes[34..<68]) + Array(bytes[102..<136]))
            #expect(throws: ModelLoadError.self) { _ = try ColumnSlice(s, columns: 16..<48, name: "w", path: "test") }
        }
    }
}
