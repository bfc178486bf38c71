import CSwiftletAttention

/// A batch's attention metadata in the kernels' form: sequences, their context lengths and block
/// tables, each token's cache slot. Valid only inside `AttentionMetadata.withKernelBatch`.
public struct KernelAttentionBatch {
    fileprivate var raw: sw_attn_batch
    /// Each token's slot in the paged cache.
    public let slots: UnsafePointer<Int32>
    /// Each token's position in its sequence.
    public let positions: UnsafePointer<Int32>
}

extension AttentionMetadata {
    /// Calls `body` with the batch in the paged kernels' form, with the slots and block tables of
    /// KV cache group `group`; valid only inside `body`.
    public func withKernelBatch<R>(group: Int = 0, _ body: (inout KernelAttentionBatch) -> R) -> R {
        let tables = self.group(group)
        return positions.withUnsafeBufferPointer { pos in
            tables.slotMapping.withUnsafeBufferPointer { slots in
                queryStart.withUnsafeBufferPointer { qs in
                    contextLengths.withUnsafeBufferPointer { cl in
                        tables.blockTables.withUnsafeBufferPointer { bt in
                            var batch = KernelAttentionBatch(
                                raw: sw_attn_batch(num_seqs: Int32(numSequences), query_start: qs.baseAddress,
                                                   context_len: cl.baseAddress, block_tables: bt.baseAddress,
                                                   max_blocks_per_seq: Int32(tables.maxBlocksPerSequence)),
                                slots: slots.baseAddress!, positions: pos.baseAddress!)
                            return body(&batch)
                        }
                    }
                }
            }
        }
    }
}

/// Attention over the paged KV cache (PagedAttention): K and V written to their slots, and
/// each query attending to its sequence's blocks through the block table.
public enum PagedAttention {
    /// Writes `rows` tokens' K and V (`kvHeads * headDim` wide, leading dimensions `ldk`, `ldv`) to
    /// storage layer `layer` of `cache` (a model layer's `groups.layerSlot`), token i at `slots[i]`.
    public static func write(keys k: UnsafePointer<Float>, ldk: Int, values v: UnsafePointer<Float>, ldv: Int,
                             slots: UnsafePointer<Int32>, rows: Int, cache: PagedKVCache, layer: Int) {
        sw_kv_write(k, ldk, v, ldv, slots, Int32(rows), cache.keys[layer], cache.values[layer], cache.dtype.kernelCode,
                    Int32(cache.numKVHeads), Int32(cache.headDim), Int32(cache.blockSize))
    }

    /// Attends every token of `batch` (queries `q`, `heads * headDim` wide) to its sequence's
    /// keys in storage layer `layer` of `cache`, writing `heads * headDim` values per token to `out`. `window`
    /// > 0 limits each query to that many most recent keys (sliding-window attention).
    public static func attend(_ q: UnsafePointer<Float>, ldq: Int, into out: UnsafeMutablePointer<Float>, ldo: Int,
                              heads: Int, cache: PagedKVCache, layer: Int, batch: inout KernelAttentionBatch,
                              scale: Float, window: Int = 0, pool: ThreadPool) {
        sw_paged_attention(pool.raw, q, ldq, out, ldo, cache.keys[layer], cache.values[layer], cache.dtype.kernelCode,
                           Int32(heads), Int32(cache.numKVHeads), Int32(cache.headDim), Int32(cache.blockSize),
                           &batch.raw, scale, Int32(window))
    }
}
