import CSwiftletMatmul

/// GGML block-quantized weight formats, laid out exactly as stored in GGUF files: each row of
/// `k` elements is `k / 32` consecutive blocks, rows stored back to back.
public enum QuantizedWeightFormat: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// `{ f16 d; int8 qs[32] }`, value = d * q (34 bytes per block).
    case q8_0
    /// `{ f16 d; uint8 qs[16] }`, value = d * (nibble - 8); element j < 16 is the low nibble of
    /// qs[j], element j + 16 the high nibble (18 bytes per block).
    case q4_0
    /// `{ f16 d; f16 m; uint8 qs[16] }`, value = d * nibble + m, nibbles as in Q4_0
    /// (20 bytes per block).
    case q4_1

    /// Elements per block.
    public static let blockSize = 32

    var cType: sw_qtype {
        switch self {
        case .q8_0: return SW_QTYPE_Q8_0
        case .q4_0: return SW_QTYPE_Q4_0
        case .q4_1: return SW_QTYPE_Q4_1
        }
    }

    /// Bytes per 32-element block.
    public var blockBytes: Int { Int(sw_qtype_block_bytes(cType)) }

    /// Bytes per weight row of `k` elements (`k` a multiple of 32).
    public func rowBytes(k: Int) -> Int { blockBytes * (k / Self.blockSize) }

    public var description: String {
        switch self {
        case .q8_0: return "Q8_0"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        }
    }
}

/// Activations quantized to int8 per 32-element block, the right-hand operand of the
/// quantized matmuls. Rows are `rowBytes(k:)` apart; the layout is private to the kernels.
public enum QuantizedActivations {
    /// Bytes of one quantized row of `k` elements (`k` a multiple of 32).
    @inline(__always)
    public static func rowBytes(k: Int) -> Int { Int(sw_q8a_row_bytes(Int32(k))) }

    /// Quantizes `m` rows of `k` floats (`ldx` floats apart) into `output`, which must hold
    /// `m * rowBytes(k:)` bytes. Each block uses scale max|x| / 127, rounding to nearest.
    @inline(__always)
    public static func quantize(
        _ x: UnsafePointer<Float>, ldx: Int, m: Int, k: Int, into output: UnsafeMutableRawPointer
    ) {
        precondition(k % QuantizedWeightFormat.blockSize == 0, "k must be a multiple of 32")
        sw_quantize_rows_q8a(x, ldx, Int32(m), Int32(k), output)
    }
}

/// `y[i * ldy + j] = Σ_k W[j][k] · X[i][k]` for `i < m`, `j < n`, where `W` holds `n` rows of
/// `k` elements in `format` and `x` holds `m` rows quantized with `QuantizedActivations`.
///
/// Work is split over `n` across `pool`'s threads (nil runs on the calling thread only).
/// Any `n` and `m` are accepted; `k` must be a multiple of 32.
@inline(__always)
public func quantizedGemm(
    format: QuantizedWeightFormat, weights: UnsafeRawPointer, n: Int, k: Int,
    x: UnsafeRawPointer, m: Int, y: UnsafeMutablePointer<Float>, ldy: Int, pool: ThreadPool?
) {
    precondition(k % QuantizedWeightFormat.blockSize == 0, "k must be a multiple of 32")
    sw_gemm_q(pool?.handle, format.cType, weights, Int32(n), Int32(k), x, Int32(m), y, ldy)
}

/// Single-threaded scalar evaluation of exactly the same quantized arithmetic as
/// `quantizedGemm` (independent of SIMD support), for tests and cross-checks.
public func quantizedGemmReference(
    format: QuantizedWeightFormat, weights: UnsafeRawPointer, n: Int, k: Int,
    x: UnsafeRawPointer, m: Int, y: UnsafeMutablePointer<Float>, ldy: Int
) {
    precondition(k % QuantizedWeightFormat.blockSize == 0, "k must be a multiple of 32")
    sw_gemm_q_ref(format.cType, weights, Int32(n), Int32(k), x, Int32(m), y, ldy)
}

/// Expands `rows` quantized rows of `k` elements into floats (`ldy` floats apart).
public func dequantizeRows(
    format: QuantizedWeightFormat, weights: UnsafeRawPointer, rows: Int, k: Int,
    into y: UnsafeMutablePointer<Float>, ldy: Int
) {
    sw_dequantize_rows(format.cType, weights, Int32(rows), Int32(k), y, ldy)
}

/// A reusable buffer for quantized activations, so the per-layer hot path does not allocate.
///
/// Not thread-safe: give each concurrent caller its own scratch.
public final class ActivationScratch: @unchecked Sendable {
    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0

    public init() {}

    deinit { storage?.deallocate() }

    /// A buffer of at least `bytes` bytes (64-byte aligned); valid until the next call.
    public func buffer(bytes: Int) -> UnsafeMutableRawPointer {
        if let s = storage, capacity >= bytes { return s }
        storage?.deallocate()
        // Grow geometrically so a slowly increasing batch size does not reallocate every step.
        let newCapacity = max(bytes, capacity * 3 / 2, 4096)
        let s = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 64)
        storage = s
        capacity = newCapacity
        return s
    }

    /// Quantizes `m` rows of `k` floats and returns the quantized rows (valid until the next
    /// call on this scratch).
    public func quantize(_ x: UnsafePointer<Float>, ldx: Int, m: Int, k: Int) -> UnsafeRawPointer {
        let out = buffer(bytes: max(1, m * QuantizedActivations.rowBytes(k: k)))
        QuantizedActivations.quantize(x, ldx: ldx, m: m, k: k, into: out)
        return UnsafeRawPointer(out)
    }

    /// Quantizes the float activations `x` (`m` rows, `ldx` apart) and runs `quantizedGemm`.
    public func gemm(
        format: QuantizedWeightFormat, weights: UnsafeRawPointer, n: Int, k: Int,
        x: UnsafePointer<Float>, ldx: Int, m: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
        pool: ThreadPool?
    ) {
        let xq = quantize(x, ldx: ldx, m: m, k: k)
        quantizedGemm(format: format, weights: weights, n: n, k: k, x: xq, m: m, y: y, ldy: ldy, pool: pool)
    }
}

/// `y[i * ldy + j] = Σ_k W[j][k] · x[i * ldx + k]` with `W` = `n` rows of `k` bf16 values.
/// Activations stay f32; weights are widened exactly; accumulation is f32. Any `k` works.
@inline(__always)
public func bf16Gemm(
    weights: UnsafePointer<UInt16>, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int, m: Int,
    y: UnsafeMutablePointer<Float>, ldy: Int, pool: ThreadPool?
) {
    sw_gemm_bf16(pool?.handle, weights, Int32(n), Int32(k), x, ldx, Int32(m), y, ldy)
}

/// Row converters between f32 and the 16-bit float formats (bit-identical on every path).
public enum HalfConversion {
    /// f32 → bf16, round to nearest even (NaN stays NaN).
    @inline(__always)
    public static func floatToBF16(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt16>, count: Int) {
        sw_f32_to_bf16(x, y, count)
    }

    /// bf16 → f32 (exact).
    @inline(__always)
    public static func bf16ToFloat(_ x: UnsafePointer<UInt16>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        sw_bf16_to_f32(x, y, count)
    }

    /// IEEE half → f32 (exact).
    @inline(__always)
    public static func halfToFloat(_ x: UnsafePointer<UInt16>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        sw_f16_to_f32(x, y, count)
    }

    /// f32 → IEEE half, round to nearest even, overflow to infinity.
    @inline(__always)
    public static func floatToHalf(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt16>, count: Int) {
        sw_f32_to_f16(x, y, count)
    }

    /// One IEEE half → f32.
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float { sw_f16_to_f32_1(h) }

    /// One f32 → IEEE half.
    @inline(__always)
    public static func floatToHalf(_ f: Float) -> UInt16 { sw_f32_to_f16_1(f) }
}
