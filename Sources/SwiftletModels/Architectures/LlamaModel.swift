import Foundation
import SwiftletKernels
import SwiftletFormats

/// The LLaMA architecture (also SmolLM2, Llama 3.x, Mistral, Qwen2, Qwen3, Phi-3): RMSNorm, RoPE,
/// grouped-query attention, SwiGLU feed-forward; optionally tied embeddings, q/k/v biases (Qwen2),
/// per-head q/k RMSNorm (Qwen3), fused q/k/v and gate/up projections (Phi-3). Loaded with a
/// `TensorShard`, it holds and runs one rank's share of the weights (see `ShardLayout`).
public final class LlamaModel: CausalLanguageModel, @unchecked Sendable {
    public let config: ModelConfig
    public let precision: ComputePrecision

    struct Layer {
        var attnNorm: [Float]
        var qkv: Linear
        /// Per-head RMSNorm weights of q and k, applied before RoPE (Qwen3).
        var qNorm: [Float]?
        var kNorm: [Float]?
        var output: Linear
        var ffnNorm: [Float]
        var gateUp: Linear
        var down: Linear
    }

    private let layers: [Layer]
    private let finalNorm: [Float]
    private let head: Linear
    private let embedding: WeightSource
    private let embeddingRowBytes: Int
    private let rope: RotaryEmbedding
    /// The engine's max model length (`prepare`); until one is given, the longest sequence the
    /// cache of a pass can hold within the model's context.
    private var maxModelLength: Int?
    /// Each layer's window for the attention kernel (0: the whole context).
    private let kernelWindows: [Int]
    private let file: AnyObject
    private let workspace = Workspace()
    private let logitsBuffer = LogitsBuffer()
    /// This rank's heads, columns and vocabulary rows (all of them without tensor parallelism).
    let layout: ShardLayout
    /// The threads forward passes run on.
    let pool: ThreadPool
    public let residentBytes: Int
    public var cacheKVHeads: Int { layout.kvHeads }
    /// Per-operation timing, when `SWIFTLET_PROFILE` is set in the environment.
    public let profiler: ForwardProfiler? = ProcessInfo.processInfo.environment["SWIFTLET_PROFILE"] != nil ? ForwardProfiler() : nil

    /// Loads the weights of a GGUF file (`shard`'s share of them, when given). `progress` is called
    /// with (tensors done, total).
    public convenience init(gguf: GGUFFile, config: ModelConfig, precision: ComputePrecision = .fast, shard: TensorShard? = nil,
                            progress: LoadProgress? = nil) throws {
        let w = CheckpointWeights(gguf)
        // GGUF files say whether the head is tied by leaving `output.weight` out.
        try self.init(weights: w, file: gguf, config: config, untiedHead: w.has("output.weight"), precision: precision,
                      shard: shard, progress: progress)
    }

    /// Loads a Hugging Face checkpoint (`model.layers.N.self_attn.q_proj.weight`, ...), or
    /// `shard`'s share of it. `progress` is called with (tensors done, total).
    public convenience init(checkpoint: SafetensorsCheckpoint, config: ModelConfig, precision: ComputePrecision = .fast,
                            shard: TensorShard? = nil, progress: LoadProgress? = nil) throws {
        let w = CheckpointWeights(checkpoint, rename: Self.huggingFaceName)
        // transformers ignores a stored lm_head when the embeddings are tied.
        let untied = !config.tieWordEmbeddings && w.has("output.weight")
        try self.init(weights: w, file: checkpoint, config: config, untiedHead: untied, precision: precision, shard: shard,
                      progress: progress)
    }

    /// The Hugging Face name of a tensor given its GGUF name.
    static func huggingFaceName(_ gguf: String) -> String {
        let global = ["token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
                      "output.weight": "lm_head.weight"]
        if let g = global[gguf] { return g }
        let parts = gguf.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blk" else { return gguf }
        let local = ["attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
                     "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
                     "attn_v.weight": "self_attn.v_proj.weight", "attn_q.bias": "self_attn.q_proj.bias",
                     "attn_k.bias": "self_attn.k_proj.bias", "attn_v.bias": "self_attn.v_proj.bias",
                     "attn_output.weight": "self_attn.o_proj.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
                     "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight",
                     "attn_q_norm.weight": "self_attn.q_norm.weight", "attn_k_norm.weight": "self_attn.k_norm.weight",
                     // Phi-3's fused projections; GGUF fuses gate and up into ffn_up instead.
                     "attn_qkv.weight": "self_attn.qkv_proj.weight", "ffn_gate_up.weight": "mlp.gate_up_proj.weight"]
        return "model.layers.\(parts[1]).\(local[String(parts[2])] ?? String(parts[2]))"
    }

    /// Reads tensors by their GGUF names, whatever the file.
    private init(weights w: CheckpointWeights, file: AnyObject, config: ModelConfig, untiedHead: Bool,
                 precision: ComputePrecision, shard: TensorShard?, progress: LoadProgress?) throws {
        self.config = config
        self.precision = precision
        self.file = file
        let layout = try ShardLayout(config: config, shard: shard, path: w.path)
        self.layout = layout
        pool = shard?.pool ?? .shared
        let D = config.hiddenSize, hd = config.headDim
        let source = { try w.matrix($0, rows: $1, columns: $2) }, vector = { try w.vector($0, count: $1) }

        let total = config.numLayers + 1
        var built: [Layer] = []
        var resident = 0
        for i in 0..<config.numLayers {
            let p = "blk.\(i)."
            let qNorm = try w.optionalVector(p + "attn_q_norm.weight", count: hd)
            // Fused and separate q/k/v and gate/up tensors load alike (WeightSlicing.swift).
            let layer = Layer(
                attnNorm: try vector(p + "attn_norm.weight", D),
                qkv: try w.attentionProjection(p, config: config, layout: layout, precision: precision),
                qNorm: qNorm,
                kNorm: try qNorm.map { _ in try vector(p + "attn_k_norm.weight", hd) },
                output: try w.rowParallel(p + "attn_output.weight", outputs: D, inputs: config.numHeads * hd,
                                          columns: layout.queryRows(headDim: hd), precision: precision),
                ffnNorm: try vector(p + "ffn_norm.weight", D),
                gateUp: try w.gateUpProjection(p, config: config, layout: layout, precision: precision),
                down: try w.rowParallel(p + "ffn_down.weight", outputs: D, inputs: config.intermediateSize,
                                        columns: layout.intermediateColumns, precision: precision))
            resident += layer.qkv.residentBytes + layer.output.residentBytes + layer.gateUp.residentBytes + layer.down.residentBytes
            built.append(layer)
            progress?(i + 1, total)
        }
        layers = built
        finalNorm = try vector("output_norm.weight", D)
        embedding = try source("token_embd.weight", config.vocabSize, D)
        embeddingRowBytes = embedding.type.byteCount(elements: D)!
        let headSource = untiedHead ? try source("output.weight", config.vocabSize, D) : embedding
        // Each rank computes the logits of its vocabulary rows only.
        head = try Linear([headSource.rows(layout.vocabulary)], precision: precision)
        resident += head.residentBytes
        residentBytes = resident
        let factors = try config.ropeFrequencyFactorsTensor.map { try vector($0, config.ropeDimensions / 2) }
        rope = RotaryEmbedding(config: config, frequencyFactors: factors)
        kernelWindows = (0..<config.numLayers).map { config.slidingWindow(layer: $0) ?? 0 }
        progress?(total, total)
    }

    /// Batches of at least this many tokens split their row-wise operations over threads.
    static let parallelRowsThreshold = 8

    /// With tensor parallelism: rank 0 returns the logits, the other ranks [] (after taking part
    /// in every collective of the pass).
    public func recycleLogits(_ logits: consuming [Float]) { logitsBuffer.recycle(logits) }

    public func prepare(maxModelLength: Int) { self.maxModelLength = maxModelLength }

    public func forward(tokens: [Int32], metadata: AttentionMetadata, cache: PagedKVCache) -> [Float] {
        let T = tokens.count
        precondition(T == metadata.numTokens, "tokens and metadata disagree")
        precondition(cache.numKVHeads == cacheKVHeads, "the cache holds \(cache.numKVHeads) kv heads, this model \(cacheKVHeads)")
        precondition(cache.groups.numLayers == layers.count, "the cache's groups have \(cache.groups.numLayers) layers, this model \(layers.count)")
        if T == 0 { return [] }
        let c = config
        let D = c.hiddenSize, hd = c.headDim, F = layout.intermediate
        // This rank's heads (all of them unsharded).
        let H = layout.heads, KV = layout.kvHeads
        let qWidth = H * hd, kvWidth = KV * hd, qkvWidth = qWidth + 2 * kvWidth
        let pool = self.pool
        let eps = Float(c.rmsNormEps)
        let halves = c.ropeStyle == .halves
        let scale = 1 / Float(hd).squareRoot()
        let rot = c.ropeDimensions > 0 ? c.ropeDimensions : hd

        profiler?.mark()
        let buffers = workspace.floats([T * D, T * max(D, qWidth), T * qkvWidth, T * qWidth, T * 2 * F, T * F, T * rot])
        let h = buffers[0], xn = buffers[1], qkv = buffers[2], att = buffers[3], gu = buffers[4], act = buffers[5]
        let angles = buffers[6]
        // Embedding lookup: dequantize the rows of the batch's tokens.
        for (i, t) in tokens.enumerated() {
            let row = embedding.data + Int(t) * embeddingRowBytes
            try! dequantize(embedding.type, row, count: D, into: h + i * D)
        }
        // The rope angles depend only on positions: computed once here, not once per layer.
        let longest = maxModelLength ?? min(c.maxPositionEmbeddings, cache.numBlocks * cache.blockSize)
        metadata.positions.withUnsafeBufferPointer {
            rope.angles(positions: $0.baseAddress!, rows: T, longestSequence: longest, into: angles)
        }
        let groups = cache.groups
        let prof = profiler
        // Row-wise work (norms, rope, cache writes, activations) is split over the pool's
        // threads for batches of many tokens; for a few tokens it stays on this thread.
        let split = T >= Self.parallelRowsThreshold
        func rows(_ body: (Int, Int) -> Void) {
            if split { pool.parallelFor(T) { body($0.lowerBound, $0.count) } } else { body(0, T) }
        }
        let rmsNorm = { (w: UnsafePointer<Float>, r0: Int, n: Int) in
            RowOps.rmsNorm(h + r0 * D, ldx: D, weight: w, into: xn + r0 * D, ldo: D, rows: n, n: D, eps: eps)
        }
        for (li, layer) in layers.enumerated() {
            prof?.lap(.other)
            if li == 0 {
                layer.attnNorm.withUnsafeBufferPointer { w in rows { rmsNorm(w.baseAddress!, $0, $1) } }
            }
            prof?.lap(.other)
            layer.qkv.forward(xn, ldx: D, m: T, qkv, ldy: qkvWidth, workspace: workspace, pool: pool)
            prof?.lap(.matmul)
            // With KV cache groups the layer reads and writes its group's blocks, in its slot.
            let slot = groups.layerSlot[li]
            metadata.withKernelBatch(group: groups.layerGroup[li]) { batch in
                let slots = batch.slots
                rows { r0, n in
                    let q = qkv + r0 * qkvWidth, a = angles + r0 * rot
                    if let qn = layer.qNorm, let kn = layer.kNorm {
                        // Each head is a row of hd values: heads of a token lie end to end.
                        for r in 0..<n {
                            let row = q + r * qkvWidth
                            qn.withUnsafeBufferPointer {
                                RowOps.rmsNorm(row, ldx: hd, weight: $0.baseAddress!, into: row, ldo: hd, rows: H, n: hd, eps: eps)
                            }
                            kn.withUnsafeBufferPointer {
                                RowOps.rmsNorm(row + qWidth, ldx: hd, weight: $0.baseAddress!, into: row + qWidth, ldo: hd,
                                               rows: KV, n: hd, eps: eps)
                            }
                        }
                    }
                    RowOps.rope(q, ld: qkvWidth, rows: n, heads: H, headDim: hd, rotaryDims: rot, angles: a, halves: halves)
                    RowOps.rope(q + qWidth, ld: qkvWidth, rows: n, heads: KV, headDim: hd, rotaryDims: rot, angles: a,
                                halves: halves)
                    PagedAttention.write(keys: q + qWidth, ldk: qkvWidth, values: q + qWidth + kvWidth, ldv: qkvWidth,
                                         slots: slots + r0, rows: n, cache: cache, layer: slot)
                }
                prof?.lap(.other)
                PagedAttention.attend(qkv, ldq: qkvWidth, into: att, ldo: qWidth, heads: H, cache: cache, layer: slot,
                                      batch: &batch, scale: scale, window: kernelWindows[li], pool: pool)
            }
            prof?.lap(.attention)
            layer.output.forward(att, ldx: qWidth, m: T, xn, ldy: D, workspace: workspace, pool: pool)
            prof?.lap(.matmul)
            // Sharded, each rank's o_proj saw only its heads: the sum over ranks is the output.
            layout.allReduce(xn, count: T * D)
            layer.ffnNorm.withUnsafeBufferPointer { w in
                rows { r0, n in
                    RowOps.add(h + r0 * D, ldy: D, xn + r0 * D, ldx: D, rows: n, n: D)
                    rmsNorm(w.baseAddress!, r0, n)
                }
            }
            prof?.lap(.other)
            layer.gateUp.forward(xn, ldx: D, m: T, gu, ldy: 2 * F, workspace: workspace, pool: pool)
            prof?.lap(.matmul)
            rows { r0, n in RowOps.siluMul(gu + r0 * 2 * F, ld: 2 * F, into: act + r0 * F, ldo: F, rows: n, n: F) }
            prof?.lap(.other)
            layer.down.forward(act, ldx: F, m: T, xn, ldy: D, workspace: workspace, pool: pool)
            prof?.lap(.matmul)
            layout.allReduce(xn, count: T * D)
            // The residual add and the next layer's input norm share one pass over the rows.
            let next = li + 1 < layers.count ? layers[li + 1].attnNorm : nil
            if let next {
                next.withUnsafeBufferPointer { w in
                    rows { r0, n in
                        RowOps.add(h + r0 * D, ldy: D, xn + r0 * D, ldx: D, rows: n, n: D)
                        rmsNorm(w.baseAddress!, r0, n)
                    }
                }
            } else {
                rows { r0, n in RowOps.add(h + r0 * D, ldy: D, xn + r0 * D, ldx: D, rows: n, n: D) }
            }
        }
        // Only the rows that need logits go through the final norm and the (large) output head.
        let logits = rmsNormHeadLogits(h, width: D, indices: metadata.logitsIndices, norm: finalNorm, eps: eps, head: head,
                                       vocabSize: layout.vocabulary.count, workspace: workspace, pool: pool, buffer: logitsBuffer,
                                       profiler: profiler)
        return layout.gatherLogits(logits, rows: metadata.logitsIndices.count)
    }
}
