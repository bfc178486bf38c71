import Foundation
import Testing
import SwiftletTestSupport
import SwiftletModels
@testable import SwiftletEngine

/// The sentences and reference embeddings of Tests/Fixtures/embeddings (see
/// scripts/make_embedding_fixtures.py), as (text, token ids, embedding).
enum EmbeddingReference {
    static func cases() throws -> [(text: String, ids: [Int], embedding: [Float])] {
        struct Case: Decodable { let text: String; let token_ids: [Int]; let embedding_f16: String }
        struct File: Decodable { let cases: [Case] }
        let url = TestPaths.repoRoot.appendingPathComponent("Tests/Fixtures/embeddings/all-MiniLM-L6-v2.json")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases.map { c in
            let halves = Data(base64Encoded: c.embedding_f16)!.withUnsafeBytes { raw in
                (0..<(raw.count / 2)).map { raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self) }
            }
            return (c.text, c.token_ids, halves.map { Float(Float16(bitPattern: $0)) })
        }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }, nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }
        return dot / (na * nb).squareRoot()
    }
}

@Suite(.serialized, .enabled(if: TestPaths.miniLM != nil, "all-MiniLM-L6-v2 not installed; run scripts/bootstrap.sh"))
struct EmbeddingEngineTests {
    static let model = Result { try loadEmbeddingModel(path: TestPaths.miniLM!) }

    /// A token budget of 300 splits the 57 fixture sentences (about 2,700 tokens) into many flat
    /// batches; every embedding must still match sentence-transformers'.
    @Test func batchesUnderTheTokenBudgetAndMatchesTheReference() throws {
        let engine = EmbeddingEngine(model: try Self.model.get(), maxBatchTokens: 300)
        let cases = try EmbeddingReference.cases()
        let results = try engine.embed(cases.map { .text($0.text) })
        let stats = engine.statistics
        let total = cases.reduce(0) { $0 + $1.ids.count }
        #expect(stats.inputs == cases.count && stats.tokens == total)
        #expect(stats.batches >= total / 300 && stats.batches < cases.count, "\(stats)")
        #expect(stats.largestBatchTokens <= 300)
        for (i, (c, r)) in zip(cases, results).enumerated() {
            #expect(r.promptTokens == c.ids.count)
            #expect(EmbeddingReference.cosine(r.embedding, c.embedding) > 0.9999, "case \(i)")
        }
    }

    @Test func tokenIDInputsEqualTextInputs() throws {
        let engine = EmbeddingEngine(model: try Self.model.get())
        let cases = Array(try EmbeddingReference.cases().prefix(6))
        let fromText = try engine.embed(cases.map { .text($0.text) })
        let fromIDs = try engine.embed(cases.map { .tokens($0.ids) })
        #expect(fromText == fromIDs)
        #expect(engine.statistics.batches == 2)
    }

    @Test func badInputsAreRefusedBeforeAnythingRuns() throws {
        let engine = EmbeddingEngine(model: try Self.model.get())
        #expect(throws: EmbeddingError.noInputs) { try engine.embed([]) }
        #expect(throws: EmbeddingError.emptyInput(index: 1)) { try engine.embed([.text("ok"), .tokens([])]) }
        #expect(throws: EmbeddingError.invalidToken(index: 0, token: 30522, vocabularySize: 30522)) {
            try engine.embed([.tokens([101, 30522, 102])])
        }
        #expect(throws: EmbeddingError.tooLong(index: 0, tokens: 257, maximum: 256)) {
            try engine.embed([.tokens([Int](repeating: 1000, count: 257))])
        }
        #expect(engine.statistics.batches == 0)
        // Text is truncated like sentence-transformers, never refused.
        let long = String(repeating: "word ", count: 600)
        #expect(try engine.embed([.text(long)])[0].promptTokens == 256)
    }

    /// Callers on several threads at once each get their own inputs' embeddings back, whichever
    /// caller's turn ran them.
    @Test func concurrentCallersGetTheirOwnResults() async throws {
        let engine = EmbeddingEngine(model: try Self.model.get(), maxBatchTokens: 512)
        let cases = try EmbeddingReference.cases()
        let groups = stride(from: 0, to: cases.count, by: 7).map { Array(cases[$0..<min($0 + 7, cases.count)]) }
        let results = try await withThrowingTaskGroup(of: (Int, [EmbeddingResult]).self) { group in
            for (g, members) in groups.enumerated() {
                group.addTask { (g, try await engine.embed(members.map { .text($0.text) })) }
            }
            var out: [Int: [EmbeddingResult]] = [:]
            for try await (g, r) in group { out[g] = r }
            return out
        }
        for (g, members) in groups.enumerated() {
            for (c, r) in zip(members, results[g]!) {
                #expect(EmbeddingReference.cosine(r.embedding, c.embedding) > 0.9999)
            }
        }
        let stats = engine.statistics
        #expect(stats.inputs == cases.count)
        print("embedding engine: \(groups.count) concurrent requests ran in \(stats.batches) batches, \(stats.coalescedRequests) requests shared a batch")
    }
}
