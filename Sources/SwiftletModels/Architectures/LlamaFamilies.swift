import Foundation
import SwiftletFormats

extension ModelArchitecture {
    static let llama = llamaFamily("llama", classes: ["LlamaForCausalLM"])
    static let mistral = llamaFamily("mistral", classes: ["MistralForCausalLM"])
    static let qwen2 = llamaFamily("qwen2", classes: ["Qwen2ForCausalLM"])
    static let qwen3 = llamaFamily("qwen3", classes: ["Qwen3ForCausalLM"])
    static let phi3 = llamaFamily("phi3", classes: ["Phi3ForCausalLM"])

    /// LLaMA and the families that differ from it in configuration (a sliding window for Mistral,
    /// Llama 3 rope scaling, partial rotary and LongRoPE for Phi-3) or in optional weights that
    /// show at load (q/k/v biases for Qwen2, q/k norms for Qwen3, fused projections for Phi-3),
    /// all run by `LlamaModel`.
    private static func llamaFamily(_ type: String, classes: [String]) -> ModelArchitecture {
        ModelArchitecture(
            modelType: type, ggufArchitecture: type, huggingFaceClasses: classes,
            configure: { try LlamaModel.configuration($0, modelType: type) }, tensorParallel: true,
            loadGGUF: { try LlamaModel(gguf: $0, config: $1, precision: $2, shard: $3, progress: $4) },
            loadCheckpoint: { try LlamaModel(checkpoint: $0, config: $1, precision: $3, shard: $4, progress: $5) })
    }
}

extension LlamaModel {
    /// The configuration of a LLaMA, Mistral, Qwen2, Qwen3 or Phi-3 `config.json`.
    static func configuration(_ c: HuggingFaceConfig, modelType: String) throws -> ModelConfig {
        let hidden = try c.int("hidden_size")
        let heads = try c.int("num_attention_heads")
        let layers = try c.int("num_hidden_layers")
        var sliding: Int?
        // nil: every layer slides when there is a window (Mistral's and Phi-3's rule).
        var slidingLayers: [Bool]?
        switch modelType {
        case "mistral", "phi3":
            sliding = try c.optionalInt("sliding_window")
        case "qwen2", "qwen3":
            // As transformers' Qwen2Config/Qwen3Config: the window exists only with
            // use_sliding_window, and then applies to the layers `layer_types` marks, or else to
            // those from max_window_layers on (4096 and 28 are its defaults).
            if try c.optionalBool("use_sliding_window") == true {
                sliding = try c.optionalInt("sliding_window") ?? 4096
                let first = try c.optionalInt("max_window_layers") ?? 28
                slidingLayers = try c.slidingLayerTypes() ?? (0..<layers).map { $0 >= first }
            }
        default:
            break
        }
        var config = ModelConfig(
            architecture: modelType,
            vocabSize: try c.int("vocab_size"),
            hiddenSize: hidden,
            intermediateSize: try c.int("intermediate_size"),
            numLayers: layers,
            numHeads: heads,
            numKVHeads: try c.optionalInt("num_key_value_heads") ?? heads,
            headDim: try c.optionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0),
            rmsNormEps: try c.double("rms_norm_eps"),
            ropeTheta: try c.ropeTheta() ?? 10000,
            ropeDimensions: nil,
            ropeScaling: nil,
            ropeStyle: .halves,
            maxPositionEmbeddings: try c.int("max_position_embeddings"),
            tieWordEmbeddings: try c.optionalBool("tie_word_embeddings") ?? false,
            attentionBias: modelType == "qwen2" ? true : (try c.optionalBool("attention_bias") ?? false),
            slidingWindow: sliding,
            bosTokenId: try c.optionalInt("bos_token_id"),
            eosTokenIds: try c.intList("eos_token_id"),
            hiddenActivation: try c.optionalString("hidden_act") ?? "silu")
        config.slidingLayers = slidingLayers
        // transformers 5 also writes the factor into rope_parameters; older configs only at the top.
        let rope = HuggingFaceConfig(root: c.root["rope_parameters"], path: c.path)
        if let partial = try c.optionalDouble("partial_rotary_factor") ?? (c.root["rope_parameters"].object != nil
                                                                          ? rope.optionalDouble("partial_rotary_factor") : nil) {
            config.ropeDimensions = Int(Double(config.headDim) * partial)
        }
        // Read after the rotary dimensions, which LongRoPE's factor lists must match.
        config.ropeScaling = try c.ropeScaling()
        return config
    }
}
