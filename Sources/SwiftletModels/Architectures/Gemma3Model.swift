import Foundation
import SwiftletKernels
import SwiftletFormats

/// Gemma 3 (text): sliding-window layers interleaved with global ones, each with its own rotary
/// base; RMSNorm of every query and key head; norms before and after both attention and the
/// GeGLU feed-forward; embeddings scaled by sqrt(hidden size); tied output head. Loaded with a
/// `TensorShard`, it holds and runs one rank's share of the weights (see `ShardLayout`).
public final class Gemma3Model: CausalLanguageModel, @unchecked Sendable {
    public let config: ModelConfig
    public let precision: ComputePrecision
    let options: Gemma3Options

    struct Layer {
        var attnNorm: [Float]
        var qkv: Linear
        var qNorm: [Float]
        var kNorm: [Float]
        var output: Linear
        var postAttnNorm: [Float]
        var ffnNorm: [Float]
        var gateUp: Linear
        var down: Linear
        var postFfnNorm: [Float]
        /// Attends only within `config.slidingWindow`, with the local rotary base.
        var sliding: Bool
    }

    private let layers: [Layer]
    private let finalNorm: [Float]
    private let head: Linear
    private let embedding: WeightSource
    private let embeddingRowBytes: Int
    private let globalInvFreq: [Float]
    private let localInvFreq: [Float]
    private let activation: FeedForwardActivation
    private let file: AnyObject
    private let workspace = Workspace()
    private let logitsBuffer = LogitsBuffer()
    /// This rank's heads, columns and vocabulary rows (all of them without tensor parallelism).
    let layout: ShardLayout
    /// The threads forward passes run on.
    let pool: ThreadPool
    public let residentBytes: Int
    public var cacheKVHeads: Int { layout.kvHeads }

    /// Loads a GGUF file (llama.cpp's `gemma3`), or `shard`'s share of it. `progress` is called with
    /// (tensors done, total).
    public convenience init(gguf: GGUFFile, config: ModelConfig, precision: ComputePrecision = .fast, shard: TensorShard? = nil,
                            progress: LoadProgress? = nil) throws {
        try self.init(weights: CheckpointWeights(gguf), file: gguf, config: config,
                      options: Gemma3Options(gguf: gguf, config: config), precision: precision, shard: shard, progress: progress)
    }

    /// Loads a Hugging Face `Gemma3ForCausalLM` checkpoint, or `shard`'s share of it.
    convenience init(checkpoint: SafetensorsCheckpoint, config: ModelConfig, huggingFace: HuggingFaceConfig,
                     precision: ComputePrecision = .fast, shard: TensorShard? = nil, progress: LoadProgress? = nil) throws {
        try self.init(weights: CheckpointWeights(checkpoint, rename: Self.huggingFaceName), file: checkpoint, config: config,
                      options: Gemma3Options(huggingFace: huggingFace), precision: precision, shard: shard, progress: progress)
    }

    /// The Hugging Face name of a tensor given its GGUF name.
    static func huggingFaceName(_ gguf: String) -> String {
        let global = ["token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight"]
        if let g = global[gguf] { return g }
        let parts = gguf.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blk" else { return gguf }
        let local = ["attn_norm.weight": "input_layernorm.weight", "post_attention_norm.weight": "post_attention_layernorm.weight",
                     "ffn_norm.weight": "pre_feedforward_layernorm.weight", "post_ffw_norm.weight": "post_feedforward_layernorm.weight",
                     "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
                     "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
                     "attn_q_norm.weight": "self_attn.q_norm.weight", "attn_k_norm.weight": "self_attn.k_norm.weight",
                     "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
                     "ffn_down.weight": "mlp.down_proj.weight"]
        return "model.layers.\(parts[1]).\(local[String(parts[2])] ?? String(parts[2]))"
    }

    /// Reads tensors by their GGUF names, whatever the file.
    private init(weights w: CheckpointWeights, file: AnyObject, config: ModelConfig, options: Gemma3Options,
                 precision: ComputePrecision, shard: TensorShard?, progress: LoadProgress?) throws {
        let path = w.path
        guard !config.attentionBias else {
            throw ModelLoadError.unsupported(path: path, reason: "Gemma 3 with attention biases")
        }
        self.config = config
        self.precision = precision
        self.options = options
        self.file = file
        let layout = try ShardLayout(config: config, shard: shard, path: path)
        self.layout = layout
        pool = shard?.pool ?? .shared
        activation = try FeedForwardActivation(name: config.hiddenActivation, path: path)
        let D = config.hiddenSize, hd = config.headDim
        let source = { try w.matrix($0, rows: $1, columns: $2) }
        let offset = options.normWeightOffset
        let norm = { (name: String, count: Int) in try w.vector(name, count: count).map { $0 + offset } }

        let total = config.numLayers + 1
        var built: [Layer] = []
        var resident = 0
        for i in 0..<config.numLayers {
            let p = "blk.\(i)."
            let layer = Layer(
                attnNorm: try norm(p + "attn_norm.weight", D),
                qkv: try w.attentionProjection(p, config: config, layout: layout, precision: precision),
                qNorm: try norm(p + "attn_q_norm.weight", hd),
                kNorm: try norm(p + "attn_k_norm.weight", hd),
                output: try w.rowParallel(p + "attn_output.weight", outputs: D, inputs: config.numHeads * hd,
                                          columns: layout.queryRows(headDim: hd), precision: precision),
                postAttnNorm: try norm(p + "post_attention_norm.weight", D),
                ffnNorm: try norm(p + "ffn_norm.weight", D),
                gateUp: try w.gateUpProjection(p, config: config, layout: layout, precision: precision),
                down: try w.rowParallel(p + "ffn_down.weight", outputs: D, inputs: config.intermediateSize,
                                        columns: layout.intermediateColumns, precision: precision),
                postFfnNorm: try norm(p + "post_ffw_norm.weight", D),
                sliding: config.slidingWindow(layer: i) != nil)
            resident += layer.qkv.residentBytes + layer.output.residentBytes + layer.gateUp.residentBytes + layer.down.residentBytes
            built.append(layer)
            progress?(i + 1, total)
        }
        layers = built
        finalNorm = try norm("output_norm.weight", D)
        embedding = try source("token_embd.weight", config.vocabSize, D)
        embeddingRowBytes = embedding.type.byteCount(elements: D)!
        // GGUF files leave out `output.weight` when it is tied; transformers ignores a stored
        // lm_head of a tied checkpoint.
        let untied = w.has("output.weight") && !((file is SafetensorsCheckpoint) && config.tieWordEmbeddings)
        let headSource = untied ? try source("output.weight", config.vocabSize, D) : embedding
        // Each rank computes the logits of its vocabulary rows only.
        head = try Linear([headSource.rows(layout.vocabulary)], precision: precision)
        resident += head.residentBytes
        residentBytes = resident
        globalInvFreq = RotaryEmbedding.inverseFrequencies(config: config)
        var local = config
        local.ropeTheta = options.localRopeTheta
        local.ropeScaling = nil
        localInvFreq = RotaryEmbedding.inverseFrequencies(config: local)
        progress?(total, total)
    }

    /// Batches of at least this many tokens split their row-wise operations over threads.
    static let parallelRowsThreshold = 8

    /// With tensor parallelism: rank 0 returns the logits, the other ranks [] (after taking part
    /// in every collective of the pass).
    public func recycleLogits(_ logits: consuming [Float]) { logitsBuffer.recycle(logits) }

    public func forward(tokens: [Int32], metadata: AttentionMetadata, cache: PagedKVCache) -> [Float] {
        let T = tokens.count
        precondition(T == metadata.numTokens, "tokens and metadata disagree")
        precondition(cache.numKVHeads == cacheKVHeads, "the cache holds \(cache.numKVHeads) kv heads, this model \(cacheKVHeads)")
        precondition(cache.groups.numLayers == layers.count, "the cache's groups have \(cache.groups.numLayers) layers, this model \(layers.count)")
        if T == 0 { return [] }
        let c = config
        // This rank's heads and intermediate columns (all of them unsharded).
        let D = c.hiddenSize, hd = c.headDim, F = layout.intermediate, H = layout.heads, KV = layout.kvHeads
        let qWidth = H * hd, kvWidth = KV * hd, qkvWidth = qWidth + 2 * kvWidth
        let rot = c.ropeDimensions
        let pool = self.pool
        let eps = Float(c.rmsNormEps)
        let window = c.slidingWindow ?? 0

        let buffers = workspace.floats([T * D, T * max(D, qWidth), T * qkvWidth, T * qWidth, T * 2 * F, T * F, T * rot, T * rot])
        let h = buffers[0], xn = buffers[1], qkv = buffers[2], att = buffers[3], gu = buffers[4], act = buffers[5]
        let globalAngles = buffers[6], localAngles = buffers[7]
        // transformers scales the embeddings by sqrt(hidden) in the compute dtype (fp32 here).
        let embedScale = Float(D).squareRoot()
        for (i, t) in tokens.enumerated() {
            let row = embedding.data + Int(t) * embeddingRowBytes
            try! dequantize(embedding.type, row, count: D, into: h + i * D)
            for j in 0..<D { h[i * D + j] *= embedScale }
        }
        metadata.positions.withUnsafeBufferPointer { positions in
            for (freq, angles) in [(globalInvFreq, globalAngles), (localInvFreq, localAngles)] {
                freq.withUnsafeBufferPointer {
                    RowOps.ropeAngles(positions: positions.baseAddress!, rows: T, inverseFrequencies: $0.baseAddress!, half: rot / 2, into: angles)
                }
            }
        }
        let split = T >= Self.parallelRowsThreshold
        func rows(_ body: (Int, Int) -> Void) {
            if split { pool.parallelFor(T) { body($0.lowerBound, $0.count) } } else { body(0, T) }
        }
        /// RMSNorm of `src`'s rows into `dst` (both `D` wide), with weight `w`.
        func norm(_ w: [Float], _ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ r0: Int, _ n: Int) {
            w.withUnsafeBufferPointer {
                RowOps.rmsNorm(src + r0 * D, ldx: D, weight: $0.baseAddress!, into: dst + r0 * D, ldo: D, rows: n, n: D, eps: eps)
            }
        }
        for (li, layer) in layers.enumerated() {
            rows { norm(layer.attnNorm, h, xn, $0, $1) }
            layer.qkv.forward(xn, ldx: D, m: T, qkv, ldy: qkvWidth, workspace: workspace, pool: pool)
            let angles = layer.sliding ? localAngles : globalAngles
            // With KV cache groups the layer reads and writes its group's blocks, in its slot.
            let slot = cache.groups.layerSlot[li]
            metadata.withKernelBatch(group: cache.groups.layerGroup[li]) { batch in
                let slots = batch.slots
                layer.qNorm.withUnsafeBufferPointer { qn in
                    layer.kNorm.withUnsafeBufferPointer { kn in
                        rows { r0, n in
                            // Each head is normalised on its own: a row of heads is `H` rows of `hd`.
                            for r in r0..<(r0 + n) {
                                let q = qkv + r * qkvWidth
                                RowOps.rmsNorm(q, ldx: hd, weight: qn.baseAddress!, into: q, ldo: hd, rows: H, n: hd, eps: eps)
                                RowOps.rmsNorm(q + qWidth, ldx: hd, weight: kn.baseAddress!, into: q + qWidth, ldo: hd, rows: KV, n: hd, eps: eps)
                            }
                            let q = qkv + r0 * qkvWidth, a = angles + r0 * rot
                            RowOps.rope(q, ld: qkvWidth, rows: n, heads: H, headDim: hd, rotaryDims: rot, angles: a, halves: true)
                            RowOps.rope(q + qWidth, ld: qkvWidth, rows: n, heads: KV, headDim: hd, rotaryDims: rot, angles: a, halves: true)
                            PagedAttention.write(keys: q + qWidth, ldk: qkvWidth, values: q + qWidth + kvWidth, ldv: qkvWidth,
                                                 slots: slots + r0, rows: n, cache: cache, layer: slot)
                        }
                    }
                }
                PagedAttention.attend(qkv, ldq: qkvWidth, into: att, ldo: qWidth, heads: H, cache: cache, layer: slot,
                                      batch: &batch, scale: options.queryScale, window: layer.sliding ? window : 0, pool: pool)
            }
            layer.output.forward(att, ldx: qWidth, m: T, xn, ldy: D, workspace: workspace, pool: pool)
            // Sharded, each rank's o_proj saw only its heads: the sum over ranks is the output.
            layout.allReduce(xn, count: T * D)
            rows { r0, n in
                norm(layer.postAttnNorm, xn, xn, r0, n)
                RowOps.add(h + r0 * D, ldy: D, xn + r0 * D, ldx: D, rows: n, n: D)
                norm(layer.ffnNorm, h, xn, r0, n)
            }
            layer.gateUp.forward(xn, ldx: D, m: T, gu, ldy: 2 * F, workspace: workspace, pool: pool)
            rows { r0, n in
                GatedActivation.apply(activation, gateUp: gu + r0 * 2 * F, ld: 2 * F, into: act + r0 * F, ldo: F, rows: n, n: F)
            }
            layer.down.forward(act, ldx: F, m: T, xn, ldy: D, workspace: workspace, pool: pool)
            layout.allReduce(xn, count: T * D)
            rows { r0, n in
                norm(layer.postFfnNorm, xn, xn, r0, n)
                RowOps.add(h + r0 * D, ldy: D, xn + r0 * D, ldx: D, rows: n, n: D)
            }
        }
        return logits(h, metadata: metadata)
    }

    /// The final norm and the head for the rows that need logits, soft-capped if configured
    /// (whole rows on rank 0 when sharded).
    private func logits(_ h: UnsafeMutablePointer<Float>, metadata: AttentionMetadata) -> [Float] {
        // The cap is elementwise, so each rank caps its slice before the gather.
        let cap = options.finalLogitSoftcap
        let slice = rmsNormHeadLogits(h, width: config.hiddenSize, indices: metadata.logitsIndices, norm: finalNorm,
                                      eps: Float(config.rmsNormEps), head: head, vocabSize: layout.vocabulary.count,
                                      workspace: workspace, pool: pool, buffer: logitsBuffer,
                                      finish: cap.map { cap in { p, n in for i in 0..<n { p[i] = cap * tanhf(p[i] / cap) } } })
        return layout.gatherLogits(slice, rows: metadata.logitsIndices.count)
    }
}

extension ModelArchitecture {
    /// Gemma 3's text model: llama.cpp's `gemma3` GGUF files and `Gemma3ForCausalLM` checkpoints.
    static let gemma3 = ModelArchitecture(
        modelType: "gemma3_text", ggufArchitecture: "gemma3", huggingFaceClasses: ["Gemma3ForCausalLM"],
        configure: { try Gemma3Model.configuration($0) },
        tensorParallel: true,
        loadGGUF: { try Gemma3Model(gguf: $0, config: $1, precision: $2, shard: $3, progress: $4) },
        loadCheckpoint: { try Gemma3Model(checkpoint: $0, config: $1, huggingFace: $2, precision: $3, shard: $4, progress: $5) },
        builtinChatTemplateSource: BuiltinChatTemplates.gemma)
}
