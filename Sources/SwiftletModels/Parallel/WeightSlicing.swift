import SwiftletFormats
import SwiftletKernels

extension WeightSource {
    /// Rows `range` of this matrix: a pointer into the same (mapped) storage, nothing copied or read.
    func rows(_ range: Range<Int>) -> WeightSource {
        WeightSource(type: type, data: data + range.lowerBound * type.byteCount(elements: columns)!, rows: range.count, columns: columns)
    }

    /// The rows `ranges` of this matrix, in order, as few sources as possible: ranges that follow
    /// one another stay one source, so an unsharded fused tensor loads exactly as before.
    func rows(_ ranges: [Range<Int>]) -> [WeightSource] {
        var merged: [Range<Int>] = []
        for r in ranges {
            if let last = merged.last, last.upperBound == r.lowerBound {
                merged[merged.count - 1] = last.lowerBound..<r.upperBound
            } else {
                merged.append(r)
            }
        }
        return merged.map { rows($0) }
    }
}

/// Columns of every row of a stored matrix, copied out of the mapping: a rank's input slice of a
/// row-parallel projection (o_proj, down_proj). Only those bytes of the file are read. It must
/// outlive the `Linear` built from it, which keeps packed or dequantized copies of its own.
final class ColumnSlice {
    let source: WeightSource
    private let storage: UnsafeMutableRawPointer?

    /// Quantized rows are cut on block boundaries, so `columns` must start and end on one.
    init(_ s: WeightSource, columns: Range<Int>, name: String, path: String) throws {
        if columns == 0..<s.columns {
            source = s
            storage = nil
            return
        }
        guard let offset = s.type.byteCount(elements: columns.lowerBound), let bytes = s.type.byteCount(elements: columns.count) else {
            throw ModelLoadError.unsupported(
                path: path,
                reason: "tensor parallelism: tensor '\(name)' (\(s.type), blocks of \(s.type.blockSize) values) cannot be split into "
                    + "slices of \(columns.count) of its \(s.columns) input columns, since a slice must hold whole quantization blocks")
        }
        let rowBytes = s.type.byteCount(elements: s.columns)!
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes * s.rows), alignment: 64)
        for r in 0..<s.rows {
            (buffer + r * bytes).copyMemory(from: s.data + r * rowBytes + offset, byteCount: bytes)
        }
        storage = buffer
        source = WeightSource(type: s.type, data: UnsafeRawPointer(buffer), rows: s.rows, columns: columns.count)
    }

    deinit { storage?.deallocate() }
}

/// The projections of a decoder layer as one rank of `layout` holds them, read by GGUF tensor
/// names: column-parallel q/k/v and gate/up (this rank's rows), row-parallel o_proj and down_proj
/// (this rank's input columns). With an unsharded layout they are the whole tensors.
extension CheckpointWeights {
    /// q, k and v of layer prefix `p`, stored fused (`attn_qkv`, Phi-3) or apart, with their biases
    /// (Qwen2) sliced like their rows.
    func attentionProjection(_ p: String, config c: ModelConfig, layout: ShardLayout, precision: ComputePrecision) throws -> Linear {
        let D = c.hiddenSize, hd = c.headDim
        let qRows = c.numHeads * hd, kvRows = c.numKVHeads * hd
        let q = layout.queryRows(headDim: hd), kv = layout.kvRows(headDim: hd)
        if has(p + "attn_qkv.weight") {
            // The fused tensor holds all q rows, then all k rows, then all v rows.
            let parts = [q, kv.shifted(by: qRows), kv.shifted(by: qRows + kvRows)]
            let fused = try matrix(p + "attn_qkv.weight", rows: qRows + 2 * kvRows, columns: D)
            let bias = try optionalVector(p + "attn_qkv.bias", count: qRows + 2 * kvRows).map { b in parts.flatMap { b[$0] } }
            return try Linear(fused.rows(parts), bias: bias, precision: precision)
        }
        let sources = [try matrix(p + "attn_q.weight", rows: qRows, columns: D).rows(q),
                       try matrix(p + "attn_k.weight", rows: kvRows, columns: D).rows(kv),
                       try matrix(p + "attn_v.weight", rows: kvRows, columns: D).rows(kv)]
        var bias: [Float]? = nil
        if let qb = try optionalVector(p + "attn_q.bias", count: qRows) {
            bias = Array(qb[q]) + (try vector(p + "attn_k.bias", count: kvRows)[kv]) + (try vector(p + "attn_v.bias", count: kvRows)[kv])
        }
        return try Linear(sources, bias: bias, precision: precision)
    }

    /// Gate rows then up rows of layer prefix `p`: apart, or fused (Phi-3's `ffn_gate_up`, which
    /// GGUF files call `ffn_up`, twice the intermediate size).
    func gateUpProjection(_ p: String, config c: ModelConfig, layout: ShardLayout, precision: ComputePrecision) throws -> Linear {
        let D = c.hiddenSize, F = c.intermediateSize
        let cols = layout.intermediateColumns
        if has(p + "ffn_gate.weight") {
            return try Linear([try matrix(p + "ffn_gate.weight", rows: F, columns: D).rows(cols),
                               try matrix(p + "ffn_up.weight", rows: F, columns: D).rows(cols)], precision: precision)
        }
        let fused = try matrix(p + (has(p + "ffn_gate_up.weight") ? "ffn_gate_up.weight" : "ffn_up.weight"), rows: 2 * F, columns: D)
        return try Linear(fused.rows([cols, cols.shifted(by: F)]), precision: precision)
    }

    /// A row-parallel projection (`outputs` x `inputs`, no bias): every output row, this rank's
    /// input `columns`. Its outputs are partial sums until all-reduced.
    func rowParallel(_ name: String, outputs: Int, inputs: Int, columns: Range<Int>, precision: ComputePrecision) throws -> Linear {
        let slice = try ColumnSlice(try matrix(name, rows: outputs, columns: inputs), columns: columns, name: name, path: path)
        return try withExtendedLifetime(slice) { try Linear([slice.source], precision: precision) }
    }
}

extension Range<Int> {
    func shifted(by k: Int) -> Range<Int> { (lowerBound + k)..<(upperBound + k) }
}
