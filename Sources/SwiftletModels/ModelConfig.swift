import Foundation
import SwiftletFormats

/// How rotary position embeddings pair up the dimensions of a head.
public enum RopeStyle: String, Sendable, Equatable {
    /// Dimensions (2i, 2i+1) rotate together. llama.cpp's converter permutes the Q and K weights of
    /// LLaMA-family models into this layout, so it applies to their GGUF files.
    case adjacentPairs
    /// Dimension i rotates with i + d/2 (`rotate_half`, GPT-NeoX style): Hugging Face checkpoints,
    /// and GGUF files of architectures llama.cpp does not permute (Qwen2, Phi-3, Gemma, ...).
    case halves
}

/// How a model encodes token positions.
public enum PositionEmbedding: String, Sendable, Equatable {
    /// Rotary embeddings applied to Q and K (LLaMA, Mistral, Qwen2).
    case rotary
    /// A learned table added to the token embeddings (GPT-2, OPT).
    case learned
}

/// The normalisation layers' kind.
public enum Normalization: String, Sendable, Equatable {
    case rmsNorm
    /// LayerNorm with mean subtraction and a bias (GPT-2, OPT).
    case layerNorm
}

/// Context-extension scaling of rotary frequencies.
public struct RopeScaling: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// Every frequency divided by `factor` (position interpolation).
        case linear
        /// Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth ramp between.
        case llama3
    }

    public var kind: Kind
    public var factor: Double
    /// Llama 3 only: wavelengths above `originalMaxPositionEmbeddings / lowFreqFactor` are scaled fully.
    public var lowFreqFactor: Double
    /// Llama 3 only: wavelengths below `originalMaxPositionEmbeddings / highFreqFactor` are kept.
    public var highFreqFactor: Double
    /// The context length the model was trained with before extension. A Double because it only
    /// enters wavelength arithmetic.
    public var originalMaxPositionEmbeddings: Double

    public init(kind: Kind, factor: Double, lowFreqFactor: Double = 1, highFreqFactor: Double = 4,
                originalMaxPositionEmbeddings: Double = 8192) {
        self.kind = kind
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }
}

/// The hyper-parameters of a decoder-only transformer, read from a GGUF file's metadata or a
/// Hugging Face `config.json`.
public struct ModelConfig: Sendable, Equatable {
    /// Model family, lower-case as in GGUF `general.architecture` / HF `model_type` ("llama", "qwen2", ...).
    public var architecture: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    /// Key/value heads; fewer than `numHeads` for grouped-query attention.
    public var numKVHeads: Int
    public var headDim: Int
    /// Epsilon of the normalisation layers (RMSNorm or LayerNorm, see `normalization`).
    public var rmsNormEps: Double
    public var ropeTheta: Double
    /// Leading dimensions of each head that are rotated (`headDim` unless the model uses partial rotary).
    public var ropeDimensions: Int
    public var ropeScaling: RopeScaling?
    public var ropeStyle: RopeStyle
    /// Name of a GGUF tensor of per-frequency divisors that llama.cpp's converter writes instead of
    /// Llama 3 scaling metadata; nil when absent.
    public var ropeFrequencyFactorsTensor: String?
    public var maxPositionEmbeddings: Int
    /// The output projection reuses the token embedding matrix.
    public var tieWordEmbeddings: Bool
    /// Q, K and V projections have biases (Qwen2).
    public var attentionBias: Bool
    /// Attention looks back at most this many tokens (Mistral); nil for full attention.
    public var slidingWindow: Int?
    public var bosTokenId: Int?
    /// Tokens that end generation.
    public var eosTokenIds: [Int]
    public var positionEmbedding: PositionEmbedding
    public var normalization: Normalization
    /// Activation of the feed-forward network, as HF names it ("silu", "gelu_new", "relu").
    public var hiddenActivation: String

    public init(architecture: String, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int,
                numHeads: Int, numKVHeads: Int, headDim: Int? = nil, rmsNormEps: Double = 1e-5,
                ropeTheta: Double = 10000, ropeDimensions: Int? = nil, ropeScaling: RopeScaling? = nil,
                ropeStyle: RopeStyle = .halves, ropeFrequencyFactorsTensor: String? = nil,
                maxPositionEmbeddings: Int = 2048, tieWordEmbeddings: Bool = false, attentionBias: Bool = false,
                slidingWindow: Int? = nil, bosTokenId: Int? = nil, eosTokenIds: [Int] = [],
                positionEmbedding: PositionEmbedding = .rotary, normalization: Normalization = .rmsNorm,
                hiddenActivation: String = "silu") {
        self.architecture = architecture
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        let hd = headDim ?? (numHeads > 0 ? hiddenSize / numHeads : 0)
        self.headDim = hd
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeDimensions = ropeDimensions ?? hd
        self.ropeScaling = ropeScaling
        self.ropeStyle = ropeStyle
        self.ropeFrequencyFactorsTensor = ropeFrequencyFactorsTensor
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.slidingWindow = slidingWindow
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.positionEmbedding = positionEmbedding
        self.normalization = normalization
        self.hiddenActivation = hiddenActivation
    }

    /// Checks that the numbers describe a model that can exist, so that a damaged config fails here
    /// rather than as an out-of-bounds access in a kernel.
    public func validate(path: String) throws {
        func bad(_ reason: String) -> ModelLoadError { .malformed(path: path, reason: reason) }
        for (name, v) in [("vocab size", vocabSize), ("hidden size", hiddenSize), ("intermediate size", intermediateSize),
                          ("layer count", numLayers), ("head count", numHeads), ("key/value head count", numKVHeads),
                          ("head dimension", headDim), ("context length", maxPositionEmbeddings)] {
            guard v > 0, v < 1 << 32 else { throw bad("\(name) \(v) is out of range") }
        }
        guard numHeads % numKVHeads == 0 else {
            throw bad("\(numHeads) attention heads are not a multiple of \(numKVHeads) key/value heads")
        }
        if positionEmbedding == .rotary {
            guard ropeDimensions > 0, ropeDimensions <= headDim, ropeDimensions % 2 == 0 else {
                throw bad("rotary dimension count \(ropeDimensions) must be even and at most the head dimension \(headDim)")
            }
            guard ropeTheta > 0, ropeTheta.isFinite else { throw bad("rope theta \(ropeTheta) is not positive") }
        }
        guard rmsNormEps >= 0, rmsNormEps < 1 else { throw bad("normalisation epsilon \(rmsNormEps) is out of range") }
        if let w = slidingWindow, w <= 0 { throw bad("sliding window \(w) is not positive") }
        if let s = ropeScaling {
            guard s.factor > 0, s.factor.isFinite else { throw bad("rope scaling factor \(s.factor) is not positive") }
            if s.kind == .llama3 {
                guard s.highFreqFactor > s.lowFreqFactor, s.lowFreqFactor > 0, s.originalMaxPositionEmbeddings > 0 else {
                    throw bad("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and a positive original context length")
                }
            }
        }
    }
}

// MARK: - GGUF

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
        try validate(path: path)
    }
}

// MARK: - Hugging Face config.json

extension ModelConfig {
    /// The `model_type` values `init(configJSON:)` understands.
    public static let supportedHuggingFaceModelTypes = ["llama", "mistral", "qwen2", "gpt2", "opt", "bert"]

    /// Reads `config.json` from a Hugging Face model directory.
    public init(directory: URL) throws {
        let url = directory.appendingPathComponent("config.json")
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelLoadError.io(path: url.path, reason: "cannot read config.json: \(error.localizedDescription)")
        }
        try self.init(configJSON: data, path: url.path)
    }

    /// Parses a Hugging Face `config.json` for the model types in `supportedHuggingFaceModelTypes`.
    ///
    /// - Parameter path: names the file in error messages.
    /// - Throws: `ModelLoadError` naming the missing or invalid key.
    public init(configJSON data: Data, path: String = "config.json") throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelLoadError.malformed(path: path, reason: "config.json is not a JSON object")
        }
        let c = JSONConfig(root: root, path: path)
        let modelType = try c.modelType()

        switch modelType {
        case "llama", "mistral", "qwen2":
            let hidden = try c.int("hidden_size")
            let heads = try c.int("num_attention_heads")
            var sliding: Int?
            if modelType == "mistral" {
                sliding = try c.optionalInt("sliding_window")
            } else if modelType == "qwen2", try c.optionalBool("use_sliding_window") == true {
                sliding = try c.optionalInt("sliding_window")
            }
            self.init(
                architecture: modelType,
                vocabSize: try c.int("vocab_size"),
                hiddenSize: hidden,
                intermediateSize: try c.int("intermediate_size"),
                numLayers: try c.int("num_hidden_layers"),
                numHeads: heads,
                numKVHeads: try c.optionalInt("num_key_value_heads") ?? heads,
                headDim: try c.optionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0),
                rmsNormEps: try c.double("rms_norm_eps"),
                ropeTheta: try c.ropeTheta() ?? 10000,
                ropeDimensions: nil,
                ropeScaling: try c.ropeScaling(),
                ropeStyle: .halves,
                maxPositionEmbeddings: try c.int("max_position_embeddings"),
                tieWordEmbeddings: try c.optionalBool("tie_word_embeddings") ?? false,
                attentionBias: modelType == "qwen2" ? true : (try c.optionalBool("attention_bias") ?? false),
                slidingWindow: sliding,
                bosTokenId: try c.optionalInt("bos_token_id"),
                eosTokenIds: try c.intList("eos_token_id"),
                hiddenActivation: try c.optionalString("hidden_act") ?? "silu")
            if let partial = try c.optionalDouble("partial_rotary_factor") {
                ropeDimensions = Int(Double(headDim) * partial)
            }
        case "gpt2":
            let hidden = try c.int("n_embd")
            self.init(
                architecture: modelType,
                vocabSize: try c.int("vocab_size"),
                hiddenSize: hidden,
                intermediateSize: try c.optionalInt("n_inner") ?? 4 * hidden,
                numLayers: try c.int("n_layer"),
                numHeads: try c.int("n_head"),
                numKVHeads: try c.int("n_head"),
                rmsNormEps: try c.optionalDouble("layer_norm_epsilon") ?? 1e-5,
                maxPositionEmbeddings: try c.int("n_positions"),
                tieWordEmbeddings: try c.optionalBool("tie_word_embeddings") ?? true,
                attentionBias: true,
                bosTokenId: try c.optionalInt("bos_token_id"),
                eosTokenIds: try c.intList("eos_token_id"),
                positionEmbedding: .learned,
                normalization: .layerNorm,
                hiddenActivation: try c.optionalString("activation_function") ?? "gelu_new")
        case "opt":
            // OPT's own switches (do_layer_norm_before, word_embed_proj_dim) are OPTModel.Options.
            let hidden = try c.int("hidden_size")
            self.init(
                architecture: modelType,
                vocabSize: try c.int("vocab_size"),
                hiddenSize: hidden,
                intermediateSize: try c.int("ffn_dim"),
                numLayers: try c.int("num_hidden_layers"),
                numHeads: try c.int("num_attention_heads"),
                numKVHeads: try c.int("num_attention_heads"),
                rmsNormEps: 1e-5,
                maxPositionEmbeddings: try c.int("max_position_embeddings"),
                tieWordEmbeddings: try c.optionalBool("tie_word_embeddings") ?? true,
                attentionBias: try c.optionalBool("enable_bias") ?? true,
                bosTokenId: try c.optionalInt("bos_token_id"),
                eosTokenIds: try c.intList("eos_token_id"),
                positionEmbedding: .learned,
                normalization: .layerNorm,
                hiddenActivation: try c.optionalString("activation_function") ?? "relu")
        case "bert":
            let hidden = try c.int("hidden_size")
            let heads = try c.int("num_attention_heads")
            self.init(
                architecture: modelType,
                vocabSize: try c.int("vocab_size"),
                hiddenSize: hidden,
                intermediateSize: try c.int("intermediate_size"),
                numLayers: try c.int("num_hidden_layers"),
                numHeads: heads,
                numKVHeads: heads,
                rmsNormEps: try c.optionalDouble("layer_norm_eps") ?? 1e-12,
                maxPositionEmbeddings: try c.int("max_position_embeddings"),
                tieWordEmbeddings: true,
                attentionBias: true,
                positionEmbedding: .learned,
                normalization: .layerNorm,
                hiddenActivation: try c.optionalString("hidden_act") ?? "gelu")
        default:
            throw ModelLoadError.unsupported(path: path, reason: "model_type '\(modelType)' (supported: \(Self.supportedHuggingFaceModelTypes.joined(separator: ", ")))")
        }
        try validate(path: path)
    }
}

/// Typed access to config.json keys, with errors that name the key.
private struct JSONConfig {
    let root: [String: Any]
    let path: String

    func missing(_ key: String) -> ModelLoadError { .malformed(path: path, reason: "config.json is missing required key '\(key)'") }
    func wrongType(_ key: String, _ expected: String) -> ModelLoadError {
        .malformed(path: path, reason: "config.json key '\(key)' is not \(expected): \(root[key].map { "\($0)" } ?? "null")")
    }

    /// `model_type`, or failing that the first entry of `architectures` (e.g. "LlamaForCausalLM").
    func modelType() throws -> String {
        if let t = root["model_type"] as? String { return t }
        let known = ["LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2",
                     "GPT2LMHeadModel": "gpt2", "OPTForCausalLM": "opt", "BertModel": "bert", "BertForMaskedLM": "bert"]
        if let archs = root["architectures"] as? [String], let t = archs.lazy.compactMap({ known[$0] }).first { return t }
        throw missing("model_type")
    }

    private func present(_ key: String) -> Any? {
        guard let v = root[key], !(v is NSNull) else { return nil }
        return v
    }

    private func asInt(_ v: Any) -> Int? { jsonInteger(v) }

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = present(key) else { return nil }
        guard let i = asInt(v) else { throw wrongType(key, "an integer") }
        return i
    }

    func int(_ key: String) throws -> Int {
        guard let i = try optionalInt(key) else { throw missing(key) }
        return i
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = present(key) else { return nil }
        guard let n = v as? NSNumber, !isJSONBoolean(v) else { throw wrongType(key, "a number") }
        return n.doubleValue
    }

    func double(_ key: String) throws -> Double {
        guard let d = try optionalDouble(key) else { throw missing(key) }
        return d
    }

    func optionalBool(_ key: String) throws -> Bool? {
        guard let v = present(key) else { return nil }
        guard isJSONBoolean(v), let b = v as? Bool else { throw wrongType(key, "a boolean") }
        return b
    }

    func optionalString(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v as? String else { throw wrongType(key, "a string") }
        return s
    }

    /// An integer or a list of integers (`eos_token_id` is either).
    func intList(_ key: String) throws -> [Int] {
        guard let v = present(key) else { return [] }
        if let i = asInt(v) { return [i] }
        if let a = v as? [Any] {
            let ints = a.compactMap(asInt)
            if ints.count == a.count { return ints }
        }
        throw wrongType(key, "an integer or a list of integers")
    }

    /// Rotary scaling from `rope_scaling`, or else from `rope_parameters`, where transformers 5
    /// writes it (top-level keys, when present, win as in older configs).
    func ropeScaling() throws -> RopeScaling? {
        if present("rope_scaling") != nil { return try ropeScaling(in: "rope_scaling") }
        return try ropeScaling(in: "rope_parameters")
    }

    /// `rope_theta`, or else `rope_parameters.rope_theta` (transformers 5).
    func ropeTheta() throws -> Double? {
        if let theta = try optionalDouble("rope_theta") { return theta }
        guard let v = present("rope_parameters") else { return nil }
        guard let s = v as? [String: Any] else { throw wrongType("rope_parameters", "an object") }
        guard let theta = try JSONConfig(root: s, path: path).optionalDouble("rope_theta") else { return nil }
        guard theta > 0, theta.isFinite else {
            throw ModelLoadError.malformed(path: path, reason: "rope_parameters.rope_theta \(theta) is not positive")
        }
        return theta
    }

    private func ropeScaling(in object: String) throws -> RopeScaling? {
        guard let v = present(object) else { return nil }
        guard let s = v as? [String: Any] else { throw wrongType(object, "an object") }
        let sub = JSONConfig(root: s, path: path)
        let type = try sub.optionalString("rope_type") ?? sub.optionalString("type") ?? "default"
        func key(_ k: String) -> String { "\(object).\(k)" }
        func required(_ k: String) throws -> Double {
            guard let d = try sub.optionalDouble(k) else { throw missing(key(k)) }
            return d
        }
        switch type {
        case "default":
            return nil
        case "linear":
            return RopeScaling(kind: .linear, factor: try required("factor"))
        case "llama3":
            return RopeScaling(kind: .llama3, factor: try required("factor"),
                               lowFreqFactor: try required("low_freq_factor"),
                               highFreqFactor: try required("high_freq_factor"),
                               originalMaxPositionEmbeddings: try required("original_max_position_embeddings"))
        default:
            throw ModelLoadError.unsupported(path: path, reason: "\(object) type '\(type)' (supported: default, linear, llama3)")
        }
    }
}

/// The class JSONSerialization uses for `true` and `false`. Foundation bridges every NSNumber to
/// Bool (`1 is Bool` holds), so booleans can only be told from numbers by their class.
private let jsonBooleanClass: ObjectIdentifier = {
    let parsed = try? JSONSerialization.jsonObject(with: Data("[true]".utf8)) as? [Any]
    return ObjectIdentifier(type(of: (parsed?.first ?? true) as AnyObject))
}()

/// Whether a JSONSerialization value is `true` or `false` rather than a number.
func isJSONBoolean(_ v: Any) -> Bool {
    ObjectIdentifier(type(of: v as AnyObject)) == jsonBooleanClass
}

/// A JSONSerialization number as an exact integer; nil for booleans, fractions, and magnitudes a
/// double cannot hold exactly.
func jsonInteger(_ v: Any) -> Int? {
    guard let n = v as? NSNumber, !isJSONBoolean(v) else { return nil }
    let d = n.doubleValue
    guard d == d.rounded(), abs(d) < 9.0e15 else { return nil }
    return n.intValue
}
