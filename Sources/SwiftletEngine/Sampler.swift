import Foundation

/// Picks a sequence's next token from its logits.
///
/// The engine masks what must not be sampled (e.g. EOS before `minTokens`) by setting those logits
/// to -infinity before calling the sampler, so samplers only see a distribution.
public protocol Sampler: Sendable {
    func sample(logits: UnsafeBufferPointer<Float>, params: SamplingParams, generator: inout SeededGenerator) -> Int
}

/// Greedy argmax at temperature 0, otherwise a draw from softmax(logits / temperature).
/// A fuller sampler (top-k/p, penalties) can replace it behind `Sampler`.
public struct BasicSampler: Sampler {
    public init() {}

    public func sample(logits: UnsafeBufferPointer<Float>, params: SamplingParams, generator: inout SeededGenerator) -> Int {
        let (best, bestValue) = Self.argmax(logits)
        guard params.temperature > 0, bestValue.isFinite else { return best }
        // Inverse-CDF draw; subtracting the maximum keeps exp() in range.
        let invT = 1 / params.temperature
        var total = 0.0
        for v in logits where v > -Float.infinity { total += exp(Double(v - bestValue) * invT) }
        var target = Double.random(in: 0..<1, using: &generator) * total
        for i in 0..<logits.count where logits[i] > -Float.infinity {
            target -= exp(Double(logits[i] - bestValue) * invT)
            if target < 0 { return i }
        }
        return best
    }
}

extension BasicSampler {
    /// The first index of the largest value. A step samples hundreds of rows of 50,000 logits, so
    /// this matters: eight independent running maxima let the compiler keep eight comparisons in
    /// flight (3-4x a plain loop; the generic SIMD types are slower still), then a scalar pass finds
    /// the first position of the maximum.
    public static func argmax(_ p: UnsafeBufferPointer<Float>) -> (index: Int, value: Float) {
        let n = p.count
        guard n > 0 else { return (0, -.infinity) }
        var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
        var i = 0
        while i + 8 <= n {
            let a0 = p[i], a1 = p[i + 1], a2 = p[i + 2], a3 = p[i + 3]
            let a4 = p[i + 4], a5 = p[i + 5], a6 = p[i + 6], a7 = p[i + 7]
            m0 = a0 > m0 ? a0 : m0; m1 = a1 > m1 ? a1 : m1; m2 = a2 > m2 ? a2 : m2; m3 = a3 > m3 ? a3 : m3
            m4 = a4 > m4 ? a4 : m4; m5 = a5 > m5 ? a5 : m5; m6 = a6 > m6 ? a6 : m6; m7 = a7 > m7 ? a7 : m7
            i += 8
        }
        m0 = m1 > m0 ? m1 : m0; m2 = m3 > m2 ? m3 : m2; m4 = m5 > m4 ? m5 : m4; m6 = m7 > m6 ? m7 : m6
        m0 = m2 > m0 ? m2 : m0; m4 = m6 > m4 ? m6 : m4
        var best = m4 > m0 ? m4 : m0
        while i < n {
            if p[i] > best { best = p[i] }
            i += 1
        }
        for j in 0..<n where p[j] == best { return (j, best) }
        return (0, best) // only NaNs
    }
}

/// A small, fast, seedable random generator (xoshiro256**), so a request with a seed gives the
/// same tokens on every run.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        // SplitMix64 spreads the seed over the state, which must not be all zero.
        var x = seed
        func next() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (next(), next(), next(), next())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }
}
