import CSwiftletMatmul
import CSwiftletOps

/// How the matmuls of a model are computed.
public enum ComputePrecision: String, Sendable, CaseIterable {
    /// Integer (VNNI) dot products on quantized weights, with activations quantized per 32-block.
    case fast
    /// Every weight dequantized to fp32 and multiplied in fp32: the reference path.
    case fp32
}

/// One stored weight matrix (or a slice of rows of a fused one), as read from a model file.
public struct WeightSource {
    public let type: GGMLType
    /// `rows` rows of `columns` elements in `type`'s layout.
    public let data: UnsafeRawPointer
    public let rows: Int
    public let columns: Int

    public init(type: GGMLType, data: UnsafeRawPointer, rows: Int, columns: Int) {
        self.type = type
        self.data = data
        self.rows = rows
        self.columns = columns
    }
}

/// Errors raised while preparing weights for compute.
public enum KernelError: Error, CustomStringConvertible {
    case unsupported(String)
    case backend(String)

    public var description: String {
        switch self {
        case .unsupported(let s): return "unsupported: \(s)"
        case .backend(let s): return "compute backend error: \(s)"
        }
    }
}

/// A linear layer `y = x W^T (+ b)` whose weight is the row-wise concatenation of one or more
/// stored matrices (fused q/k/v or gate/up projections share one call).
///
/// The fast path multiplies integer blocks with VNNI dot products for any number of rows. Q8_0,
/// Q4_0, Q4_1, Q5_0, Q5_1 and the K-quants Q2_K ... Q6_K keep their blocks' values, regrouped once
/// at load into 32-row tiles (the same size as the file's blocks; the mapped file is then no longer
/// read); other formats (f16, bf16, f32) are requantized to Q8_0 first. On CPUs without AMX this
/// beats bf16 matmuls by about 4x
/// (`vdpbf16ps` runs at half the f32 FMA rate here, `vpdpbusd` at four times it). The fp32 path
/// dequantizes everything and runs oneDNN's f32 matmul: the reference.
public final class Linear: @unchecked Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    public let precision: ComputePrecision

    /// One kernel call: `rows` outputs starting at output column `firstRow`.
    private struct Segment {
        /// nil (and `kquant` nil): bf16 rows (only for row lengths the block formats cannot hold).
        let type: sw_qtype?
        /// Q5_0, Q5_1 and K-quant weights (`sw_kquant.h`), packed by `sw_kqpack`.
        var kquant: sw_kqtype? = nil
        /// Stored rows (bf16 segments; nil for block formats, which are packed).
        let weights: UnsafeRawPointer?
        /// The block-format rows packed into 32-row tiles (see `sw_qpack`), read at every level.
        let packed: UnsafeRawPointer?
        let rows: Int
        let firstRow: Int
    }

    private var segments: [Segment] = []
    private var owned: [UnsafeMutableRawPointer] = []
    private var dnnl: OpaquePointer?
    private var f32Linear: OpaquePointer?
    private var bias: [Float]?
    /// Bytes held in addition to the mapped model file.
    public private(set) var residentBytes: Int = 0

    /// - Parameters:
    ///   - sources: matrices stacked by rows; all must have the same number of columns.
    ///   - bias: optional bias of `outFeatures` values.
    public init(_ sources: [WeightSource], bias: [Float]? = nil, precision: ComputePrecision) throws {
        guard let k = sources.first?.columns, sources.allSatisfy({ $0.columns == k }) else {
            throw KernelError.unsupported("fused weights must share their column count")
        }
        inFeatures = k
        outFeatures = sources.reduce(0) { $0 + $1.rows }
        self.precision = precision
        if let bias, bias.count != outFeatures {
            throw KernelError.unsupported("bias of \(bias.count) values for \(outFeatures) outputs")
        }
        self.bias = bias

        switch precision {
        case .fp32:
            let n = outFeatures
            let f32 = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
            defer { f32.deallocate() }
            var row = 0
            for s in sources {
                try dequantize(s.type, s.data, count: s.rows * k, into: f32 + row * k)
                row += s.rows
            }
            // oneDNN's AVX-512 kernels give a row the same result in any batch; its AVX2 ones do
            // not (measured: most rows of an m = 7 or 33 batch differ from the same rows at m = 1),
            // so below AVX-512 our own kernel, with one fixed reduction order, takes the layer.
            if KernelLevel.current == .avx512 {
                var err = [CChar](repeating: 0, count: 256)
                dnnl = sw_dnnl_linear_create(f32, Int32(n), Int32(k), Int32(SW_DNNL_F32), 1, &err, err.count)
                guard let dnnl else { throw KernelError.backend(String(cString: err)) }
                residentBytes = Int(sw_dnnl_linear_weight_bytes(dnnl))
            } else {
                guard let l = sw_f32_linear_create(f32, Int32(n), Int32(k)) else { throw KernelError.backend("out of memory for \(n) x \(k) fp32 weights") }
                f32Linear = l
                residentBytes = Int(sw_f32_linear_weight_bytes(l))
            }
        case .fast:
            var stored: [Segment] = []
            // Q8_0 copies of weights stored in other formats: dropped once packed.
            var requantized: [UnsafeMutableRawPointer] = []
            var row = 0
            for s in sources {
                if k % 32 != 0 {
                    // Rows of odd lengths (tiny models) cannot be blocked; keep them as bf16.
                    let f32 = try dequantize(s.type, UnsafeRawBufferPointer(start: s.data, count: s.type.byteCount(elements: s.rows * k)!), count: s.rows * k)
                    let bf = UnsafeMutableRawPointer.allocate(byteCount: s.rows * k * 2, alignment: 64)
                    sw_f32_to_bf16_row(f32, bf.assumingMemoryBound(to: UInt16.self), s.rows * k)
                    owned.append(bf)
                    residentBytes += s.rows * k * 2
                    stored.append(Segment(type: nil, weights: UnsafeRawPointer(bf), packed: nil, rows: s.rows, firstRow: row))
                } else if let q = Linear.kernelType(s.type) {
                    stored.append(Segment(type: q, weights: s.data, packed: nil, rows: s.rows, firstRow: row))
                } else if let kq = Linear.kquantType(s.type), k % Int(sw_kqtype_block_elements(kq)) == 0 {
                    stored.append(Segment(type: nil, kquant: kq, weights: s.data, packed: nil, rows: s.rows, firstRow: row))
                } else {
                    let q8 = try Linear.requantizeQ8_0(s)
                    requantized.append(q8)
                    stored.append(Segment(type: SW_QTYPE_Q8_0, weights: UnsafeRawPointer(q8), packed: nil, rows: s.rows, firstRow: row))
                }
                row += s.rows
            }
            // Every level's kernel reads packed tiles (the scalar one as fast as the GGUF rows),
            // so the packed copy serves whatever level later calls run at.
            segments = pack(stored)
            requantized.forEach { $0.deallocate() }
        }
    }

    /// Packs the block-format segments into tiles, fusing neighbours of one format into
    /// a single call (q/k/v, gate/up) when the earlier ones end on a whole 32-row tile, so that
    /// the tiles of the fused call line up with each segment's own.
    private func pack(_ stored: [Segment]) -> [Segment] {
        let k = inFeatures
        var out: [Segment] = []
        var i = 0
        while i < stored.count {
            let first = stored[i]
            guard first.type != nil || first.kquant != nil else {
                out.append(first)  // bf16 rows stay as they are
                i += 1
                continue
            }
            // Packed bytes of `rows` rows in this run's format (block formats or K-quants).
            func bytes(_ rows: Int) -> Int {
                if let kq = first.kquant { return Int(sw_kqpack_bytes(kq, Int32(rows), Int32(k))) }
                return Int(sw_qpack_bytes(first.type!, Int32(rows), Int32(k)))
            }
            var j = i + 1
            while j < stored.count, stored[j].type == first.type, stored[j].kquant == first.kquant, stored[j - 1].rows % 32 == 0 { j += 1 }
            let total = stored[i..<j].reduce(0) { $0 + $1.rows }
            let size = bytes(total)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 64)
            var offset = 0
            for s in stored[i..<j] {
                if let kq = s.kquant {
                    sw_kqpack(kq, s.weights, Int32(s.rows), Int32(k), buffer + offset)
                } else {
                    sw_qpack(s.type!, s.weights, Int32(s.rows), Int32(k), buffer + offset)
                }
                offset += bytes(s.rows)
            }
            owned.append(buffer)
            residentBytes += size
            out.append(Segment(type: first.type, kquant: first.kquant, weights: nil, packed: UnsafeRawPointer(buffer), rows: total,
                               firstRow: first.firstRow))
            i = j
        }
        return out
    }

    /// Activation elements from which quantizing them is split over threads; smaller batches
    /// take a few microseconds, about what handing work to another thread costs.
    static let parallelQuantizeElements = 16 * 576

    /// Stored formats that have an integer dot-product kernel.
    static func kernelType(_ t: GGMLType) -> sw_qtype? {
        switch t {
        case .q8_0: return SW_QTYPE_Q8_0
        case .q4_0: return SW_QTYPE_Q4_0
        case .q4_1: return SW_QTYPE_Q4_1
        default: return nil
        }
    }

    /// Stored formats with a packed kernel of their own (`sw_kquant.h`).
    static func kquantType(_ t: GGMLType) -> sw_kqtype? {
        switch t {
        case .q5_0: return SW_KQ_Q5_0
        case .q5_1: return SW_KQ_Q5_1
        case .q2_K: return SW_KQ_Q2_K
        case .q3_K: return SW_KQ_Q3_K
        case .q4_K: return SW_KQ_Q4_K
        case .q5_K: return SW_KQ_Q5_K
        case .q6_K: return SW_KQ_Q6_K
        default: return nil
        }
    }

    /// GGML's Q8_0 quantization of a dequantized matrix (scale = max |x| / 127, round to nearest).
    static func requantizeQ8_0(_ s: WeightSource) throws -> UnsafeMutableRawPointer {
        let k = s.columns, blocksPerRow = k / 32
        let out = UnsafeMutableRawPointer.allocate(byteCount: s.rows * blocksPerRow * 34, alignment: 64)
        var row = [Float](repeating: 0, count: k)
        let rowBytes = s.type.byteCount(elements: k)!
        for r in 0..<s.rows {
            try row.withUnsafeMutableBufferPointer { try dequantize(s.type, s.data + r * rowBytes, count: k, into: $0.baseAddress!) }
            for b in 0..<blocksPerRow {
                let block = out + (r * blocksPerRow + b) * 34
                var amax: Float = 0
                for i in 0..<32 { amax = max(amax, abs(row[b * 32 + i])) }
                let d = amax / 127
                let id: Float = d > 0 ? 1 / d : 0
                let half = Float16(d)
                block.storeBytes(of: half.bitPattern, as: UInt16.self)
                for i in 0..<32 {
                    block.storeBytes(of: Int8((row[b * 32 + i] * id).rounded()), toByteOffset: 2 + i, as: Int8.self)
                }
            }
        }
        return out
    }

    deinit {
        if let dnnl { sw_dnnl_linear_destroy(dnnl) }
        if let f32Linear { sw_f32_linear_destroy(f32Linear) }
        owned.forEach { $0.deallocate() }
    }

    /// `y[i][0..<outFeatures] = x[i] W^T (+ b)` for `m` rows. `workspace` supplies scratch memory.
    public func forward(_ x: UnsafePointer<Float>, ldx: Int, m: Int, _ y: UnsafeMutablePointer<Float>, ldy: Int,
                        workspace: Workspace, pool: ThreadPool = .shared) {
        guard m > 0 else { return }
        if let dnnl {
            let status = sw_dnnl_linear_forward(nil, dnnl, x, ldx, Int32(m), y, ldy, nil)
            precondition(status == 0, "oneDNN matmul failed (status \(status)) for \(m) x \(inFeatures) x \(outFeatures)")
        } else if let f32Linear {
            sw_f32_linear_forward(pool.raw, f32Linear, x, ldx, Int32(m), y, ldy)
        } else {
            var xq: UnsafeMutableRawPointer?
            // Quantized once for every segment (fused q/k/v, gate/up); split over the pool's
            // threads when the batch is large enough to pay for the hand-off.
            func quantized() -> UnsafeMutableRawPointer {
                if let xq { return xq }
                let rowBytes = Int(sw_q8a_row_bytes(Int32(inFeatures)))
                let out = workspace.bytes(.activationQuant, count: rowBytes * m)
                let k = Int32(inFeatures)
                pool.parallelFor(m, granularity: m * inFeatures >= Linear.parallelQuantizeElements ? 1 : m) { r in
                    sw_quantize_rows_q8a(x + r.lowerBound * ldx, ldx, Int32(r.count), k, out + r.lowerBound * rowBytes)
                }
                xq = out
                return out
            }
            for seg in segments {
                if let type = seg.type {
                    sw_gemm_qp(pool.raw, type, seg.weights, seg.packed, Int32(seg.rows), Int32(inFeatures), quantized(), Int32(m),
                               y + seg.firstRow, ldy)
                } else if let kq = seg.kquant {
                    sw_gemm_kqp(pool.raw, kq, seg.packed, Int32(seg.rows), Int32(inFeatures), quantized(), Int32(m),
                                y + seg.firstRow, ldy)
                } else {
                    sw_gemm_bf16(pool.raw, seg.weights!.assumingMemoryBound(to: UInt16.self), Int32(seg.rows), Int32(inFeatures),
                                 x, ldx, Int32(m), y + seg.firstRow, ldy)
                }
            }
        }
        if let bias {
            bias.withUnsafeBufferPointer { sw_add_bias(y, ldy, $0.baseAddress, Int32(m), Int32(outFeatures)) }
        }
    }
}
