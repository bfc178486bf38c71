import SwiftletKernels

/// The logits of the rows at `indices` of `h` (`D` wide) for RMSNorm models: the final norm of
/// just those rows, then the (large) output head, into `buffer`'s array (the head writes every
/// element, so it is not zeroed first), then `finish` on the rows x `V` result in place. With a
/// profiler, the norm counts as "other" and the head as "head".
func rmsNormHeadLogits(_ h: UnsafePointer<Float>, width D: Int, indices: [Int32], norm: [Float], eps: Float, head: Linear,
                       vocabSize V: Int, workspace: Workspace, pool: ThreadPool, buffer: LogitsBuffer,
                       profiler: ForwardProfiler? = nil, finish: ((UnsafeMutablePointer<Float>, Int) -> Void)? = nil) -> [Float] {
    let L = indices.count
    var rows = [Float](repeating: 0, count: L * D)
    var logits: [Float] = []
    rows.withUnsafeMutableBufferPointer { r in
        norm.withUnsafeBufferPointer { w in
            for (j, i) in indices.enumerated() {
                RowOps.rmsNorm(h + Int(i) * D, ldx: D, weight: w.baseAddress!, into: r.baseAddress! + j * D, ldo: D, rows: 1, n: D, eps: eps)
            }
        }
        profiler?.lap(.other)
        defer { profiler?.lap(.head) }
        guard L > 0 else { return }
        logits = buffer.next(count: L * V) { lg in
            head.forward(r.baseAddress!, ldx: D, m: L, lg, ldy: V, workspace: workspace, pool: pool)
            finish?(lg, L * V)
        }
    }
    return logits
}
