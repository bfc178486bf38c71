import CSwiftletKernels
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
    /// K and V go to `layer` of `cache` at `slots`; `batch` describes the sequences to the kernel.
    func forward(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, into out: UnsafeMutablePointer<Float>,
                 qkvScratch q: UnsafeMutablePointer<Float>, attentionScratch att: UnsafeMutablePointer<Float>,
                 heads: Int, headDim: Int, cache: PagedKVCache, layer: Int, slots: UnsafePointer<Int32>,
                 batch: inout sw_attn_batch, workspace: Workspace, pool: ThreadPool) {
        let D = heads * headDim
        qkv.forward(x, ldx: ldx, m: rows, q, ldy: 3 * D, workspace: workspace, pool: pool)
        sw_kv_write(q + D, 3 * D, q + 2 * D, 3 * D, slots, Int32(rows), cache.keys[layer], cache.values[layer],
                    cache.dtype.kernelCode, Int32(heads), Int32(headDim), Int32(cache.blockSize))
        sw_paged_attention(pool.raw, q, 3 * D, att, D, cache.keys[layer], cache.values[layer], cache.dtype.kernelCode,
                           Int32(heads), Int32(heads), Int32(headDim), Int32(cache.blockSize), &batch, scale, 0)
        output.forward(att, ldx: D, m: rows, out, ldy: D, workspace: workspace, pool: pool)
    }
}

extension AttentionMetadata {
    /// Calls `body` with the batch in the paged kernel's form and the slot mapping, both valid
    /// only inside `body`.
    func withKernelBatch<R>(_ body: (inout sw_attn_batch, UnsafePointer<Int32>) -> R) -> R {
        slotMapping.withUnsafeBufferPointer { slots in
            queryStart.withUnsafeBufferPointer { qs in
                contextLengths.withUnsafeBufferPointer { cl in
                    blockTables.withUnsafeBufferPointer { bt in
                        var batch = sw_attn_batch(num_seqs: Int32(numSequences), query_start: qs.baseAddress,
                                                  context_len: cl.baseAddress, block_tables: bt.baseAddress,
                                                  max_blocks_per_seq: Int32(maxBlocksPerSequence))
                        return body(&batch, slots.baseAddress!)
                    }
                }
            }
        }
    }
}
