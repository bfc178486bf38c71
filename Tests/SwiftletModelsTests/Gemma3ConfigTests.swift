import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletFormats
@testable import SwiftletModels
@testable import SwiftletTokenizers

/// Gemma 3's configuration from GGUF metadata and `config.json`, and its built-in chat template.
@Suite struct Gemma3ConfigTests {
    static func gemmaGGUF(_ extra: [(String, GGUFValue)] = [], layers: Int = 12) throws -> GGUFFile {
        try ModelConfigTests.gguf(ModelConfigTests.minimalKVs(architecture: "gemma3", layers: layers) + [
            ("gemma3.attention.key_length", .uint32(4)),
            ("gemma3.attention.sliding_window", .uint32(16)),
            ("tokenizer.ggml.tokens", .array((0..<32).map { .string($0 == 7 ? "<end_of_turn>" : "t\($0)") })),
            ("tokenizer.ggml.eos_token_id", .uint32(1)),
        ] + extra, tensors: [("token_embd.weight", [8, 32])])
    }

    @Test func ggufDefaultsFollowLlamaCpp() throws {
        let c = try ModelConfig(gguf: Self.gemmaGGUF())
        #expect(c.slidingLayers == (0..<12).map { $0 != 5 && $0 != 11 })
        #expect(c.slidingWindow == 16)
        #expect(c.eosTokenIds == [1, 7])
        #expect(c.hiddenActivation == "gelu_pytorch_tanh")
        #expect(c.ropeStyle == .halves)
        #expect(c.tieWordEmbeddings)
        let o = try Gemma3Options(gguf: Self.gemmaGGUF(), config: c)
        #expect(o.queryScale == 0.5 && o.localRopeTheta == 10000 && o.normWeightOffset == 0 && o.finalLogitSoftcap == nil)
    }

    @Test func ggufPatternAndSoftcapKeys() throws {
        var c = try ModelConfig(gguf: Self.gemmaGGUF([("gemma3.attention.sliding_window_pattern", .uint32(4))]))
        #expect(c.slidingLayers == (0..<12).map { ($0 + 1) % 4 != 0 })
        let flags = (0..<12).map { $0 % 2 == 0 }
        c = try ModelConfig(gguf: Self.gemmaGGUF([("gemma3.attention.sliding_window_pattern", .array(flags.map { .bool($0) }))]))
        #expect(c.slidingLayers == flags)
        #expect(throws: ModelLoadError.self) {
            try ModelConfig(gguf: Self.gemmaGGUF([("gemma3.attention.sliding_window_pattern", .array([.bool(true)]))]))
        }
        let capped = try Self.gemmaGGUF([("gemma3.final_logit_softcapping", .float32(30)), ("gemma3.rope.freq_base_swa", .float32(5000))])
        let o = try Gemma3Options(gguf: capped, config: ModelConfig(gguf: capped))
        #expect(o.finalLogitSoftcap == 30 && o.localRopeTheta == 5000)
        let attnCapped = try Self.gemmaGGUF([("gemma3.attn_logit_softcapping", .float32(50))])
        let error = #expect(throws: ModelLoadError.self) { try Gemma3Options(gguf: attnCapped, config: ModelConfig(gguf: attnCapped)) }
        #expect(error?.description.contains("soft-capping") == true)
    }

    static let transformers5 = """
        {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "vocab_size": 32, "hidden_size": 8,
         "intermediate_size": 16, "num_hidden_layers": 3, "num_attention_heads": 2, "num_key_value_heads": 1,
         "head_dim": 4, "rms_norm_eps": 1e-6, "max_position_embeddings": 64, "sliding_window": 4,
         "layer_types": ["sliding_attention", "full_attention", "sliding_attention"], "query_pre_attn_scalar": 9,
         "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                             "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
         "final_logit_softcapping": null, "attn_logit_softcapping": null, "eos_token_id": [1, 106], "bos_token_id": 2}
        """

    static let flatForm = """
        {"architectures": ["Gemma3ForCausalLM"], "vocab_size": 32, "hidden_size": 8, "intermediate_size": 16,
         "num_hidden_layers": 12, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4, "rms_norm_eps": 1e-6,
         "sliding_window": 4, "sliding_window_pattern": 6, "rope_theta": 500000.0, "rope_local_base_freq": 20000.0,
         "rope_scaling": {"rope_type": "linear", "factor": 4.0}, "query_pre_attn_scalar": 16, "hidden_activation": "gelu_pytorch_tanh",
         "final_logit_softcapping": 30.0, "eos_token_id": 1}
        """

    @Test func huggingFaceConfigForms() throws {
        let hf5 = try HuggingFaceConfig(data: Data(Self.transformers5.utf8))
        let c5 = try ModelConfig(configJSON: Data(Self.transformers5.utf8))
        #expect(c5.architecture == "gemma3_text" && c5.slidingLayers == [true, false, true] && c5.slidingWindow == 4)
        #expect(c5.ropeTheta == 1_000_000 && c5.ropeScaling == RopeScaling(kind: .linear, factor: 8))
        #expect(c5.eosTokenIds == [1, 106] && c5.tieWordEmbeddings)
        let o5 = try Gemma3Options(huggingFace: hf5)
        #expect(o5.queryScale == Float(1 / 3.0) && o5.localRopeTheta == 10000 && o5.normWeightOffset == 1 && o5.finalLogitSoftcap == nil)

        let c = try ModelConfig(configJSON: Data(Self.flatForm.utf8))
        #expect(c.slidingLayers == (0..<12).map { ($0 + 1) % 6 != 0 })
        #expect(c.ropeTheta == 500_000 && c.ropeScaling == RopeScaling(kind: .linear, factor: 4))
        let o = try Gemma3Options(huggingFace: HuggingFaceConfig(data: Data(Self.flatForm.utf8)))
        #expect(o.queryScale == 0.25 && o.localRopeTheta == 20000 && o.finalLogitSoftcap == 30)
    }

    @Test func builtinTemplateFoldsTheSystemMessageIntoTheFirstTurn() throws {
        let t = try ChatTemplate(source: BuiltinChatTemplates.gemma, bosToken: "<bos>", eosToken: "<eos>")
        let text = try t.render(messages: [
            ChatMessage(role: "system", content: "Be brief."),
            ChatMessage(role: "user", content: "  Hi!\n"),
            ChatMessage(role: "assistant", content: "Hello."),
            ChatMessage(role: "user", content: "Bye"),
        ], addGenerationPrompt: true)
        #expect(text == "<bos><start_of_turn>user\nBe brief.\n\nHi!<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
            + "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n")
        let closed = try t.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
        #expect(closed == "<bos><start_of_turn>user\nHi<end_of_turn>\n")
        #expect(throws: (any Error).self) {
            try t.render(messages: [ChatMessage(role: "assistant", content: "first")], addGenerationPrompt: true)
        }
    }

    @Test func registryNamesGemma3() throws {
        #expect(ModelRegistry.ggufArchitectures.contains("gemma3"))
        #expect(ModelRegistry.huggingFaceClasses(.generation).contains("Gemma3ForCausalLM"))
        #expect(ModelAliases.resolve("gemma3").hasSuffix("/gemma-3-270m-q4_k_m.gguf"))
        #expect(ModelAliases.resolve("/no/such/model.gguf") == "/no/such/model.gguf")
    }

    /// The real file: its metadata names no pattern, softcap or query scalar.
    @Test(.enabled(if: TestPaths.gemma3IfInstalled != nil, "gemma-3-270m-q4_k_m.gguf not found; run scripts/bootstrap.sh --with-gemma3"))
    func realFile() throws {
        let file = try GGUFFile(path: TestPaths.gemma3IfInstalled!)
        let c = try ModelConfig(gguf: file)
        #expect(c.numLayers == 18 && c.hiddenSize == 640 && c.numHeads == 4 && c.numKVHeads == 1 && c.headDim == 256)
        #expect(c.vocabSize == 262_144 && c.maxPositionEmbeddings == 32768 && c.slidingWindow == 512 && c.ropeTheta == 1_000_000)
        #expect(c.slidingLayers?.enumerated().filter { !$0.element }.map(\.offset) == [5, 11, 17])
        #expect(c.eosTokenIds == [1, 106])
        let o = try Gemma3Options(gguf: file, config: c)
        #expect(o.queryScale == 1 / 16 && o.localRopeTheta == 10000 && o.normWeightOffset == 0)
    }
}
