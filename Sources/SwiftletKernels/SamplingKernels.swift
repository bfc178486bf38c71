import CSwiftletOps

/// The sampler's passes over one row of logits (a whole vocabulary), in C with a path per kernel
/// level (see sw_sampling.h). Comparisons (maximum, argmax, counts, top-k) give the same answer at
/// every level; the exp-based passes may differ between levels in the last bits.
public enum SamplingKernels {
    /// The first index of the largest value and the value; `(0, -inf)` for an empty row.
    public static func argmax(_ p: UnsafeBufferPointer<Float>) -> (index: Int, value: Float) {
        guard let base = p.baseAddress, p.count > 0 else { return (0, -.infinity) }
        var value: Float = 0
        let index = sw_argmax_f32(base, p.count, &value)
        return (Int(index), value)
    }

    /// The largest value; -inf for an empty row.
    public static func max(_ p: UnsafeBufferPointer<Float>) -> Float {
        guard let base = p.baseAddress, p.count > 0 else { return -.infinity }
        return sw_max_f32(base, p.count)
    }

    /// How many values are greater than `value`.
    public static func countGreater(_ p: UnsafeBufferPointer<Float>, than value: Float) -> Int {
        guard let base = p.baseAddress, p.count > 0 else { return 0 }
        return Int(sw_count_greater_f32(base, p.count, value))
    }

    /// Writes the softmax weights `exp((x - max) * scale)` over the row (0 below `floor`, and for
    /// -inf logits) and returns their sum in double precision.
    public static func expWeightsInPlace(_ p: UnsafeMutableBufferPointer<Float>, max: Float, scale: Float,
                                         floor: Float = 0) -> Double {
        guard let base = p.baseAddress, p.count > 0 else { return 0 }
        return sw_exp_weights_f32(base, base, p.count, max, scale, floor)
    }

    /// The sum of `exp((x - max) * scale)` (weights below `floor` left out), without writing them.
    public static func expWeightSum(_ p: UnsafeBufferPointer<Float>, max: Float, scale: Float, floor: Float = 0) -> Double {
        guard let base = p.baseAddress, p.count > 0 else { return 0 }
        return sw_exp_weights_f32(base, nil, p.count, max, scale, floor)
    }

    /// log(sum(exp(x))); -inf when the row's maximum is not finite.
    public static func logSumExp(_ p: UnsafeBufferPointer<Float>) -> Double {
        guard let base = p.baseAddress, p.count > 0 else { return -.infinity }
        return sw_logsumexp_f32(base, p.count)
    }

    /// Inverse-CDF draw: the first index where the running sum of the non-negative weights exceeds
    /// `target` (the last positive weight when rounding leaves mass over); nil when no weight is
    /// positive.
    public static func cdfPick(_ w: UnsafeBufferPointer<Float>, target: Double) -> Int? {
        guard let base = w.baseAddress, w.count > 0 else { return nil }
        let i = Int(sw_cdf_pick_f32(base, w.count, target))
        return i < w.count ? i : nil
    }

    /// Indices of the `count` largest values, largest first (ties: lower index first).
    public static func topIndices(_ p: UnsafeBufferPointer<Float>, count: Int) -> [Int] {
        let m = Swift.min(Swift.max(count, 0), p.count)
        guard let base = p.baseAddress, m > 0 else { return [] }
        return [Int](unsafeUninitializedCapacity: m) { out, written in
            out.baseAddress!.withMemoryRebound(to: Int64.self, capacity: m) { written = Int(sw_top_indices_f32(base, p.count, m, $0)) }
        }
    }

    /// The repetition penalty once per distinct token of `tokens`, then `frequency * count +
    /// presence` subtracted once per distinct token of the output (`tokens[promptLength...]`);
    /// ids outside the row are ignored.
    public static func applyPenalties(to logits: UnsafeMutableBufferPointer<Float>, tokens: [Int], promptLength: Int,
                                      repetition: Float, frequency: Float, presence: Float) {
        guard let base = logits.baseAddress, !tokens.isEmpty else { return }
        let status = tokens.withUnsafeBufferPointer { t in
            t.baseAddress!.withMemoryRebound(to: Int64.self, capacity: t.count) {
                sw_apply_penalties_f32(base, logits.count, $0, t.count, Swift.max(promptLength, 0), repetition, frequency, presence)
            }
        }
        precondition(status == 0, "sw_apply_penalties_f32: cannot allocate a table of \(logits.count) entries")
    }
}
