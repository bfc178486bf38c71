import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletModels
import SwiftletFormats

struct ModelConfigTests {
    // MARK: Real GGUF files

    @Test func stories260K() throws {
        let c = try ModelConfig(gguf: GGUFFile(path: TestPaths.stories260K))
        #expect(c.architecture == "llama")
        #expect(c.numLayers == 5)
        #expect(c.hiddenSize == 64)
        #expect(c.numHeads == 8)
        #expect(c.numKVHeads == 4)
        #expect(c.headDim == 8)
        #expect(c.ropeDimensions == 8)
        #expect(c.intermediateSize == 172)
        #expect(c.vocabSize == 512)
        #expect(c.maxPositionEmbeddings == 2048)
        #expect(c.rmsNormEps == Double(Float(1e-5)))
        #expect(c.ropeTheta == 10000)
        #expect(c.ropeScaling == nil)
        #expect(c.ropeStyle == .adjacentPairs)
        #expect(c.tieWordEmbeddings == false)
        #expect(c.attentionBias == false)
        #expect(c.slidingWindow == nil)
        #expect(c.bosTokenId == 1)
        #expect(c.eosTokenIds == [2])
        #expect(c.positionEmbedding == .rotary)
        #expect(c.normalization == .rmsNorm)
    }

    @Test(.enabled(if: TestPaths.smolLM2IfInstalled != nil, "SmolLM2-135M-Instruct.Q4_1.gguf not found; set SWIFTLET_MODEL_DIR"))
    func smolLM2() throws {
        let c = try ModelConfig(gguf: GGUFFile(path: TestPaths.smolLM2IfInstalled!))
        #expect(c.architecture == "llama")
        #expect(c.numLayers == 30)
        #expect(c.hiddenSize == 576)
        #expect(c.intermediateSize == 1536)
        #expect(c.numHeads == 9)
        #expect(c.numKVHeads == 3)
        #expect(c.headDim == 64)
        #expect(c.ropeDimensions == 64)
        #expect(c.ropeTheta == 100000)
        #expect(c.rmsNormEps == Double(Float(1e-5)))
        #expect(c.vocabSize == 49152)
        #expect(c.maxPositionEmbeddings == 8192)
        #expect(c.tieWordEmbeddings)
        #expect(c.ropeStyle == .adjacentPairs)
        #expect(c.bosTokenId == 1)
        #expect(c.eosTokenIds == [2])
    }

    // MARK: Hugging Face config.json

    static func config(_ name: String) throws -> ModelConfig {
        try ModelConfig(directory: TestPaths.config(name))
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: TestPaths.config(name).appendingPathComponent("config.json"))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func parse(_ object: [String: Any]) throws -> ModelConfig {
        try ModelConfig(configJSON: JSONSerialization.data(withJSONObject: object))
    }

    @Test func llama3WithRopeScaling() throws {
        let c = try Self.config("llama3")
        #expect(c == ModelConfig(
            architecture: "llama", vocabSize: 128256, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16,
            numHeads: 32, numKVHeads: 8, headDim: 64, rmsNormEps: 1e-5, ropeTheta: 500000,
            ropeScaling: RopeScaling(kind: .llama3, factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192),
            ropeStyle: .halves, maxPositionEmbeddings: 131072, tieWordEmbeddings: true, attentionBias: false,
            bosTokenId: 128000, eosTokenIds: [128001, 128008, 128009]))
    }

    @Test func qwen2WithBias() throws {
        let c = try Self.config("qwen2")
        #expect(c.architecture == "qwen2")
        #expect(c.attentionBias)
        #expect(c.hiddenSize == 896)
        #expect(c.numHeads == 14)
        #expect(c.numKVHeads == 2)
        #expect(c.headDim == 64)
        #expect(c.rmsNormEps == 1e-6)
        #expect(c.ropeTheta == 1_000_000)
        #expect(c.tieWordEmbeddings)
        // sliding_window is present but use_sliding_window is false.
        #expect(c.slidingWindow == nil)
        #expect(c.eosTokenIds == [151645])
        #expect(c.ropeStyle == .halves)

        var j = try Self.json("qwen2")
        j["use_sliding_window"] = true
        #expect(try Self.parse(j).slidingWindow == 32768)
    }

    @Test func mistralWithSlidingWindow() throws {
        let c = try Self.config("mistral")
        #expect(c.architecture == "mistral")
        #expect(c.slidingWindow == 4096)
        #expect(c.numLayers == 32)
        #expect(c.intermediateSize == 14336)
        #expect(c.headDim == 128)
        #expect(!c.tieWordEmbeddings)
        #expect(!c.attentionBias)
        #expect(c.ropeScaling == nil)

        var j = try Self.json("mistral")
        j["sliding_window"] = NSNull()
        #expect(try Self.parse(j).slidingWindow == nil)
    }

    @Test func gpt2AndOPT() throws {
        let g = try Self.config("gpt2")
        #expect(g.architecture == "gpt2")
        #expect(g.hiddenSize == 768 && g.numLayers == 12 && g.numHeads == 12 && g.numKVHeads == 12)
        #expect(g.intermediateSize == 3072)
        #expect(g.maxPositionEmbeddings == 1024)
        #expect(g.vocabSize == 50257)
        #expect(g.positionEmbedding == .learned && g.normalization == .layerNorm)
        #expect(g.tieWordEmbeddings && g.attentionBias)
        #expect(g.hiddenActivation == "gelu_new")

        let o = try Self.config("opt")
        #expect(o.architecture == "opt")
        #expect(o.intermediateSize == 3072 && o.maxPositionEmbeddings == 2048 && o.vocabSize == 50272)
        #expect(o.positionEmbedding == .learned && o.hiddenActivation == "relu")
        #expect(o.bosTokenId == 2 && o.eosTokenIds == [2])

        // OPT-350m's post-LayerNorm blocks and narrower word embeddings are OPTModel's options;
        // the shared configuration parses them unchanged.
        var j = try Self.json("opt")
        j["do_layer_norm_before"] = false
        j["word_embed_proj_dim"] = 512
        #expect(try Self.parse(j) == o)
    }

    @Test func transformers5RopeParameters() throws {
        var j = try Self.json("llama3")
        let scaling = j.removeValue(forKey: "rope_scaling")
        j.removeValue(forKey: "rope_theta")
        var rope = scaling as? [String: Any] ?? [:]
        rope["rope_theta"] = 500000.0
        j["rope_parameters"] = rope
        let c = try Self.parse(j)
        #expect(c.ropeTheta == 500000)
        #expect(c == (try Self.config("llama3")))

        // Top-level keys, when a config has both, win as they do in transformers.
        j["rope_theta"] = 10000.0
        j["rope_scaling"] = ["type": "linear", "factor": 2.0]
        #expect(try Self.parse(j).ropeTheta == 10000)
        #expect(try Self.parse(j).ropeScaling == RopeScaling(kind: .linear, factor: 2))

        j = try Self.json("mistral")
        j.removeValue(forKey: "rope_theta")
        j["rope_parameters"] = ["rope_type": "default", "rope_theta": 1000000.0]
        #expect(try Self.parse(j).ropeTheta == 1000000 && Self.parse(j).ropeScaling == nil)
        j["rope_parameters"] = ["rope_type": "yarn", "factor": 4.0, "rope_theta": 1000000.0]
        var error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
        #expect(error?.description.contains("rope_parameters type 'yarn'") == true, "\(error.map(String.init(describing:)) ?? "")")
        j["rope_parameters"] = ["rope_theta": -1.0]
        error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
        #expect(error?.description.contains("rope_theta -1") == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func bertEncoder() throws {
        let j: [String: Any] = ["architectures": ["BertModel"], "model_type": "bert", "hidden_size": 384, "intermediate_size": 1536,
                                "num_hidden_layers": 6, "num_attention_heads": 12, "vocab_size": 30522,
                                "max_position_embeddings": 512, "layer_norm_eps": 1e-12, "hidden_act": "gelu"]
        let c = try Self.parse(j)
        #expect(c.architecture == "bert" && c.headDim == 32 && c.numKVHeads == 12)
        #expect(c.positionEmbedding == .learned && c.normalization == .layerNorm && c.rmsNormEps == 1e-12)
        #expect(c.hiddenActivation == "gelu")
    }

    @Test(arguments: ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                      "rms_norm_eps", "max_position_embeddings"])
    func missingRequiredKeyIsNamed(_ key: String) throws {
        var j = try Self.json("llama3")
        j.removeValue(forKey: key)
        let error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
        #expect(error?.description.contains("missing required key '\(key)'") == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func wrongTypesAreNamed() throws {
        for (key, value, expected) in [("hidden_size", "2048" as Any, "'hidden_size' is not an integer"),
                                       ("hidden_size", 20.5 as Any, "'hidden_size' is not an integer"),
                                       ("num_hidden_layers", true as Any, "'num_hidden_layers' is not an integer"),
                                       ("rms_norm_eps", "small" as Any, "'rms_norm_eps' is not a number"),
                                       ("tie_word_embeddings", 1 as Any, "'tie_word_embeddings' is not a boolean"),
                                       ("eos_token_id", ["x"] as Any, "'eos_token_id' is not an integer or a list"),
                                       ("rope_scaling", 3 as Any, "'rope_scaling' is not an object")] {
            var j = try Self.json("llama3")
            j[key] = value
            let error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
            #expect(error?.description.contains(expected) == true, "\(key): \(error.map(String.init(describing:)) ?? "")")
        }
    }

    @Test func ropeScalingVariants() throws {
        var j = try Self.json("llama3")
        j["rope_scaling"] = ["type": "linear", "factor": 4.0]
        #expect(try Self.parse(j).ropeScaling == RopeScaling(kind: .linear, factor: 4))
        j["rope_scaling"] = NSNull()
        #expect(try Self.parse(j).ropeScaling == nil)
        j["rope_scaling"] = ["rope_type": "default"]
        #expect(try Self.parse(j).ropeScaling == nil)
        j["rope_scaling"] = ["type": "dynamic", "factor": 2.0]
        var error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
        #expect(error?.description.contains("rope_scaling type 'dynamic'") == true, "\(error.map(String.init(describing:)) ?? "")")
        j["rope_scaling"] = ["rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192]
        error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
        #expect(error?.description.contains("'rope_scaling.low_freq_factor'") == true)
    }

    @Test func modelTypeFallbacksAndErrors() throws {
        var j = try Self.json("mistral")
        j.removeValue(forKey: "model_type")
        #expect(try Self.parse(j).architecture == "mistral")
        j.removeValue(forKey: "architectures")
        var error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
        #expect(error?.description.contains("'model_type'") == true)
        j["model_type"] = "mamba"
        error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
        #expect(error?.description.contains("model_type 'mamba'") == true)
        error = #expect(throws: ModelLoadError.self) { try ModelConfig(configJSON: Data("[1]".utf8)) }
        #expect(error?.description.contains("not a JSON object") == true)
        error = #expect(throws: ModelLoadError.self) { try ModelConfig(directory: TestPaths.config("missing")) }
        #expect(error?.description.contains("missing/config.json") == true)
    }

    @Test func inconsistentNumbersAreRejected() throws {
        var j = try Self.json("llama3")
        j["num_key_value_heads"] = 5
        var error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
        #expect(error?.description.contains("not a multiple of 5 key/value heads") == true)
        j = try Self.json("llama3")
        j["hidden_size"] = 0
        error = #expect(throws: ModelLoadError.self) { try Self.parse(j) }
        #expect(error?.description.contains("hidden size 0") == true)
    }

    // MARK: Synthetic GGUF metadata

    static func gguf(_ kvs: [(String, GGUFValue)], tensors: [(String, [Int])] = [("token_embd.weight", [8, 32]), ("output.weight", [8, 32])]) throws -> GGUFFile {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-config-\(UUID().uuidString).gguf")
        try Data(GGUFBuilder(kvs: kvs, tensors: tensors).bytes()).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try GGUFFile(path: url.path)
    }

    /// The keys every GGUF model needs, for a tiny model of `architecture` (hidden 8, 2 heads of
    /// 4, 1 kv head, feed-forward 16).
    static func minimalKVs(architecture a: String, layers: Int) -> [(String, GGUFValue)] {
        [
            ("general.architecture", .string(a)),
            ("\(a).block_count", .uint32(UInt32(layers))),
            ("\(a).embedding_length", .uint32(8)),
            ("\(a).feed_forward_length", .uint32(16)),
            ("\(a).attention.head_count", .uint32(2)),
            ("\(a).attention.head_count_kv", .uint32(1)),
            ("\(a).attention.layer_norm_rms_epsilon", .float32(1e-6)),
            ("\(a).context_length", .uint32(128)),
        ]
    }

    static let baseKVs = minimalKVs(architecture: "llama", layers: 2)

    static func replacing(_ key: String, with value: GGUFValue?) -> [(String, GGUFValue)] {
        var kvs = baseKVs.filter { $0.0 != key }
        if let value { kvs.append((key, value)) }
        return kvs
    }

    @Test func syntheticGGUFDefaults() throws {
        let c = try ModelConfig(gguf: Self.gguf(Self.baseKVs))
        #expect(c.vocabSize == 32) // from token_embd.weight, with no vocab_size or token list
        #expect(c.headDim == 4 && c.ropeDimensions == 4)
        #expect(c.ropeTheta == 10000)
        #expect(c.rmsNormEps == Double(Float(1e-6)))
        #expect(!c.tieWordEmbeddings)
        #expect(c.eosTokenIds.isEmpty && c.bosTokenId == nil)
        #expect(c.ropeFrequencyFactorsTensor == nil)
    }

    @Test(arguments: ["llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
                      "llama.attention.head_count", "llama.attention.layer_norm_rms_epsilon", "llama.context_length",
                      "general.architecture"])
    func syntheticGGUFMissingKey(_ key: String) throws {
        let error = #expect(throws: ModelLoadError.self) { try ModelConfig(gguf: Self.gguf(Self.replacing(key, with: nil))) }
        #expect(error?.description.contains("missing metadata key '\(key)'") == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func syntheticGGUFVariants() throws {
        // Per-layer arrays with one value are accepted; differing ones are not.
        var c = try ModelConfig(gguf: Self.gguf(Self.replacing("llama.feed_forward_length", with: .array([.uint32(16), .uint32(16)]))))
        #expect(c.intermediateSize == 16)
        var error = #expect(throws: ModelLoadError.self) {
            try ModelConfig(gguf: Self.gguf(Self.replacing("llama.feed_forward_length", with: .array([.uint32(16), .uint32(32)]))))
        }
        #expect(error?.description.contains("differs between layers") == true)
        error = #expect(throws: ModelLoadError.self) {
            try ModelConfig(gguf: Self.gguf(Self.replacing("llama.block_count", with: .string("two"))))
        }
        #expect(error?.description.contains("'llama.block_count' is not an integer") == true)

        c = try ModelConfig(gguf: Self.gguf(Self.baseKVs + [
            ("llama.rope.scaling.type", .string("linear")), ("llama.rope.scaling.factor", .float32(4)),
            ("llama.rope.freq_base", .float32(500000)), ("llama.attention.key_length", .uint32(8)),
            ("llama.attention.value_length", .uint32(8)), ("llama.rope.dimension_count", .uint32(4)),
            ("llama.vocab_size", .uint32(30)), ("llama.attention.sliding_window", .uint32(64)),
            ("tokenizer.ggml.bos_token_id", .uint32(1)), ("tokenizer.ggml.eos_token_id", .uint32(2)),
            ("tokenizer.ggml.eot_token_id", .uint32(7)),
        ], tensors: [("token_embd.weight", [8, 32]), ("rope_freqs.weight", [4])]))
        #expect(c.ropeScaling == RopeScaling(kind: .linear, factor: 4, originalMaxPositionEmbeddings: 128))
        #expect(c.ropeTheta == 500000)
        #expect(c.headDim == 8 && c.ropeDimensions == 4)
        #expect(c.vocabSize == 30)
        #expect(c.slidingWindow == 64)
        #expect(c.tieWordEmbeddings)
        #expect(c.bosTokenId == 1 && c.eosTokenIds == [2, 7])
        #expect(c.ropeFrequencyFactorsTensor == "rope_freqs.weight")

        error = #expect(throws: ModelLoadError.self) {
            try ModelConfig(gguf: Self.gguf(Self.baseKVs + [("llama.rope.scaling.type", .string("yarn"))]))
        }
        #expect(error?.description.contains("rope scaling type 'yarn'") == true)

        error = #expect(throws: ModelLoadError.self) {
            try ModelConfig(gguf: Self.gguf(Self.replacing("llama.attention.head_count_kv", with: .uint32(0))))
        }
        #expect(error?.description.contains("key/value head count 0") == true)

        // Qwen2 GGUFs keep Hugging Face's rotary layout and carry Q/K/V biases.
        let qwen = Self.baseKVs.map { kv -> (String, GGUFValue) in
            kv.0 == "general.architecture" ? (kv.0, .string("qwen2")) : (kv.0.replacingOccurrences(of: "llama.", with: "qwen2."), kv.1)
        }
        c = try ModelConfig(gguf: Self.gguf(qwen, tensors: [("token_embd.weight", [8, 32]), ("blk.0.attn_q.bias", [8])]))
        #expect(c.architecture == "qwen2")
        #expect(c.ropeStyle == .halves)
        #expect(c.attentionBias)
    }
}

/// Writes minimal GGUF v3 files (F32 tensors of zeros) for metadata tests.
struct GGUFBuilder {
    var kvs: [(String, GGUFValue)]
    var tensors: [(String, [Int])]

    func bytes() -> [UInt8] {
        var b: [UInt8] = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
        func code(_ v: GGUFValue) -> UInt32 {
            switch v {
            case .uint8: return 0
            case .int8: return 1
            case .uint16: return 2
            case .int16: return 3
            case .uint32: return 4
            case .int32: return 5
            case .float32: return 6
            case .bool: return 7
            case .string: return 8
            case .array: return 9
            case .uint64: return 10
            case .int64: return 11
            case .float64: return 12
            }
        }
        func value(_ v: GGUFValue) {
            switch v {
            case .uint8(let x): b.append(x)
            case .int8(let x): b.append(UInt8(bitPattern: x))
            case .uint16(let x): withUnsafeBytes(of: x.littleEndian) { b += $0 }
            case .int16(let x): withUnsafeBytes(of: x.littleEndian) { b += $0 }
            case .uint32(let x): u32(x)
            case .int32(let x): u32(UInt32(bitPattern: x))
            case .float32(let x): u32(x.bitPattern)
            case .bool(let x): b.append(x ? 1 : 0)
            case .string(let s): string(s)
            case .uint64(let x): u64(x)
            case .int64(let x): u64(UInt64(bitPattern: x))
            case .float64(let x): u64(x.bitPattern)
            case .array(let items):
                u32(items.first.map(code) ?? 0)
                u64(UInt64(items.count))
                items.forEach(value)
            }
        }
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(kvs.count))
        for (k, v) in kvs {
            string(k)
            u32(code(v))
            value(v)
        }
        var offset = 0
        for (name, shape) in tensors {
            string(name)
            u32(UInt32(shape.count))
            shape.forEach { u64(UInt64($0)) }
            u32(0)
            u64(UInt64(offset))
            offset += (shape.reduce(4, *) + 31) / 32 * 32
        }
        b += [UInt8](repeating: 0, count: (b.count + 31) / 32 * 32 - b.count + offset)
        return b
    }
}
