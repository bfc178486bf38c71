import Foundation
import SwiftletKernels
import SwiftletFormats

/// Meta's OPT: learned positions offset by 2, LayerNorm blocks with biases, a ReLU feed-forward
/// network, the head tied to the token embedding.
///
/// Two variants exist: LayerNorm before each sub-block with a final LayerNorm (OPT-125m and most
/// sizes), and LayerNorm after each residual add with no final one (OPT-350m). OPT-350m also
/// embeds words in fewer dimensions than the hidden size, mapped in and out by `project_in` and
/// `project_out`.
public final class OPTModel: CausalLanguageModel, @unchecked Sendable {
    public let config: ModelConfig
    public let precision: ComputePrecision

    /// OPT settings that `ModelConfig` does not describe.
    public struct Options: Sendable, Equatable {
        /// `do_layer_norm_before`: pre-LayerNorm (true) or post-LayerNorm (false) blocks.
        public var layerNormBefore: Bool
        /// `word_embed_proj_dim`: width of the token embedding (and of the head's input).
        public var wordEmbeddingSize: Int
        /// Whether the decoder ends with a LayerNorm (pre-LayerNorm models that do not set
        /// `_remove_final_layer_norm`).
        public var finalLayerNorm: Bool
    }

    /// HF's `OPTLearnedPositionalEmbedding` keeps two rows before position 0 (a fairseq relic of
    /// padding); position p reads row p + 2.
    static let positionOffset = 2

    public let options: Options
    private let layers: [LayerNormBlock]
    private let finalNorm: LayerNormWeights?
    private let embedding: WeightSource
    private let positions: [Float]
    private let projectIn: Linear?
    private let projectOut: Linear?
    private let head: Linear
    private let activation: FeedForwardActivation
    private let checkpoint: SafetensorsCheckpoint
    private let workspace = Workspace()
    public let residentBytes: Int

    /// Reads `config.json` of an OPT directory: the shared configuration and the OPT-only options.
    public static func configuration(directory: URL) throws -> (ModelConfig, Options) {
        let c = try HuggingFaceConfig(directory: directory)
        let config = try ModelConfig(huggingFace: c)
        return (config, try options(c))
    }

    /// The OPT-only switches of a `config.json`.
    static func options(_ c: HuggingFaceConfig) throws -> Options {
        let before = try c.optionalBool("do_layer_norm_before") ?? true
        let projection = try c.optionalInt("word_embed_proj_dim") ?? c.int("hidden_size")
        guard projection > 0, projection < 1 << 20 else {
            throw ModelLoadError.malformed(path: c.path, reason: "word_embed_proj_dim is out of range")
        }
        let removeFinal = try c.optionalBool("_remove_final_layer_norm") ?? false
        return Options(layerNormBefore: before, wordEmbeddingSize: projection, finalLayerNorm: before && !removeFinal)
    }

    /// Loads a Hugging Face `OPTForCausalLM` checkpoint. `progress` is called with (layers done, total).
    public init(checkpoint: SafetensorsCheckpoint, config: ModelConfig, options: Options,
                precision: ComputePrecision = .fast, progress: ((Int, Int) -> Void)? = nil) throws {
        self.config = config
        self.options = options
        self.precision = precision
        self.checkpoint = checkpoint
        let path = checkpoint.directory.path
        let w = CheckpointWeights(checkpoint)
        let D = config.hiddenSize, F = config.intermediateSize, P = options.wordEmbeddingSize
        activation = try FeedForwardActivation(name: config.hiddenActivation, path: path)

        let p = try w.prefix(among: ["model.decoder.", "decoder."], probe: "embed_tokens.weight")
        // `layer_norm_elementwise_affine = false` leaves LayerNorms without parameters.
        func norm(_ name: String) throws -> LayerNormWeights { try w.optionalLayerNorm(name, width: D) }
        func linear(_ names: [String], rows: [Int], columns: Int) throws -> Linear {
            try w.linear(names, rows: rows, columns: columns, precision: precision, biasRequired: false)
        }

        let total = config.numLayers + 1
        var built: [LayerNormBlock] = []
        var resident = 0
        for i in 0..<config.numLayers {
            let lp = p + "layers.\(i)."
            let layer = LayerNormBlock(
                attentionNorm: try norm(lp + "self_attn_layer_norm"),
                attention: PagedSelfAttention(
                    qkv: try linear([lp + "self_attn.q_proj", lp + "self_attn.k_proj", lp + "self_attn.v_proj"], rows: [D, D, D], columns: D),
                    output: try linear([lp + "self_attn.out_proj"], rows: [D], columns: D),
                    scale: 1 / Float(config.headDim).squareRoot()),
                ffnNorm: try norm(lp + "final_layer_norm"),
                up: try linear([lp + "fc1"], rows: [F], columns: D),
                down: try linear([lp + "fc2"], rows: [D], columns: F))
            resident += layer.residentBytes
            built.append(layer)
            progress?(i + 1, total)
        }
        layers = built
        finalNorm = options.finalLayerNorm ? try norm(p + "final_layer_norm") : nil
        embedding = try w.matrix(p + "embed_tokens.weight", rows: config.vocabSize, columns: P)
        positions = try w.floats(p + "embed_positions.weight", rows: config.maxPositionEmbeddings + Self.positionOffset, columns: D)
        if P != D {
            projectIn = try linear([p + "project_in"], rows: [D], columns: P)
            projectOut = try linear([p + "project_out"], rows: [P], columns: D)
        } else {
            projectIn = nil
            projectOut = nil
        }
        let untied = !config.tieWordEmbeddings && w.has("lm_head.weight")
        head = try Linear([untied ? try w.matrix("lm_head.weight", rows: config.vocabSize, columns: P) : embedding], precision: precision)
        resident += head.residentBytes + (projectIn?.residentBytes ?? 0) + (projectOut?.residentBytes ?? 0)
        residentBytes = resident + positions.count * MemoryLayout<Float>.size
        progress?(total, total)
    }

    public func forward(tokens: [Int32], metadata: AttentionMetadata, cache: PagedKVCache) -> [Float] {
        let T = tokens.count
        precondition(T == metadata.numTokens, "tokens and metadata disagree")
        if T == 0 { return [] }
        let c = config
        let D = c.hiddenSize, hd = c.headDim, F = c.intermediateSize, H = c.numHeads, P = options.wordEmbeddingSize
        let eps = Float(c.rmsNormEps)
        let pool = ThreadPool.shared
        let before = options.layerNormBefore
        let bufs = workspace.floats([T * D, T * max(D, P), T * 3 * D, T * D, T * F])
        let h = bufs[0], xn = bufs[1], qkv = bufs[2], att = bufs[3], ff = bufs[4]

        // Token embeddings (P wide), mapped to the hidden size when the widths differ.
        let rowBytes = embedding.type.byteCount(elements: P)!
        let words = projectIn == nil ? h : xn
        for (i, t) in tokens.enumerated() {
            try! dequantize(embedding.type, embedding.data + Int(t) * rowBytes, count: P, into: words + i * P)
        }
        projectIn?.forward(xn, ldx: P, m: T, h, ldy: D, workspace: workspace, pool: pool)
        for i in 0..<T {
            let row = Int(metadata.positions[i]) + Self.positionOffset
            precondition(row < positions.count / D, "position \(row - Self.positionOffset) is outside the learned table")
            positions.withUnsafeBufferPointer { RowOps.add(h + i * D, ldy: D, $0.baseAddress! + row * D, ldx: D, rows: 1, n: D) }
        }

        metadata.withKernelBatch { batch in
            for (li, layer) in layers.enumerated() {
                layer.forward(h, rows: T, preNorm: before, eps: eps, activation: activation, ffnWidth: F, scratch: xn, qkv: qkv,
                              att: att, ff: ff, heads: H, headDim: hd, cache: cache, layer: li, batch: &batch, workspace: workspace,
                              pool: pool)
            }
        }

        // Only the rows that need logits go through the final norm, project_out and the head.
        return headLogits(h, width: D, indices: metadata.logitsIndices, norm: finalNorm, eps: eps, projection: projectOut,
                          projectedWidth: P, head: head, vocabSize: c.vocabSize, workspace: workspace, pool: pool)
    }
}

extension ModelArchitecture {
    static let opt = ModelArchitecture(
        modelType: "opt", huggingFaceClasses: ["OPTForCausalLM"],
        configure: OPTModel.configuration,
        loadCheckpoint: { checkpoint, config, hf, precision, _, progress in
            try OPTModel(checkpoint: checkpoint, config: config, options: OPTModel.options(hf), precision: precision, progress: progress)
        })
}

extension OPTModel {
    /// The shared configuration of an OPT `config.json`; its own switches are `Options`.
    static func configuration(_ c: HuggingFaceConfig) throws -> ModelConfig {
        ModelConfig(
            architecture: "opt",
            vocabSize: try c.int("vocab_size"),
            hiddenSize: try c.int("hidden_size"),
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
    }
}
