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
        var norm1: LayerNormWeights
        /// Its softmax scale: GPT-2 variants may divide it by the layer number.
        var attention: PagedSelfAttention
        var norm2: LayerNormWeights
        var up: Linear
        var down: Linear
    }

    private let layers: [Layer]
    private let finalNorm: LayerNormWeights
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
                norm1: try w.layerNorm(lp + "ln_1", width: D),
                attention: PagedSelfAttention(qkv: try conv1D(lp + "attn.c_attn", outputs: 3 * D, inputs: D),
                                              output: try conv1D(lp + "attn.c_proj", outputs: D, inputs: D), scale: scale),
                norm2: try w.layerNorm(lp + "ln_2", width: D),
                up: try conv1D(lp + "mlp.c_fc", outputs: F, inputs: D),
                down: try conv1D(lp + "mlp.c_proj", outputs: D, inputs: F))
            resident += layer.attention.residentBytes + layer.up.residentBytes + layer.down.residentBytes
            built.append(layer)
            progress?(i + 1, total)
        }
        layers = built
        finalNorm = try w.layerNorm(p + "ln_f", width: D)
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
        metadata.withKernelBatch { batch, slots in
            for (li, layer) in layers.enumerated() {
                layer.norm1.apply(h, xn, rows: T, eps: eps)
                layer.attention.forward(xn, ldx: D, rows: T, into: xn, qkvScratch: qkv, attentionScratch: att, heads: H, headDim: hd,
                                        cache: cache, layer: li, slots: slots, batch: &batch, workspace: workspace, pool: pool)
                sw_add_rows(h, D, xn, D, Int32(T), Int32(D))
                layer.norm2.apply(h, xn, rows: T, eps: eps)
                layer.up.forward(xn, ldx: D, m: T, ff, ldy: F, workspace: workspace, pool: pool)
                activation.apply(ff, count: T * F)
                layer.down.forward(ff, ldx: F, m: T, xn, ldy: D, workspace: workspace, pool: pool)
                sw_add_rows(h, D, xn, D, Int32(T), Int32(D))
            }
        }
        // Only the rows that need logits go through the final norm and the output head.
        let L = metadata.logitsIndices.count
        var logits = [Float](repeating: 0, count: L * c.vocabSize)
        var rows = [Float](repeating: 0, count: L * D)
        rows.withUnsafeMutableBufferPointer { r in
            for (j, i) in metadata.logitsIndices.enumerated() {
                finalNorm.apply(h + Int(i) * D, r.baseAddress! + j * D, rows: 1, eps: eps)
            }
            logits.withUnsafeMutableBufferPointer { lg in
                head.forward(r.baseAddress!, ldx: D, m: L, lg.baseAddress!, ldy: c.vocabSize, workspace: workspace, pool: pool)
            }
        }
        return logits
    }
}
