import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine
import SwiftletFormats

/// Tiny random-weight Hugging Face checkpoints of each supported family (made by
/// scripts/make_family_fixtures.py), and their GGUF conversions where llama.cpp defines the family
/// (scripts/make_family_gguf_fixtures.py), against transformers' greedy tokens and top-5 logprobs.
@Suite(.serialized) struct FamilyFidelityTests {
    static let families = ["gpt2", "opt-pre", "opt-post", "qwen2", "qwen2-swa", "mistral", "qwen3", "llama3", "llama3-tied", "phi3"]

    /// The max model length to run a family's reference cases with: LongRoPE's original context,
    /// within which transformers (the cases stay inside it) rotates with the short factors, as an
    /// engine does when its max model length does not exceed it; the default otherwise.
    static func maxModelLen(_ c: ModelConfig) -> Int? {
        c.ropeScaling.flatMap { $0.kind == .longrope ? Int($0.originalMaxPositionEmbeddings) : nil }
    }

    static func directory(_ family: String) -> String {
        TestPaths.repoRoot.appendingPathComponent("Tests/Fixtures/families/\(family)").path
    }

    static func reference(_ family: String) throws -> ReferenceFixture {
        let url = URL(fileURLWithPath: directory(family)).appendingPathComponent("reference.json")
        return try JSONDecoder().decode(ReferenceFixture.self, from: Data(contentsOf: url))
    }

    /// The GGUF files converted from family checkpoints by llama.cpp's converter
    /// (scripts/make_family_gguf_fixtures.py), by the family whose reference they must reproduce.
    static let ggufFamilies = ["gpt2", "qwen3", "llama3", "llama3-tied", "phi3"]

    static func gguf(_ family: String) -> String {
        TestPaths.repoRoot.appendingPathComponent("Tests/Fixtures/families/\(family).f32.gguf").path
    }

    /// Free-running greedy decoding in fp32: every token must match and every reference top-5
    /// logprob must agree to 1e-3. Run with whole-prompt prefill and with small prefill chunks,
    /// which put chunk boundaries inside Mistral's sliding window.
    @Test(arguments: families)
    func greedyTokensAndLogprobsMatchTransformers(_ family: String) throws {
        try Self.expectGreedyMatch(path: Self.directory(family), family: family)
    }

    /// The same check on the GGUF conversion of a family checkpoint.
    @Test(arguments: ggufFamilies)
    func ggufGreedyTokensAndLogprobsMatchTransformers(_ family: String) throws {
        // llama.cpp's converter rebuilds Phi-3's vocabulary as SentencePiece tokens with scores,
        // which do not reproduce the merge order of the fixture's trained tokenizer.json (one of
        // the five prompts splits differently); the model is still compared on the reference ids.
        try Self.expectGreedyMatch(path: Self.gguf(family), family: family, checkPromptIDs: family != "phi3")
    }

    static func expectGreedyMatch(path: String, family: String, checkPromptIDs: Bool = true) throws {
        let loaded = try loadModel(path: path, precision: .fp32)
        let c = loaded.config
        let source = (path as NSString).lastPathComponent
        var maxError = 0.0
        for chunk in [512, 5] {
            let cache = try PagedKVCache(numBlocks: 64, blockSize: 16, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                         headDim: c.headDim, dtype: .fp32)
            for (n, k) in try Self.reference(family).cases.enumerated() {
                if checkPromptIDs {
                    #expect(loaded.tokenizer.encode(k.prompt, addSpecialTokens: true, parseSpecial: true) == k.prompt_ids,
                            "\(source) case \(n): prompt ids differ")
                }
                let steps = try engineGreedy(model: loaded.model, cache: cache, prompt: k.prompt_ids, maxTokens: k.greedy_ids.count,
                                             topK: 8, prefillChunk: chunk, maxModelLen: Self.maxModelLen(c))
                #expect(steps.map(\.token) == k.greedy_ids, "\(source) case \(n) (prefill chunk \(chunk)): greedy tokens differ")
                for (i, step) in steps.enumerated() { maxError = max(maxError, topLogprobError(k.top5[i], step.topLogprobs)) }
            }
        }
        print("\(source) fp32: 32 greedy tokens per case compared, max top-5 logprob error \(String(format: "%.2e", maxError))")
        #expect(maxError < 1e-3, "\(source): max logprob error \(maxError)")
    }

    /// The integer fast path on the same checkpoints, teacher-forced: the argmax should mostly
    /// agree (the weights are requantized to 8 bits, so an exact match is not expected).
    @Test(arguments: families)
    func fastPathAgreesOnTop1(_ family: String) throws {
        try Self.expectFastPathAgreement(path: Self.directory(family), family: family)
    }

    @Test(arguments: ggufFamilies)
    func ggufFastPathAgreesOnTop1(_ family: String) throws {
        try Self.expectFastPathAgreement(path: Self.gguf(family), family: family)
    }

    static func expectFastPathAgreement(path: String, family: String) throws {
        let source = (path as NSString).lastPathComponent
        let r = try FidelityTests.teacherForced(loaded: loadModel(path: path, precision: .fast), cases: Self.reference(family).cases)
        print("\(source) fast path (teacher-forced): top-1 agreement \(r.top1Agree)/\(r.positions)")
        #expect(Double(r.top1Agree) >= 0.8 * Double(r.positions), "\(source): \(r.top1Agree)/\(r.positions)")
    }

    /// The GGUF conversion describes the same model as the directory it was made from.
    @Test(arguments: ["gpt2"])
    func ggufConfigurationMatchesTheDirectory(_ family: String) throws {
        let file = try loadModel(path: Self.gguf(family), precision: .fp32)
        let dir = try loadModel(path: Self.directory(family), precision: .fp32)
        #expect(file.model is GPT2Model)
        var expected = dir.config
        // GGUF stores the epsilon as a float32.
        expected.rmsNormEps = Double(Float(expected.rmsNormEps))
        // The rotary pairing GGUF implies per architecture means nothing with learned positions.
        #expect(file.config.positionEmbedding == .learned)
        expected.ropeStyle = file.config.ropeStyle
        #expect(file.config == expected)
    }

    /// A GGUF of an architecture llama.cpp knows but Swiftlet does not run is refused by name,
    /// listing the ones it does run. The fixture's architecture is renamed in a copy; the name has
    /// the same length, so every offset in the file stays valid.
    @Test func unsupportedGGUFArchitectureListsTheSupportedOnes() throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: Self.gguf("gpt2")))
        let key = Data("general.architecture".utf8)
        let keyRange = try #require(bytes.range(of: key))
        // The key is followed by the value type (u32, 8 = string), the string length (u64) and the string.
        let value = keyRange.upperBound + 4 + 8
        #expect(bytes[value..<value + 4] == Data("gpt2".utf8))
        bytes.replaceSubrange(value..<value + 4, with: Data("gptj".utf8))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-gptj-\(UUID().uuidString).gguf")
        try bytes.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try GGUFFile(path: url.path).metadata["general.architecture"]?.string == "gptj")

        let error = #expect(throws: ModelLoadError.self) { try loadModel(path: url.path) }
        let message = error.map(String.init(describing:)) ?? ""
        #expect(message.contains("GGUF architecture 'gptj'"), "\(message)")
        let listed = message.components(separatedBy: "supported GGUF architectures: ").last?.dropLast()
            .components(separatedBy: ", ") ?? []
        for name in ["llama", "mistral", "qwen2", "qwen3", "phi3", "gemma3", "gpt2"] {
            #expect(listed.contains(name), "\(message)")
        }
    }

    @Test func mistralFixtureExercisesTheSlidingWindow() throws {
        let loaded = try loadModel(path: Self.directory("mistral"), precision: .fp32)
        let window = try #require(loaded.config.slidingWindow)
        let longest = try Self.reference("mistral").cases.map(\.prompt_ids.count).max() ?? 0
        #expect(window < longest)
    }

    @Test func optVariantsAreParsed() throws {
        let pre = try OPTModel.configuration(directory: URL(fileURLWithPath: Self.directory("opt-pre"))).1
        #expect(pre.layerNormBefore && pre.finalLayerNorm && pre.wordEmbeddingSize == 64)
        let post = try OPTModel.configuration(directory: URL(fileURLWithPath: Self.directory("opt-post"))).1
        #expect(!post.layerNormBefore && !post.finalLayerNorm && post.wordEmbeddingSize == 32)
    }

    @Test func generationConfigSuppliesStopTokens() throws {
        let loaded = try loadModel(path: Self.directory("mistral"), precision: .fp32)
        #expect(loaded.config.eosTokenIds == [1])
    }

    @Test func unsupportedArchitectureListsTheSupportedOnes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-unsupported-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"architectures": ["T5ForConditionalGeneration"], "model_type": "t5"}"#.utf8)
            .write(to: dir.appendingPathComponent("config.json"))
        let error = #expect(throws: ModelLoadError.self) { try loadModel(path: dir.path) }
        let message = error.map(String.init(describing:)) ?? ""
        #expect(message.contains("T5ForConditionalGeneration"), "\(message)")
        for name in ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "Phi3ForCausalLM",
                     "GPT2LMHeadModel", "OPTForCausalLM", "BertModel"] {
            #expect(message.contains(name), "\(message)")
        }
    }
}
