import SwiftletKernels

/// The transformer block of the LayerNorm families (GPT-2, OPT, BERT): self-attention, then a
/// two-layer feed-forward network, each added to the residual stream, with a LayerNorm before each
/// sub-block (pre-norm: GPT-2 and most OPT sizes) or after each residual add (post-norm: BERT and
/// OPT-350m).
struct LayerNormBlock {
    var attentionNorm: LayerNormWeights
    /// Its softmax scale: GPT-2 variants may divide it by the layer number.
    var attention: PagedSelfAttention
    var ffnNorm: LayerNormWeights
    var up: Linear
    var down: Linear

    var residentBytes: Int { attention.residentBytes + up.residentBytes + down.residentBytes }

    /// Runs the block in place over `rows` tokens of the residual stream `h` (`heads * headDim`
    /// wide, the feed-forward network `ffnWidth` wide). `x`, `qkv`, `att` and `ff` are scratch of
    /// `rows` rows of those widths (`3 *` for `qkv`); K and V go to `layer` of `cache`.
    func forward(_ h: UnsafeMutablePointer<Float>, rows: Int, preNorm: Bool, eps: Float, activation: FeedForwardActivation,
                 ffnWidth F: Int, scratch x: UnsafeMutablePointer<Float>, qkv: UnsafeMutablePointer<Float>,
                 att: UnsafeMutablePointer<Float>, ff: UnsafeMutablePointer<Float>, heads: Int, headDim: Int,
                 cache: PagedKVCache, layer: Int, batch: inout KernelAttentionBatch, workspace: Workspace, pool: ThreadPool) {
        let D = heads * headDim
        // Pre-norm sub-blocks read a normalised copy; post-norm ones read the residual stream itself.
        if preNorm { attentionNorm.apply(h, x, rows: rows, eps: eps) }
        attention.forward(preNorm ? x : h, ldx: D, rows: rows, into: x, qkvScratch: qkv, attentionScratch: att, heads: heads,
                          headDim: headDim, cache: cache, layer: layer, batch: &batch, workspace: workspace, pool: pool)
        RowOps.add(h, ldy: D, x, ldx: D, rows: rows, n: D)
        if !preNorm { attentionNorm.apply(h, h, rows: rows, eps: eps) }
        if preNorm { ffnNorm.apply(h, x, rows: rows, eps: eps) }
        up.forward(preNorm ? x : h, ldx: D, m: rows, ff, ldy: F, workspace: workspace, pool: pool)
        activation.apply(ff, count: rows * F)
        down.forward(ff, ldx: F, m: rows, x, ldy: D, workspace: workspace, pool: pool)
        RowOps.add(h, ldy: D, x, ldx: D, rows: rows, n: D)
        if !preNorm { ffnNorm.apply(h, h, rows: rows, eps: eps) }
    }
}

/// The logits of the rows `indices` of the residual stream `h` (`width` wide): each through the
/// final `norm` when the model has one and `projection` when it has one (OPT-350m's
/// `project_out`, to `projectedWidth`), then `head`.
func headLogits(_ h: UnsafePointer<Float>, width D: Int, indices: [Int32], norm: LayerNormWeights?, eps: Float,
                projection: Linear? = nil, projectedWidth P: Int, head: Linear, vocabSize V: Int, workspace: Workspace,
                pool: ThreadPool) -> [Float] {
    let L = indices.count
    guard L > 0 else { return [] }
    var rows = [Float](repeating: 0, count: L * D)
    rows.withUnsafeMutableBufferPointer { r in
        for (j, i) in indices.enumerated() {
            let src = h + Int(i) * D, dst = r.baseAddress! + j * D
            if let norm { norm.apply(src, dst, rows: 1, eps: eps) } else { dst.update(from: src, count: D) }
        }
    }
    if let projection {
        var projected = [Float](repeating: 0, count: L * P)
        projected.withUnsafeMutableBufferPointer { p in
            projection.forward(rows, ldx: D, m: L, p.baseAddress!, ldy: P, workspace: workspace, pool: pool)
        }
        rows = projected
    }
    var logits = [Float](repeating: 0, count: L * V)
    logits.withUnsafeMutableBufferPointer { lg in
        head.forward(rows, ldx: P, m: L, lg.baseAddress!, ldy: V, workspace: workspace, pool: pool)
    }
    return logits
}
