import SwiftletKernels

/// The attention sub-block of the LayerNorm families (GPT-2, OPT, BERT): a fused q/k/v
/// projection, K and V written to the paged cache, paged attention over each sequence's blocks,
/// and the output projection. Every head has its own K and V (no grouped-query attention).
struct PagedSelfAttention {
    var qkv: Linear
    var output: Linear
    /// Softmax scale (1/sqrt(head dim), or what the model asks for).
    var scale: Float

    var residentBytes: Int { qkv.residentBytes + output.residentBytes }

    /// Attends `rows` tokens of `x` (stride `ldx`) and writes the projected result, `hidden` wide,
    /// to `out`. `qkvScratch` holds `rows * 3 * hidden` floats, `attentionScratch` `rows * hidden`.
    /// K and V go to `layer` of `cache` at the batch's slots; `batch` describes the sequences to the kernel.
    func forward(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, into out: UnsafeMutablePointer<Float>,
                 qkvScratch q: UnsafeMutablePointer<Float>, attentionScratch att: UnsafeMutablePointer<Float>,
                 heads: Int, headDim: Int, cache: PagedKVCache, layer: Int,
                 batch: inout KernelAttentionBatch, workspace: Workspace, pool: ThreadPool) {
        let D = heads * headDim
        qkv.forward(x, ldx: ldx, m: rows, q, ldy: 3 * D, workspace: workspace, pool: pool)
        PagedAttention.write(keys: q + D, ldk: 3 * D, values: q + 2 * D, ldv: 3 * D, slots: batch.slots, rows: rows,
                             cache: cache, layer: layer)
        PagedAttention.attend(q, ldq: 3 * D, into: att, ldo: D, heads: heads, cache: cache, layer: layer, batch: &batch,
                              scale: scale, pool: pool)
        output.forward(att, ldx: D, m: rows, out, ldy: D, workspace: workspace, pool: pool)
    }
}
