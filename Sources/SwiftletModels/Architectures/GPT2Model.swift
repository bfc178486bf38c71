import Foundation
import SwiftletKernels
import SwiftletFormats

/// GPT-2: learned absolute positions, pre-LayerNorm blocks with biases everywhere, a GELU (tanh)
/// feed-forward network, and the output head tied to the token embedding.
///
/// Hugging Face stores GPT-2's projections as `Conv1D`, whose weight is `[in, out]` (the transpose
/// of `nn.Linear`); they are transposed once at load. llama.cpp's converter already writes them as
/// `[out, in]`, so GGUF weights are used as stored (and may stay quantized). `c_attn` / `attn_qkv`
/// is q, k and v fused in that order.
public final class GPT2Model: CausalLanguageModel, @unchecked Sendable {
    public let config: ModelConfig
    public let precision: ComputePrecision

    /// Where a format keeps each tensor. Names are stems: LayerNorms and projections add
    /// `.weight` and `.bias`.
    struct TensorNames {
        var tokenEmbedding: String
        var positionEmbedding: String
        var finalNorm: String
        var outputHead: String
        /// Per layer: LayerNorm 1, fused qkv, attention output, LayerNorm 2, up and down projections.
        var layer: (Int) -> (norm1: String, qkv: String, attentionOutput: String, norm2: String, up: String, down: String)
        /// Projections are stored `[in, out]` (Hugging Face `Conv1D`) rather than `[out, in]`.
        var transposedProjections: Bool

        /// A Hugging Face `GPT2LMHeadModel` whose tensors are under `prefix` ("transformer." or "").
        static func huggingFace(prefix p: String) -> TensorNames {
            TensorNames(tokenEmbedding: p + "wte.weight", positionEmbedding: p + "wpe.weight", finalNorm: p + "ln_f",
                        outputHead: "lm_head.weight",
                        layer: { i in
                            let l = p + "h.\(i)."
                            return (l + "ln_1", l + "attn.c_attn", l + "attn.c_proj", l + "ln_2", l + "mlp.c_fc", l + "mlp.c_proj")
                        },
                        transposedProjections: true)
        }

        /// llama.cpp's names for the `gpt2` architecture.
        static var gguf: TensorNames {
            TensorNames(tokenEmbedding: "token_embd.weight", positionEmbedding: "position_embd.weight", finalNorm: "output_norm",
                        outputHead: "output.weight",
                        layer: { i in
                            let l = "blk.\(i)."
                            return (l + "attn_norm", l + "attn_qkv", l + "attn_output", l + "ffn_norm", l + "ffn_up", l + "ffn_down")
                        },
                        transposedProjections: false)
        }
    }

    private let layers: [LayerNormBlock]
    private let finalNorm: LayerNormWeights
    private let embedding: WeightSource
    private let positions: [Float]
    private let head: Linear
    private let activation: FeedForwardActivation
    /// The mapped checkpoint or GGUF file, which `embedding` (and unconverted weights) point into.
    private let file: AnyObject
    private let workspace = Workspace()
    public let residentBytes: Int

    /// Loads a Hugging Face `GPT2LMHeadModel` checkpoint. `progress` is called with (layers done, total).
    /// `huggingFace` is the checkpoint's `config.json`, for the attention switches `ModelConfig`
    /// has no place for.
    public convenience init(checkpoint: SafetensorsCheckpoint, config: ModelConfig, huggingFace: HuggingFaceConfig,
                            precision: ComputePrecision = .fast, progress: LoadProgress? = nil) throws {
        let w = CheckpointWeights(checkpoint)
        // Older checkpoints (the original "gpt2") have no "transformer." wrapper prefix.
        let p = try w.prefix(among: ["transformer.", ""], probe: "wte.weight")
        let flags = (scaleWeights: try huggingFace.optionalBool("scale_attn_weights") ?? true,
                     scaleByInverseLayer: try huggingFace.optionalBool("scale_attn_by_inverse_layer_idx") ?? false)
        try self.init(weights: w, names: .huggingFace(prefix: p), file: checkpoint, path: checkpoint.directory.path,
                      attentionFlags: flags, config: config, precision: precision, progress: progress)
    }

    /// Loads a GGUF file of llama.cpp's `gpt2` architecture. `progress` is called with (layers done, total).
    public convenience init(gguf: GGUFFile, config: ModelConfig, precision: ComputePrecision = .fast,
                            progress: ((Int, Int) -> Void)? = nil) throws {
        // llama.cpp's gpt2 graph always scales by 1/sqrt(head_dim) and has no per-layer scaling,
        // and its converter does not record the Hugging Face switches, so these are the defaults.
        try self.init(weights: CheckpointWeights(gguf), names: .gguf, file: gguf, path: gguf.path,
                      attentionFlags: (scaleWeights: true, scaleByInverseLayer: false),
                      config: config, precision: precision, progress: progress)
    }

    private init(weights w: CheckpointWeights, names: TensorNames, file: AnyObject, path: String,
                 attentionFlags flags: (scaleWeights: Bool, scaleByInverseLayer: Bool),
                 config: ModelConfig, precision: ComputePrecision, progress: ((Int, Int) -> Void)?) throws {
        self.config = config
        self.precision = precision
        self.file = file
        let D = config.hiddenSize, F = config.intermediateSize
        activation = try FeedForwardActivation(name: config.hiddenActivation, path: path)

        func projection(_ name: String, outputs: Int, inputs: Int) throws -> Linear {
            let bias = try w.vector(name + ".bias", count: outputs)
            guard names.transposedProjections else {
                return try Linear([try w.matrix(name + ".weight", rows: outputs, columns: inputs)], bias: bias, precision: precision)
            }
            let weight = try w.transposedMatrix(name + ".weight", rows: outputs, columns: inputs)
            return try withExtendedLifetime(weight) { try Linear([weight.source], bias: bias, precision: precision) }
        }

        let total = config.numLayers + 1
        var built: [LayerNormBlock] = []
        var resident = 0
        for i in 0..<config.numLayers {
            let n = names.layer(i)
            var scale = flags.scaleWeights ? 1 / Float(config.headDim).squareRoot() : 1
            if flags.scaleByInverseLayer { scale /= Float(i + 1) }
            let layer = LayerNormBlock(
                attentionNorm: try w.layerNorm(n.norm1, width: D),
                attention: PagedSelfAttention(qkv: try projection(n.qkv, outputs: 3 * D, inputs: D),
                                              output: try projection(n.attentionOutput, outputs: D, inputs: D), scale: scale),
                ffnNorm: try w.layerNorm(n.norm2, width: D),
                up: try projection(n.up, outputs: F, inputs: D),
                down: try projection(n.down, outputs: D, inputs: F))
            resident += layer.residentBytes
            built.append(layer)
            progress?(i + 1, total)
        }
        layers = built
        finalNorm = try w.layerNorm(names.finalNorm, width: D)
        embedding = try w.matrix(names.tokenEmbedding, rows: config.vocabSize, columns: D)
        positions = try w.floats(names.positionEmbedding, rows: config.maxPositionEmbeddings, columns: D)
        // transformers ignores a stored lm_head when the embeddings are tied; a GGUF file's
        // configuration is tied exactly when it has no output tensor.
        let untied = !config.tieWordEmbeddings && w.has(names.outputHead)
        head = try Linear([untied ? try w.matrix(names.outputHead, rows: config.vocabSize, columns: D) : embedding], precision: precision)
        resident += head.residentBytes + positions.count * MemoryLayout<Float>.size
        residentBytes = resident
        progress?(total, total)
    }

    public func forward(tokens: [Int32], metadata: AttentionMetadata, cache: PagedKVCache) -> [Float] {
        let T = tokens.count
        precondition(T == metadata.numTokens, "tokens and metadata disagree")
        if T == 0 { return [] }
        let c = config
        let D = c.hiddenSize, hd = c.headDim, F = c.intermediateSize, H = c.numHeads
        let eps = Float(c.rmsNormEps)
        let pool = ThreadPool.shared
        let bufs = workspace.floats([T * D, T * D, T * 3 * D, T * D, T * F])
        let h = bufs[0], xn = bufs[1], qkv = bufs[2], att = bufs[3], ff = bufs[4]
        let rowBytes = embedding.type.byteCount(elements: D)!
        for (i, t) in tokens.enumerated() {
            try! dequantize(embedding.type, embedding.data + Int(t) * rowBytes, count: D, into: h + i * D)
            // Positions past the table are a caller error (the engine caps the context length).
            let pos = Int(metadata.positions[i])
            precondition(pos < c.maxPositionEmbeddings, "position \(pos) is outside the learned table")
            positions.withUnsafeBufferPointer { RowOps.add(h + i * D, ldy: D, $0.baseAddress! + pos * D, ldx: D, rows: 1, n: D) }
        }
        metadata.withKernelBatch { batch in
            for (li, layer) in layers.enumerated() {
                layer.forward(h, rows: T, preNorm: true, eps: eps, activation: activation, ffnWidth: F, scratch: xn, qkv: qkv, att: att,
                              ff: ff, heads: H, headDim: hd, cache: cache, layer: li, batch: &batch, workspace: workspace, pool: pool)
            }
        }
        // Only the rows that need logits go through the final norm and the output head.
        return headLogits(h, width: D, indices: metadata.logitsIndices, norm: finalNorm, eps: eps, projectedWidth: D, head: head,
                          vocabSize: c.vocabSize, workspace: workspace, pool: pool)
    }
}

extension ModelArchitecture {
    static let gpt2 = ModelArchitecture(
        modelType: "gpt2", ggufArchitecture: "gpt2", huggingFaceClasses: ["GPT2LMHeadModel"],
        configure: GPT2Model.configuration,
        loadGGUF: { gguf, config, precision, _, progress in try GPT2Model(gguf: gguf, config: config, precision: precision, progress: progress) },
        loadCheckpoint: { checkpoint, config, hf, precision, _, progress in
            try GPT2Model(checkpoint: checkpoint, config: config, huggingFace: hf, precision: precision, progress: progress)
        })
}

extension GPT2Model {
    /// The configuration of a GPT-2 `config.json`.
    static func configuration(_ c: HuggingFaceConfig) throws -> ModelConfig {
        let hidden = try c.int("n_embd")
        return ModelConfig(
            architecture: "gpt2",
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
    }
}
