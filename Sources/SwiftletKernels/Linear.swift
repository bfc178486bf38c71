import CSwiftletKernels

/// How the matmuls of a model are computed.
public enum ComputePrecision: String, Sendable, CaseIterable {
    /// Weights in their stored quantized format for a few tokens at a time (VNNI integer dot
    /// products), and in bf16 through oneDNN for larger batches.
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
/// The weights are prepared once, at load: a few-token path that reads the stored quantized blocks
/// directly (memory-bound decode), and a many-token path through oneDNN (compute-bound prefill).
public final class Linear: @unchecked Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    public let precision: ComputePrecision
    /// Batches of at most this many rows use the small-batch path.
    public var smallBatchLimit: Int

    private enum Segment {
        case quantized(sw_qtype, UnsafeRawPointer, rows: Int)
        case bf16(UnsafeMutablePointer<UInt16>, rows: Int)
    }

    private var segments: [Segment] = []
    private var ownedBF16: [UnsafeMutablePointer<UInt16>] = []
    private var dnnl: OpaquePointer?
    private var bias: [Float]?
    /// Bytes held in addition to the mapped model file.
    public private(set) var residentBytes: Int = 0

    /// - Parameters:
    ///   - sources: matrices stacked by rows; all must have the same number of columns.
    ///   - bias: optional bias of `outFeatures` values.
    public init(_ sources: [WeightSource], bias: [Float]? = nil, precision: ComputePrecision,
                threads: Int = ThreadPool.shared.size, smallBatchLimit: Int = 8) throws {
        guard let k = sources.first?.columns, sources.allSatisfy({ $0.columns == k }) else {
            throw KernelError.unsupported("fused weights must share their column count")
        }
        inFeatures = k
        outFeatures = sources.reduce(0) { $0 + $1.rows }
        self.precision = precision
        self.smallBatchLimit = precision == .fp32 ? 0 : smallBatchLimit
        if let bias, bias.count != outFeatures {
            throw KernelError.unsupported("bias of \(bias.count) values for \(outFeatures) outputs")
        }
        self.bias = bias

        let n = outFeatures
        // Dequantize everything once into one [n][k] matrix for the many-token path.
        let f32 = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        defer { f32.deallocate() }
        var row = 0
        for s in sources {
            try dequantize(s.type, s.data, count: s.rows * k, into: f32 + row * k)
            row += s.rows
        }
        var err = [CChar](repeating: 0, count: 256)
        switch precision {
        case .fp32:
            dnnl = sw_dnnl_linear_create(f32, Int32(n), Int32(k), Int32(SW_DNNL_F32), Int32(threads), &err, err.count)
        case .fast:
            let bf = UnsafeMutablePointer<UInt16>.allocate(capacity: n * k)
            sw_f32_to_bf16_row(f32, bf, n * k)
            dnnl = sw_dnnl_linear_create(bf, Int32(n), Int32(k), Int32(SW_DNNL_BF16), Int32(threads), &err, err.count)
            // Small batches: stored quantized blocks where a kernel exists, else bf16 rows.
            var offset = 0
            for s in sources {
                if let q = Linear.kernelType(s.type), k % 32 == 0 {
                    segments.append(.quantized(q, s.data, rows: s.rows))
                } else {
                    segments.append(.bf16(bf + offset * k, rows: s.rows))
                }
                offset += s.rows
            }
            ownedBF16.append(bf)
            residentBytes += n * k * 2
        }
        guard let dnnl else {
            throw KernelError.backend(String(cString: err))
        }
        residentBytes += Int(sw_dnnl_linear_weight_bytes(dnnl))
        if case .fp32 = precision { return }
        // bf16 rows are only needed while some segment uses them.
        if !segments.contains(where: { if case .bf16 = $0 { return true } else { return false } }) {
            ownedBF16.forEach { $0.deallocate() }
            ownedBF16.removeAll()
            residentBytes -= n * k * 2
        }
    }

    /// Stored formats that have an integer dot-product kernel.
    static func kernelType(_ t: GGMLType) -> sw_qtype? {
        switch t {
        case .q8_0: return SW_QTYPE_Q8_0
        case .q4_0: return SW_QTYPE_Q4_0
        case .q4_1: return SW_QTYPE_Q4_1
        default: return nil
        }
    }

    deinit {
        if let dnnl { sw_dnnl_linear_destroy(dnnl) }
        ownedBF16.forEach { $0.deallocate() }
    }

    /// `y[i][0..<outFeatures] = x[i] W^T (+ b)` for `m` rows. `workspace` supplies scratch memory.
    public func forward(_ x: UnsafePointer<Float>, ldx: Int, m: Int, _ y: UnsafeMutablePointer<Float>, ldy: Int,
                        workspace: Workspace, pool: ThreadPool = .shared) {
        guard m > 0 else { return }
        if m <= smallBatchLimit {
            let qBytes = sw_q8a_row_bytes(Int32(inFeatures))
            let xq = workspace.bytes(.activationQuant, count: Int(qBytes) * m)
            var quantized = false
            var row = 0
            for seg in segments {
                switch seg {
                case .quantized(let fmt, let w, let rows):
                    if !quantized {
                        sw_quantize_rows_q8a(x, ldx, Int32(m), Int32(inFeatures), xq)
                        quantized = true
                    }
                    sw_gemm_q(pool.raw, fmt, w, Int32(rows), Int32(inFeatures), xq, Int32(m), y + row, ldy)
                    row += rows
                case .bf16(let w, let rows):
                    sw_gemm_bf16(pool.raw, w, Int32(rows), Int32(inFeatures), x, ldx, Int32(m), y + row, ldy)
                    row += rows
                }
            }
        } else {
            let scratch = workspace.bytes(.activationBF16, count: m * inFeatures * 2).assumingMemoryBound(to: UInt16.self)
            let status = sw_dnnl_linear_forward(pool.raw, dnnl, x, ldx, Int32(m), y, ldy, scratch)
            precondition(status == 0, "oneDNN matmul failed (status \(status)) for \(m) x \(inFeatures) x \(outFeatures)")
        }
        if let bias {
            bias.withUnsafeBufferPointer { sw_add_bias(y, ldy, $0.baseAddress, Int32(m), Int32(outFeatures)) }
        }
    }
}

/// Reusable scratch buffers, grown on demand and kept for the next call, so that steady-state
/// forward passes allocate nothing.
public final class Workspace: @unchecked Sendable {
    public enum Slot: Int, CaseIterable {
        case activationQuant, activationBF16
    }

    private var buffers: [UnsafeMutableRawPointer?] = Array(repeating: nil, count: Slot.allCases.count)
    private var sizes: [Int] = Array(repeating: 0, count: Slot.allCases.count)

    public init() {}

    public func bytes(_ slot: Slot, count: Int) -> UnsafeMutableRawPointer {
        let i = slot.rawValue
        if sizes[i] < count {
            buffers[i]?.deallocate()
            let size = max(count, sizes[i] * 3 / 2, 4096)
            buffers[i] = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            sizes[i] = size
        }
        return buffers[i]!
    }

    deinit { buffers.forEach { $0?.deallocate() } }
}
