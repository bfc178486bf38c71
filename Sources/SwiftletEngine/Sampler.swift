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
    /// The first index of the largest value. A vector pass finds the maximum and a scalar pass its
    /// first position: a step samples hundreds of rows of 50,000 logits, so this is worth a few
    /// percent of a decode step.
    public static func argmax(_ p: UnsafeBufferPointer<Float>) -> (index: Int, value: Float) {
        let n = p.count
        guard n > 0, let base = p.baseAddress else { return (0, -.infinity) }
        var best = -Float.infinity
        var i = 0
        if n >= 16 {
            let raw = UnsafeRawPointer(base)
            var m = SIMD16<Float>(repeating: -.infinity)
            while i + 16 <= n {
                m = pointwiseMax(m, raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: SIMD16<Float>.self))
                i += 16
            }
            best = m.max()
        }
        while i < n {
            if p[i] > best { best = p[i] }
            i += 1
        }
        for j in 0..<n where p[j] == best { return (j, best) }
        return (0, best) // only NaNs and -infinity
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
