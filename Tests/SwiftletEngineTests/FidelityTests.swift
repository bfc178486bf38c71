import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// Compares generation with Hugging Face transformers' greedy tokens and top-5 logprobs.
@Suite(.serialized) struct FidelityTests {
    struct Report: CustomStringConvertible {
        var positions = 0, top1Agree = 0, maxLogprobError = 0.0, flips = 0
        var description: String {
            String(format: "top-1 agreement %d/%d (%.1f%%), max top-5 logprob error %.2e, accepted flips %d",
                   top1Agree, positions, 100 * Double(top1Agree) / Double(max(positions, 1)), maxLogprobError, flips)
        }
    }

    /// Free-running greedy generation: tokens must match until a position whose reference top-2
    /// margin is under 0.05 (where rounding may legitimately flip the choice); logprobs of the
    /// reference's top 5 must agree to `tolerance` up to there.
    static func freeRunning(modelPath: String, fixture: String, tolerance: Double) throws -> Report {
        let loaded = try loadModel(path: modelPath, precision: .fp32)
        let c = loaded.config
        let cases = try ReferenceFixture.load(fixture).cases
        // Room for every case at once: all run as one batch.
        let blocks = cases.reduce(0) { $0 + ($1.prompt_ids.count + $1.greedy_ids.count + 15) / 16 }
        let cache = try PagedKVCache(numBlocks: blocks, blockSize: 16, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                     headDim: c.headDim, dtype: .fp32)
        var report = Report()
        let runs = try engineGreedy(model: loaded.model, cache: cache, prompts: cases.map { ($0.prompt_ids, $0.greedy_ids.count) },
                                    topK: 8, prefillChunk: 96)
        for (n, (k, steps)) in zip(cases, runs).enumerated() {
            #expect(loaded.tokenizer.encode(k.prompt, addSpecialTokens: true, parseSpecial: true) == k.prompt_ids, "case \(n): prompt ids differ")
            #expect(steps.count == k.greedy_ids.count, "case \(n): \(steps.count) tokens")
            for (i, step) in steps.enumerated() {
                let ref = k.top5[i]
                let mine = Dictionary(step.topLogprobs.map { ($0.token, Double($0.logprob)) }, uniquingKeysWith: { a, _ in a })
                for pair in ref {
                    if let lp = mine[Int(pair[0])] { report.maxLogprobError = max(report.maxLogprobError, abs(lp - pair[1])) }
                    else if pair[1] > ref[0][1] - 3 { report.maxLogprobError = .infinity } // a close candidate missing
                }
                report.positions += 1
                if step.token == k.greedy_ids[i] { report.top1Agree += 1; continue }
                let margin = ref[0][1] - ref[1][1]
                #expect(margin < 0.05, "case \(n) position \(i): token \(step.token) vs reference \(k.greedy_ids[i]) with margin \(margin)")
                report.flips += 1
                break
            }
        }
        #expect(report.maxLogprobError < tolerance, "\(report)")
        return report
    }

    /// Teacher-forced: the prompt in one pass (the many-token path), then the reference tokens one
    /// at a time (the decode path); at every position the argmax is compared with the reference token.
    static func teacherForced(modelPath: String, fixture: String, precision: ComputePrecision,
                              kv: KVCacheDType = .bf16) throws -> Report {
        try teacherForced(loaded: loadModel(path: modelPath, precision: precision), cases: ReferenceFixture.load(fixture).cases, kv: kv)
    }

    /// The teacher-forced comparison for a loaded model. The cases run side by side, each in blocks
    /// of its own: their prompts in one pass, then one decode pass a position for all of them. A
    /// sequence's logits do not depend on its batch, so each case sees what it would alone, and a
    /// pass reads the weights once for every case.
    static func teacherForced(loaded: LoadedModel, cases: [ReferenceFixture.Case], kv: KVCacheDType = .bf16) throws -> Report {
        let c = loaded.config, vocab = c.vocabSize
        var tables: [[Int32]] = []
        var next: Int32 = 0
        for k in cases {
            let n = Int32((k.prompt_ids.count + k.greedy_ids.count + 15) / 16)
            tables.append(Array(next..<(next + n)))
            next += n
        }
        let cache = try PagedKVCache(numBlocks: Int(max(next, 1)), blockSize: 16, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                     headDim: c.headDim, dtype: kv)
        var report = Report()
        let prompts = AttentionMetadata.build(sequences: cases.indices.map { (cases[$0].prompt_ids.count, 0, tables[$0]) }, blockSize: 16)
        var logits = loaded.model.forward(tokens: cases.flatMap { $0.prompt_ids.map { Int32($0) } }, metadata: prompts, cache: cache)
        var live = Array(cases.indices)  // the cases whose logits rows `logits` holds, in order
        for i in 0... {
            for (row, n) in live.enumerated() {
                let k = cases[n]
                let step = GreedyStep.pick(logits: Array(logits[(row * vocab)..<((row + 1) * vocab)]), topK: 5)
                report.positions += 1
                if step.token == k.greedy_ids[i] { report.top1Agree += 1 }
                let mine = Dictionary(step.topLogprobs.map { ($0.token, Double($0.logprob)) }, uniquingKeysWith: { a, _ in a })
                if let lp = mine[Int(k.top5[i][0][0])] { report.maxLogprobError = max(report.maxLogprobError, abs(lp - k.top5[i][0][1])) }
            }
            live = live.filter { i + 1 < cases[$0].greedy_ids.count }
            if live.isEmpty { break }
            let meta = AttentionMetadata.build(sequences: live.map { (1, cases[$0].prompt_ids.count + i, tables[$0]) }, blockSize: 16)
            logits = loaded.model.forward(tokens: live.map { Int32(cases[$0].greedy_ids[i]) }, metadata: meta, cache: cache)
        }
        return report
    }

    @Test func stories260KFp32MatchesTransformers() throws {
        let r = try Self.freeRunning(modelPath: TestPaths.stories260K, fixture: "stories260k.json", tolerance: 1e-3)
        print("stories260K fp32: \(r)")
    }

    @Test func smolLM2Fp32MatchesTransformers() throws {
        let r = try Self.freeRunning(modelPath: TestPaths.smolLM2, fixture: "smollm2-135m-q4_1.json", tolerance: 1e-3)
        print("SmolLM2 fp32: \(r)")
    }

    @Test func smolLM2FastPathAgreesOnTop1() throws {
        let r = try Self.teacherForced(modelPath: TestPaths.smolLM2, fixture: "smollm2-135m-q4_1.json", precision: .fast)
        print("SmolLM2 fast path (teacher-forced): \(r)")
        #expect(Double(r.top1Agree) >= 0.9 * Double(r.positions), "\(r)")
    }

    /// The int8 KV cache (one scale per token and head) on top of the fast matmuls.
    @Test func smolLM2Int8KVCacheAgreesOnTop1() throws {
        let r = try Self.teacherForced(modelPath: TestPaths.smolLM2, fixture: "smollm2-135m-q4_1.json", precision: .fast, kv: .int8)
        print("SmolLM2 fast path, int8 KV cache (teacher-forced): \(r)")
        #expect(Double(r.top1Agree) >= 0.9 * Double(r.positions), "\(r)")
    }

    @Test func stories260KFastPathAgreesOnTop1() throws {
        let r = try Self.teacherForced(modelPath: TestPaths.stories260K, fixture: "stories260k.json", precision: .fast)
        print("stories260K fast path (teacher-forced): \(r)")
        #expect(Double(r.top1Agree) >= 0.9 * Double(r.positions), "\(r)")
    }
}
