import CSwiftletKernels
import Foundation
import SwiftletKernels

/// GPT-2: learned absolute positions, pre-LayerNorm blocks with biases everywhere, a GELU (tanh)
/// feed-forward network, and the output head tied to the token embedding.
///
/// Hugging Face stores GPT-2's projections as `Conv1D`, whose weight is `[in, out]` (the transpose
/// of `nn.Linear`); they are transposed once at load. `c_attn` is q, k and v fused in that order.
public final class GPT2Model: CausalLanguageModel, @unchecked Sendable {
    public let config: ModelConfig
    public let precision: ComputePrecision

    struct Layer {
        var norm1: (weight: [Float], bias: [Float])
        var qkv: Linear
        var output: Linear
        var norm2: (weight: [Float], bias: [Float])
        var up: Linear
        var down: Linear
        /// Softmax scale; GPT-2 variants may divide it by the layer number.
        var attentionScale: Float
    }

    private let layers: [Layer]
    private let finalNorm: (weight: [Float], bias: [Float])
    private let embedding: WeightSource
    private let positions: [Float]
    private let head: Linear
    private let activation: FeedForwardActivation
    private let checkpoint: SafetensorsCheckpoint
    private let workspace = Workspace()
    private let scratch = ScratchBuffers()
    public let residentBytes: Int

    /// Loads a Hugging Face `GPT2LMHeadModel` checkpoint. `progress` is called with (layers done, total).
    public init(checkpoint: SafetensorsCheckpoint, config: ModelConfig, precision: ComputePrecision = .fast,
                progress: ((Int, Int) -> Void)? = nil) throws {
        self.config = config
        self.precision = precision
        self.checkpoint = checkpoint
        let path = checkpoint.directory.path
        let w = CheckpointWeights(checkpoint)
        let D = config.hiddenSize, F = config.intermediateSize
        activation = try FeedForwardActivation(name: config.hiddenActivation, path: path)
        let flags = try Self.attentionFlags(directory: checkpoint.directory)

        // Older checkpoints (the original "gpt2") have no "transformer." wrapper prefix.
        let p = try w.prefix(among: ["transformer.", ""], probe: "wte.weight")
        func norm(_ name: String) throws -> (weight: [Float], bias: [Float]) {
            (try w.vector(name + ".weight", count: D), try w.vector(name + ".bias", count: D))
        }
        func conv1D(_ name: String, outputs: Int, inputs: Int) throws -> Linear {
            let weight = try w.transposedMatrix(name + ".weight", rows: outputs, columns: inputs)
            return try withExtendedLifetime(weight) {
                try Linear([weight.source], bias: try w.vector(name + ".bias", count: outputs), precision: precision)
            }
        }

        let total = config.numLayers + 1
        var built: [Layer] = []
        var resident = 0
        for i in 0..<config.numLayers {
            let lp = p + "h.\(i)."
            var scale = flags.scaleWeights ? 1 / Float(config.headDim).squareRoot() : 1
            if flags.scaleByInverseLayer { scale /= Float(i + 1) }
            let layer = Layer(
                norm1: try norm(lp + "ln_1"),
                qkv: try conv1D(lp + "attn.c_attn", outputs: 3 * D, inputs: D),
                output: try conv1D(lp + "attn.c_proj", outputs: D, inputs: D),
                norm2: try norm(lp + "ln_2"),
                up: try conv1D(lp + "mlp.c_fc", outputs: F, inputs: D),
                down: try conv1D(lp + "mlp.c_proj", outputs: D, inputs: F),
                attentionScale: scale)
            resident += layer.qkv.residentBytes + layer.output.residentBytes + layer.up.residentBytes + layer.down.residentBytes
            built.append(layer)
            progress?(i + 1, total)
        }
        layers = built
        finalNorm = try norm(p + "ln_f")
        embedding = try w.matrix(p + "wte.weight", rows: config.vocabSize, columns: D)
        positions = try w.floats(p + "wpe.weight", rows: config.maxPositionEmbeddings, columns: D)
        let untied = !config.tieWordEmbeddings && w.has("lm_head.weight")
        head = try Linear([untied ? try w.matrix("lm_head.weight", rows: config.vocabSize, columns: D) : embedding], precision: precision)
        resident += head.residentBytes + positions.count * MemoryLayout<Float>.size
        residentBytes = resident
        progress?(total, total)
    }

    /// `scale_attn_weights` (default true) and `scale_attn_by_inverse_layer_idx` (default false)
    /// from config.json; `ModelConfig` has no place for these GPT-2-only switches.
    static func attentionFlags(directory: URL) throws -> (scaleWeights: Bool, scaleByInverseLayer: Bool) {
        let url = directory.appendingPathComponent("config.json")
        guard let data = try? Data(contentsOf: url),
              let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return (true, false) }
        return ((root["scale_attn_weights"] as? Bool) ?? true, (root["scale_attn_by_inverse_layer_idx"] as? Bool) ?? false)
    }

    public func forward(tokens: [Int32], metadata: AttentionMetadata, cache: PagedKVCache) -> [Float] {
        let T = tokens.count
        precondition(T == metadata.numTokens, "tokens and metadata disagree")
        if T == 0 { return [] }
        let c = config
        let D = c.hiddenSize, hd = c.headDim, F = c.intermediateSize, H = c.numHeads
        let eps = Float(c.rmsNormEps)
        let pool = ThreadPool.shared
        let bufs = scratch.reserve([T * D, T * D, T * 3 * D, T * D, T * F])
        let h = bufs[0], xn = bufs[1], qkv = bufs[2], att = bufs[3], ff = bufs[4]
        let rowBytes = embedding.type.byteCount(elements: D)!
        for (i, t) in tokens.enumerated() {
            try! dequantize(embedding.type, embedding.data + Int(t) * rowBytes, count: D, into: h + i * D)
            // Positions past the table are a caller error (the engine caps the context length).
            let pos = Int(metadata.positions[i])
            precondition(pos < c.maxPositionEmbeddings, "position \(pos) is outside the learned table")
            positions.withUnsafeBufferPointer { sw_add_rows(h + i * D, D, $0.baseAddress! + pos * D, D, 1, Int32(D)) }
        }
        metadata.slotMapping.withUnsafeBufferPointer { slots in
        metadata.queryStart.withUnsafeBufferPointer { qs in
        metadata.contextLengths.withUnsafeBufferPointer { cl in
        metadata.blockTables.withUnsafeBufferPointer { bt in
            var batch = sw_attn_batch(num_seqs: Int32(metadata.numSequences), query_start: qs.baseAddress,
                                      context_len: cl.baseAddress, block_tables: bt.baseAddress,
                                      max_blocks_per_seq: Int32(metadata.maxBlocksPerSequence))
            for (li, layer) in layers.enumerated() {
                layerNorm(h, layer.norm1, xn, rows: T, eps: eps)
                layer.qkv.forward(xn, ldx: D, m: T, qkv, ldy: 3 * D, workspace: workspace, pool: pool)
                sw_kv_write(qkv + D, 3 * D, qkv + 2 * D, 3 * D, slots.baseAddress, Int32(T),
                            cache.keys[li], cache.values[li], cache.dtype.kernelCode, Int32(H), Int32(hd), Int32(cache.blockSize))
                sw_paged_attention(pool.raw, qkv, 3 * D, att, D, cache.keys[li], cache.values[li], cache.dtype.kernelCode,
                                   Int32(H), Int32(H), Int32(hd), Int32(cache.blockSize), &batch, layer.attentionScale, 0)
                layer.output.forward(att, ldx: D, m: T, xn, ldy: D, workspace: workspace, pool: pool)
                sw_add_rows(h, D, xn, D, Int32(T), Int32(D))
                layerNorm(h, layer.norm2, xn, rows: T, eps: eps)
                layer.up.forward(xn, ldx: D, m: T, ff, ldy: F, workspace: workspace, pool: pool)
                activation.apply(ff, count: T * F)
                layer.down.forward(ff, ldx: F, m: T, xn, ldy: D, workspace: workspace, pool: pool)
                sw_add_rows(h, D, xn, D, Int32(T), Int32(D))
            }
        }}}}
        // Only the rows that need logits go through the final norm and the output head.
        let L = metadata.logitsIndices.count
        var logits = [Float](repeating: 0, count: L * c.vocabSize)
        var rows = [Float](repeating: 0, count: L * D)
        rows.withUnsafeMutableBufferPointer { r in
            for (j, i) in metadata.logitsIndices.enumerated() {
                layerNorm(h + Int(i) * D, finalNorm, r.baseAddress! + j * D, rows: 1, eps: eps)
            }
            logits.withUnsafeMutableBufferPointer { lg in
                head.forward(r.baseAddress!, ldx: D, m: L, lg.baseAddress!, ldy: c.vocabSize, workspace: workspace, pool: pool)
            }
        }
        return logits
    }

    private func layerNorm(_ x: UnsafePointer<Float>, _ norm: (weight: [Float], bias: [Float]),
                           _ out: UnsafeMutablePointer<Float>, rows: Int, eps: Float) {
        let D = config.hiddenSize
        norm.weight.withUnsafeBufferPointer { w in
            norm.bias.withUnsafeBufferPointer { b in
                sw_layernorm(x, D, w.baseAddress, b.baseAddress, out, D, Int32(rows), Int32(D), eps)
            }
        }
    }
}
