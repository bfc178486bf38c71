import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
@testable import SwiftletModels
import SwiftletFormats

/// sentence-transformers' embeddings of all-MiniLM-L6-v2, recorded by
/// scripts/make_embedding_fixtures.py.
struct EmbeddingFixture: Decodable {
    struct Case: Decodable {
        let text: String
        let token_ids: [Int]
        let embedding_f16: String

        /// The stored half floats, widened.
        var embedding: [Float] {
            let data = Data(base64Encoded: embedding_f16)!
            return data.withUnsafeBytes { raw in
                (0..<(raw.count / 2)).map { halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
            }
        }
    }
    let model: String
    let max_seq_length: Int
    let dimensions: Int
    let cases: [Case]

    static func load() throws -> EmbeddingFixture {
        let url = TestPaths.fixtures.appendingPathComponent("embeddings/all-MiniLM-L6-v2.json")
        return try JSONDecoder().decode(EmbeddingFixture.self, from: Data(contentsOf: url))
    }
}

/// IEEE 754 binary16 to Float, without relying on the platform's Float16.
func halfToFloat(_ h: UInt16) -> Float {
    let sign: Float = h & 0x8000 != 0 ? -1 : 1
    let exponent = Int((h >> 10) & 0x1f), fraction = Float(h & 0x3ff)
    switch exponent {
    case 0: return sign * fraction * Float(sign: .plus, exponent: -24, significand: 1)
    case 31: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
    }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        na += Double(x) * Double(x)
        nb += Double(y) * Double(y)
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}


@Suite(.serialized, .enabled(if: TestPaths.miniLM != nil, "all-MiniLM-L6-v2 not installed; run scripts/bootstrap.sh"))
struct EmbeddingFidelityTests {
    static let model = Result { try loadEmbeddingModel(path: TestPaths.miniLM!) }

    @Test func configurationIsReadFromTheDirectory() throws {
        let m = try Self.model.get()
        let fixture = try EmbeddingFixture.load()
        #expect(m.pooling == EmbeddingPooling(modes: [.mean], normalize: true))
        #expect(m.maxSequenceLength == fixture.max_seq_length)
        #expect(m.dimensions == fixture.dimensions)
        #expect(m.prefixIDs == [101] && m.suffixIDs == [102])
    }

    @Test func tokenizationWithTruncationMatches() throws {
        let m = try Self.model.get()
        for (i, k) in try EmbeddingFixture.load().cases.enumerated() {
            #expect(m.tokenize(k.text) == k.token_ids, "case \(i) \(k.text.prefix(40).debugDescription)")
        }
    }

    /// Every fixture sentence in one flat batch: each embedding must point where
    /// sentence-transformers' does (cosine > 0.9999) and have unit length.
    @Test func embeddingsMatchSentenceTransformers() throws {
        let m = try Self.model.get()
        let fixture = try EmbeddingFixture.load()
        #expect(fixture.cases.count >= 50)
        let mine = m.embed(fixture.cases.map(\.token_ids))
        var worst = 1.0
        for (i, k) in fixture.cases.enumerated() {
            let c = cosine(mine[i], k.embedding)
            worst = min(worst, c)
            #expect(c > 0.9999, "case \(i) \(k.text.prefix(40).debugDescription): cosine \(c)")
            let norm = mine[i].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
        }
        print("all-MiniLM-L6-v2: \(fixture.cases.count) sentences, lowest cosine to sentence-transformers \(String(format: "%.7f", worst))")
    }

    /// Inputs do not see each other: an embedding is the same alone as inside a batch.
    @Test func batchingDoesNotChangeEmbeddings() throws {
        let m = try Self.model.get()
        let cases = try EmbeddingFixture.load().cases
        let picked = [cases[2], cases[cases.count - 3], cases[0], cases[30]].map(\.token_ids)
        let together = m.embed(picked)
        for (i, ids) in picked.enumerated() {
            let alone = m.embed([ids])[0]
            #expect(cosine(alone, together[i]) > 1 - 1e-9, "input \(i)")
            #expect(zip(alone, together[i]).allSatisfy { abs($0 - $1) < 1e-5 }, "input \(i)")
        }
    }

    @Test func generationLoaderPointsToEmbeddings() throws {
        let error = #expect(throws: ModelLoadError.self) { try loadModel(path: TestPaths.miniLM!) }
        #expect(error?.description.contains("embedding model") == true, "\(error.map(String.init(describing:)) ?? "")")
        #expect(try ModelRegistry.kind(path: TestPaths.miniLM!) == .embedding)
    }
}

/// A tiny random `BertForMaskedLM` (encoder under "bert.", a prediction head to skip, no
/// modules.json, so mean pooling without normalization) against transformers' hidden states.
struct TinyBertTests {
    struct Reference: Decodable {
        struct Case: Decodable { let text: String; let token_ids: [Int]; let embedding_f32: String }
        let cases: [Case]
    }

    static let directory = TestPaths.fixtures.appendingPathComponent("embeddings/bert-mlm-tiny")

    @Test func meanPooledHiddenStatesMatchTransformers() throws {
        let m = try loadEmbeddingModel(path: Self.directory.path)
        #expect(m.pooling == EmbeddingPooling(modes: [.mean], normalize: false))
        #expect(m.maxSequenceLength == 128 && m.dimensions == 32)
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.directory.appendingPathComponent("reference.json")))
        for (i, k) in reference.cases.enumerated() {
            #expect(m.tokenize(k.text) == k.token_ids, "case \(i) \(k.text.prefix(30).debugDescription)")
        }
        let mine = m.embed(reference.cases.map(\.token_ids))
        var worst: Float = 0
        for (i, k) in reference.cases.enumerated() {
            let expected = Data(base64Encoded: k.embedding_f32)!.withUnsafeBytes { raw in
                (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            let error = zip(mine[i], expected).map { abs($0 - $1) }.max() ?? .infinity
            worst = max(worst, error)
            #expect(mine[i].count == expected.count && error < 1e-4, "case \(i): max error \(error)")
        }
        print("tiny BertForMaskedLM: \(reference.cases.count) inputs, max abs error \(worst)")
    }

    @Test func generationLoaderRefusesIt() throws {
        #expect(try ModelRegistry.kind(path: Self.directory.path) == .embedding)
        #expect(throws: ModelLoadError.self) { try loadModel(path: Self.directory.path) }
    }
}

/// Pooling arithmetic on hand-made hidden states.
struct EmbeddingPoolingTests {
    @Test func modesAndNormalization() throws {
        // Two sequences of 2-wide states: [[1, 2], [3, 6]] and [[-4, 0]].
        let hidden: [Float] = [1, 2, 3, 6, -4, 0]
        func pool(_ modes: [EmbeddingPooling.Mode], _ normalize: Bool = false) -> [[Float]] {
            EmbeddingPooling(modes: modes, normalize: normalize).pool(hidden, hiddenSize: 2, sequenceLengths: [2, 1])
        }
        #expect(pool([.mean]) == [[2, 4], [-4, 0]])
        #expect(pool([.cls]) == [[1, 2], [-4, 0]])
        #expect(pool([.lastToken]) == [[3, 6], [-4, 0]])
        #expect(pool([.max]) == [[3, 6], [-4, 0]])
        let weighted: [[Float]] = [[Float(7) / 3, Float(14) / 3], [-4, 0]]
        #expect(pool([.weightedMean]) == weighted)
        let sqrtLength = pool([.meanSqrtLength])
        let expected: [Float] = [4 / Float(2).squareRoot(), 8 / Float(2).squareRoot(), -4, 0]
        #expect(zip(sqrtLength.flatMap { $0 }, expected).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(pool([.cls, .mean]) == [[1, 2, 2, 4], [-4, 0, -4, 0]])
        let unit = pool([.mean], true)
        #expect(abs(unit[0][0] - 1 / Float(5).squareRoot()) < 1e-7 && abs(unit[0][1] - 2 / Float(5).squareRoot()) < 1e-7)
        #expect(unit[1] == [-1, 0])
    }

    @Test func directoryConfiguration() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-pooling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try EmbeddingPooling(directory: dir) == EmbeddingPooling(modes: [.mean], normalize: false))

        func write(_ json: String, _ name: String) throws { try Data(json.utf8).write(to: dir.appendingPathComponent(name)) }
        try write(#"[{"type": "sentence_transformers.models.Transformer", "path": ""}, {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}]"#, "modules.json")
        try write(#"{"word_embedding_dimension": 8, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#, "1_Pooling/config.json")
        #expect(try EmbeddingPooling(directory: dir) == EmbeddingPooling(modes: [.cls], normalize: false))
        try write(#"{"pooling_mode": "lasttoken"}"#, "1_Pooling/config.json")
        #expect(try EmbeddingPooling(directory: dir).modes == [.lastToken])

        try write(#"[{"type": "sentence_transformers.models.Transformer"}, {"type": "sentence_transformers.models.Dense", "path": "2_Dense"}]"#, "modules.json")
        let error = #expect(throws: ModelLoadError.self) { try EmbeddingPooling(directory: dir) }
        let message = error.map(String.init(describing:)) ?? ""
        #expect(message.contains("sentence_transformers.models.Dense") && message.contains("sentence_transformers.models.Normalize"), "\(message)")
    }
}
