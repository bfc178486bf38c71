import Foundation
import SwiftletFormats

/// What Gemma 3 needs beyond `ModelConfig`: the query scale, the sliding layers' own rotary
/// base, soft-capping, and how its norm weights are stored.
struct Gemma3Options: Sendable, Equatable {
    /// Attention scores are scaled by `query_pre_attn_scalar^-0.5` (not always head_dim^-0.5).
    var queryScale: Float
    /// Rotary base of the sliding-window layers (global layers use `ModelConfig.ropeTheta`
    /// and `ropeScaling`).
    var localRopeTheta: Double
    /// Logits become `cap * tanh(logits / cap)` when set.
    var finalLogitSoftcap: Float?
    /// Added to every stored norm weight: Gemma's RMSNorm scales by `1 + weight`; llama.cpp's
    /// converter folds the 1 into GGUF files (0 there), Hugging Face checkpoints keep it out (1).
    var normWeightOffset: Float

    /// The options of a GGUF file. It stores no query scalar: llama.cpp uses head_dim, except for
    /// the 27B model (62 layers), trained with hidden_size / heads.
    init(gguf: GGUFFile, config c: ModelConfig) throws {
        let arch = c.architecture
        func number(_ key: String) -> Double? { gguf.metadata["\(arch).\(key)"]?.double }
        if let cap = number("attn_logit_softcapping"), cap > 0 {
            throw ModelLoadError.unsupported(path: gguf.path, reason: "attention logit soft-capping ('\(arch).attn_logit_softcapping' \(cap))")
        }
        let scalar = c.numLayers == 62 ? Double(c.hiddenSize / c.numHeads) : Double(c.headDim)
        queryScale = Float(1 / scalar.squareRoot())
        localRopeTheta = number("rope.freq_base_swa") ?? 10000
        finalLogitSoftcap = number("final_logit_softcapping").flatMap { $0 > 0 ? Float($0) : nil }
        normWeightOffset = 0
    }

    /// The options of a `config.json`.
    init(huggingFace c: HuggingFaceConfig) throws {
        if let cap = try c.optionalDouble("attn_logit_softcapping"), cap > 0 {
            throw ModelLoadError.unsupported(path: c.path, reason: "attention logit soft-capping (attn_logit_softcapping \(cap))")
        }
        if try c.optionalBool("use_bidirectional_attention") == true {
            throw ModelLoadError.unsupported(path: c.path, reason: "bidirectional attention (use_bidirectional_attention)")
        }
        let scalar = try c.optionalDouble("query_pre_attn_scalar") ?? Double(c.int("head_dim"))
        guard scalar > 0 else { throw ModelLoadError.malformed(path: c.path, reason: "query_pre_attn_scalar \(scalar) is not positive") }
        queryScale = Float(1 / scalar.squareRoot())
        localRopeTheta = try Self.ropeParameters(c, "sliding_attention")?.optionalDouble("rope_theta")
            ?? c.optionalDouble("rope_local_base_freq") ?? 10000
        finalLogitSoftcap = try c.optionalDouble("final_logit_softcapping").flatMap { $0 > 0 ? Float($0) : nil }
        normWeightOffset = 1
    }

    /// transformers 5 writes `rope_parameters` per layer type (`full_attention`,
    /// `sliding_attention`); nil for the older flat form.
    static func ropeParameters(_ c: HuggingFaceConfig, _ layerType: String) throws -> HuggingFaceConfig? {
        let v = c.root["rope_parameters"][layerType]
        return v.object == nil ? nil : HuggingFaceConfig(root: v, path: c.path)
    }
}

extension Gemma3Model {
    /// The configuration of a Gemma 3 text `config.json` (`Gemma3ForCausalLM`, `gemma3_text`).
    static func configuration(_ c: HuggingFaceConfig) throws -> ModelConfig {
        let hidden = try c.int("hidden_size")
        let heads = try c.int("num_attention_heads")
        let layers = try c.int("num_hidden_layers")
        // Global layers: transformers 5's per-type rope_parameters, or rope_theta / rope_scaling.
        var theta = try c.optionalDouble("rope_theta")
        var scaling = try c.root["rope_scaling"].isNull ? nil : c.ropeScaling(in: "rope_scaling")
        if let full = try Gemma3Options.ropeParameters(c, "full_attention") {
            theta = try full.optionalDouble("rope_theta") ?? theta
            scaling = try HuggingFaceConfig(root: c.root["rope_parameters"], path: c.path).ropeScaling(in: "full_attention")
        }
        let window = try c.optionalInt("sliding_window")
        var sliding: [Bool]?
        if window != nil {
            if let types = try c.slidingLayerTypes() {
                sliding = types
            } else {
                let period = try c.optionalInt("sliding_window_pattern") ?? 6
                guard period > 0 else { throw ModelLoadError.malformed(path: c.path, reason: "sliding_window_pattern \(period) is not positive") }
                sliding = (0..<layers).map { ($0 + 1) % period != 0 }
            }
        }
        var config = ModelConfig(
            architecture: "gemma3_text",
            vocabSize: try c.int("vocab_size"),
            hiddenSize: hidden,
            intermediateSize: try c.int("intermediate_size"),
            numLayers: layers,
            numHeads: heads,
            numKVHeads: try c.optionalInt("num_key_value_heads") ?? heads,
            headDim: try c.optionalInt("head_dim") ?? 256,
            rmsNormEps: try c.optionalDouble("rms_norm_eps") ?? 1e-6,
            ropeTheta: theta ?? 1_000_000,
            ropeScaling: scaling,
            ropeStyle: .halves,
            maxPositionEmbeddings: try c.optionalInt("max_position_embeddings") ?? 131_072,
            tieWordEmbeddings: try c.optionalBool("tie_word_embeddings") ?? true,
            attentionBias: try c.optionalBool("attention_bias") ?? false,
            slidingWindow: window,
            bosTokenId: try c.optionalInt("bos_token_id"),
            eosTokenIds: try c.intList("eos_token_id"),
            hiddenActivation: try c.optionalString("hidden_activation") ?? "gelu_pytorch_tanh")
        config.slidingLayers = sliding
        return config
    }
}
