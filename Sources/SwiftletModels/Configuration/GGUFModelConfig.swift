import Foundation
import SwiftletFormats

/// Architectures whose GGUF Q/K weights llama.cpp leaves in Hugging Face order (its
/// `LLAMA_ROPE_TYPE_NEOX`), so rotary pairs are halves rather than adjacent.
private let ggufHalvesArchitectures: Set<String> = [
    "qwen", "qwen2", "qwen2moe", "qwen2vl", "qwen3", "qwen3moe", "phi2", "phi3", "phimoe", "gemma", "gemma2", "gemma3",
    "gptneox", "stablelm", "starcoder2", "falcon", "grok", "dbrx", "olmo2", "olmoe", "openelm", "codeshell",
    "nemotron", "exaone", "bert", "nomic-bert", "jina-bert-v2", "minicpm3", "plamo", "orion", "bailingmoe",
]

/// Architectures with a learned position table instead of rotary embeddings.
private let ggufLearnedPositionArchitectures: Set<String> = ["gpt2", "starcoder", "refact", "bloom", "mpt", "jais"]

extension ModelConfig {
    /// Reads the configuration from a GGUF file's `{arch}.*` and `tokenizer.ggml.*` metadata.
    ///
    /// - Throws: `ModelLoadError` naming the missing or invalid key.
    public init(gguf: GGUFFile) throws {
        let path = gguf.path
        func missing(_ key: String) -> ModelLoadError { .malformed(path: path, reason: "missing metadata key '\(key)'") }
        guard let arch = gguf.metadata["general.architecture"]?.string else { throw missing("general.architecture") }
        func value(_ key: String) -> GGUFValue? { gguf.metadata["\(arch).\(key)"] }

        /// An integer key; per-layer arrays are accepted when every layer has the same value.
        func int(_ key: String) throws -> Int? {
            guard let v = value(key) else { return nil }
            if let i = v.int { return i }
            if let a = v.array, let first = a.first?.int, a.allSatisfy({ $0.int == first }) { return first }
            if v.array != nil {
                throw ModelLoadError.unsupported(path: path, reason: "'\(arch).\(key)' differs between layers")
            }
            throw ModelLoadError.malformed(path: path, reason: "'\(arch).\(key)' is not an integer: \(v)")
        }
        func requiredInt(_ key: String) throws -> Int {
            guard let i = try int(key) else { throw missing("\(arch).\(key)") }
            return i
        }
        func double(_ key: String) throws -> Double? {
            guard let v = value(key) else { return nil }
            guard let d = v.double else { throw ModelLoadError.malformed(path: path, reason: "'\(arch).\(key)' is not a number: \(v)") }
            return d
        }

        let numHeads = try requiredInt("attention.head_count")
        let hiddenSize = try requiredInt("embedding_length")
        let headDim = try int("attention.key_length") ?? (numHeads > 0 ? hiddenSize / numHeads : 0)
        if let valueLength = try int("attention.value_length"), valueLength != headDim {
            throw ModelLoadError.unsupported(path: path, reason: "key length \(headDim) differs from value length \(valueLength)")
        }

        let vocabSize: Int
        if let v = try int("vocab_size") {
            vocabSize = v
        } else if let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array {
            vocabSize = tokens.count
        } else if let embd = gguf.tensorInfo("token_embd.weight"), embd.shape.count == 2 {
            vocabSize = embd.shape[1]
        } else {
            throw missing("\(arch).vocab_size")
        }

        let eps: Double
        let normalization: Normalization
        if let e = try double("attention.layer_norm_rms_epsilon") {
            (eps, normalization) = (e, .rmsNorm)
        } else if let e = try double("attention.layer_norm_epsilon") {
            (eps, normalization) = (e, .layerNorm)
        } else {
            throw missing("\(arch).attention.layer_norm_rms_epsilon")
        }

        var scaling: RopeScaling?
        let scalingType = value("rope.scaling.type")?.string ?? (value("rope.scale_linear") != nil ? "linear" : "none")
        switch scalingType {
        case "none", "":
            break
        case "linear":
            let factor = try double("rope.scaling.factor") ?? double("rope.scale_linear") ?? 1
            if factor != 1 {
                let original = try double("rope.scaling.original_context_length") ?? Double(requiredInt("context_length"))
                scaling = RopeScaling(kind: .linear, factor: factor, originalMaxPositionEmbeddings: original)
            }
        default:
            throw ModelLoadError.unsupported(path: path, reason: "rope scaling type '\(scalingType)' ('\(arch).rope.scaling.type'; supported: none, linear)")
        }
        let freqTensor = gguf.tensorInfo("rope_freqs.weight") != nil ? "rope_freqs.weight" : nil

        var eos: [Int] = []
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let id = gguf.metadata[key]?.int, !eos.contains(id) { eos.append(id) }
        }
        let learned = ggufLearnedPositionArchitectures.contains(arch) || gguf.tensorInfo("position_embd.weight") != nil

        self.init(
            architecture: arch,
            vocabSize: vocabSize,
            hiddenSize: hiddenSize,
            intermediateSize: try requiredInt("feed_forward_length"),
            numLayers: try requiredInt("block_count"),
            numHeads: numHeads,
            numKVHeads: try int("attention.head_count_kv") ?? numHeads,
            headDim: headDim,
            rmsNormEps: eps,
            ropeTheta: try double("rope.freq_base") ?? 10000,
            ropeDimensions: try int("rope.dimension_count") ?? headDim,
            ropeScaling: scaling,
            ropeStyle: ggufHalvesArchitectures.contains(arch) ? .halves : .adjacentPairs,
            ropeFrequencyFactorsTensor: freqTensor,
            maxPositionEmbeddings: try requiredInt("context_length"),
            tieWordEmbeddings: gguf.tensorInfo("output.weight") == nil,
            // GPT-2 style files fuse q, k and v into one tensor.
            attentionBias: gguf.tensorInfo("blk.0.attn_q.bias") != nil || gguf.tensorInfo("blk.0.attn_qkv.bias") != nil,
            slidingWindow: try int("attention.sliding_window"),
            bosTokenId: gguf.metadata["tokenizer.ggml.bos_token_id"]?.int,
            eosTokenIds: eos,
            positionEmbedding: learned ? .learned : .rotary,
            normalization: normalization,
            // llama.cpp runs GPT-2's feed-forward with ggml_gelu, the tanh approximation (HF "gelu_new").
            hiddenActivation: arch == "gpt2" ? "gelu_new" : "silu")
        try readSlidingWindowPattern(gguf, architecture: arch)
        if arch.hasPrefix("gemma") { try readGemmaGGUF(gguf, architecture: arch) }
        if arch == "phi3" { try readPhi3GGUF(gguf, architecture: arch) }
        try validate(path: path)
    }
}
