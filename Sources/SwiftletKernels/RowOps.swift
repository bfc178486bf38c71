import CSwiftletOps

/// Row-wise operations on float matrices (`rows` rows of `n` values, leading dimensions `ld*`),
/// the layers' building blocks between matmuls. Each runs at the kernel level the dispatch chose.
public enum RowOps {
    /// y += x, row by row.
    public static func add(_ y: UnsafeMutablePointer<Float>, ldy: Int, _ x: UnsafePointer<Float>, ldx: Int, rows: Int, n: Int) {
        sw_add_rows(y, ldy, x, ldx, Int32(rows), Int32(n))
    }

    /// RMSNorm of each row of `x` with weight `w`, into `out`.
    public static func rmsNorm(_ x: UnsafePointer<Float>, ldx: Int, weight w: UnsafePointer<Float>,
                               into out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, n: Int, eps: Float) {
        sw_rmsnorm(x, ldx, w, out, ldo, Int32(rows), Int32(n), eps)
    }

    /// LayerNorm of each row (mean subtracted, then scaled by `w` and shifted by `b`).
    public static func layerNorm(_ x: UnsafePointer<Float>, ldx: Int, weight w: UnsafePointer<Float>?, bias b: UnsafePointer<Float>?,
                                 into out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, n: Int, eps: Float) {
        sw_layernorm(x, ldx, w, b, out, ldo, Int32(rows), Int32(n), eps)
    }

    /// SwiGLU: `out = silu(gate) * up` where each row of `gateUp` is `n` gate values then `n` up values.
    public static func siluMul(_ gateUp: UnsafePointer<Float>, ld: Int, into out: UnsafeMutablePointer<Float>, ldo: Int,
                               rows: Int, n: Int) {
        sw_silu_mul(gateUp, ld, out, ldo, Int32(rows), Int32(n))
    }

    /// GELU with the tanh approximation in place over `count` values: x / (1 + e^(-2u)) with
    /// u = sqrt(2/pi) (x + 0.044715 x^3), the same function as 0.5 x (1 + tanh u).
    public static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) { sw_gelu_tanh(x, count) }

    /// max(x, 0) in place over `count` values.
    public static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) { sw_relu(x, count) }

    /// Cosines and sines of every position's rotary angles: `rows` rows of `2 * invFreq.count`.
    public static func ropeAngles(positions: UnsafePointer<Int32>, rows: Int, inverseFrequencies: UnsafePointer<Float>, half: Int,
                                  into angles: UnsafeMutablePointer<Float>) {
        sw_rope_cos_sin(positions, Int32(rows), inverseFrequencies, Int32(half), angles)
    }

    /// Rotates the first `rotaryDims` dims of each of `heads` heads per row by the angles from
    /// `ropeAngles`; `halves` pairs dim i with i + rotaryDims/2, else (2i, 2i+1).
    public static func rope(_ x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, heads: Int, headDim: Int, rotaryDims: Int,
                            angles: UnsafePointer<Float>, halves: Bool) {
        sw_rope_apply(x, ld, Int32(rows), Int32(heads), Int32(headDim), Int32(rotaryDims), angles, halves ? 1 : 0)
    }
}
