import Foundation
import SwiftletKernels

/// Picks a sequence's next token from its logits.
///
/// The engine has already applied logit bias, penalties and the `minTokens` mask (see
/// `LogitsProcessor`) when it calls the sampler; the sampler applies temperature and truncation
/// and draws. `logits` is scratch that belongs to the step: a sampler may overwrite it.
public protocol Sampler: Sendable {
    func sample(logits: UnsafeMutableBufferPointer<Float>, params: SamplingParams, generator: inout SeededGenerator) -> Int
}

/// Greedy argmax at temperature 0; otherwise temperature, then top-k, top-p and min-p (in vLLM's
/// order and with its tie rules), then one draw from what is left.
///
/// A step samples hundreds of rows of about 50,000 logits, so nothing here sorts a whole row:
/// top-k and top-p work on a partial selection of the best candidates, and the untruncated case
/// turns the row into weights in place and walks it once. The passes over the whole row are the
/// SIMD kernels of `SamplingKernels`.
public struct StandardSampler: Sampler {
    public init() {}

    public func sample(logits: UnsafeMutableBufferPointer<Float>, params: SamplingParams, generator: inout SeededGenerator) -> Int {
        let (best, bestValue) = Self.argmax(UnsafeBufferPointer(logits))
        guard params.temperature > 0, bestValue.isFinite else { return best }
        let invT = Float(1 / params.temperature)
        let n = logits.count
        let k = params.topK > 0 ? min(params.topK, n) : n
        let minP = Float(params.minP)
        // One uniform draw per token keeps a seeded stream's position independent of the controls.
        let u = Double.random(in: 0..<1, using: &generator)

        if k == n && params.topP >= 1 {
            // Weights relative to the best token (which has weight 1), written over the row.
            let total = SamplingKernels.expWeightsInPlace(logits, max: bestValue, scale: invT, floor: minP)
            // Rounding may leave a sliver of mass past the last weight: the kernel gives it the last one.
            return SamplingKernels.cdfPick(UnsafeBufferPointer(logits), target: u * total) ?? best
        }

        var candidates: [Int]
        var weights: [Float]
        // The mass top-p is a fraction of: what top-k left, or with no top-k the whole row (the
        // candidates then are only the selection that was wide enough to hold the cut).
        var distributionMass = 0.0
        if k < n {
            candidates = Self.topIndices(UnsafeBufferPointer(logits), count: k)
            weights = candidates.map { exp((logits[$0] - bestValue) * invT) }
        } else {
            // Top-p over the whole vocabulary: the normaliser needs every token, the cut only the
            // best ones, so select a few and widen the selection until it holds enough mass.
            let total = SamplingKernels.expWeightsInPlace(logits, max: bestValue, scale: invT)
            distributionMass = total
            let needed = params.topP * total
            var m = min(n, 64)
            while true {
                candidates = Self.topIndices(UnsafeBufferPointer(logits), count: m)
                var mass = 0.0
                for c in candidates { mass += Double(logits[c]) }
                if mass >= needed || m == n { break }
                m = min(n, m * 8)
            }
            weights = candidates.map { logits[$0] }
        }
        if params.topP < 1 {
            // vLLM keeps a token when the mass of the tokens before it (in descending order) is
            // still below top_p: the smallest prefix that reaches top_p, and never nothing.
            if k < n { for w in weights { distributionMass += Double(w) } }
            let needed = params.topP * distributionMass
            var before = 0.0
            var keep = 0
            while keep < weights.count && (keep == 0 || before < needed) {
                before += Double(weights[keep])
                keep += 1
            }
            candidates.removeLast(candidates.count - keep)
            weights.removeLast(weights.count - keep)
        }
        // Min-p compares with the best token, whose weight is 1 here.
        var total = 0.0
        for j in weights.indices {
            if weights[j] < minP { weights[j] = 0 }
            total += Double(weights[j])
        }
        var target = u * total
        var last = candidates[0]
        for j in weights.indices where weights[j] > 0 {
            target -= Double(weights[j])
            last = candidates[j]
            if target < 0 { return candidates[j] }
        }
        return last
    }
}

extension StandardSampler {
    /// The first index of the largest value (a later tie never wins), by the row kernels.
    public static func argmax(_ p: UnsafeBufferPointer<Float>) -> (index: Int, value: Float) {
        SamplingKernels.argmax(p)
    }

    /// Indices of the `count` largest values, largest first (ties: lower index first): a bounded
    /// heap fed by a vector compare pass that skips everything below the heap's worst entry.
    public static func topIndices(_ p: UnsafeBufferPointer<Float>, count: Int) -> [Int] {
        SamplingKernels.topIndices(p, count: count)
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
