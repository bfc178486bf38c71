import Foundation

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
/// turns the row into weights in place and walks it once.
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
            var total = 0.0
            for i in 0..<n {
                var e = exp((logits[i] - bestValue) * invT)
                if e < minP { e = 0 }
                logits[i] = e
                total += Double(e)
            }
            var target = u * total
            var last = best
            for i in 0..<n where logits[i] > 0 {
                target -= Double(logits[i])
                last = i
                if target < 0 { return i }
            }
            return last // rounding left a sliver of mass at the end
        }

        var candidates: [Int]
        var weights: [Float]
        if k < n {
            candidates = Self.topIndices(UnsafeBufferPointer(logits), count: k)
            weights = candidates.map { exp((logits[$0] - bestValue) * invT) }
        } else {
            // Top-p over the whole vocabulary: the normaliser needs every token, the cut only the
            // best ones, so select a few and widen the selection until it holds enough mass.
            var total = 0.0
            for i in 0..<n {
                let e = exp((logits[i] - bestValue) * invT)
                logits[i] = e
                total += Double(e)
            }
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
            var total = 0.0
            for w in weights { total += Double(w) }
            let needed = params.topP * total
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

    /// Indices of the `count` largest values, largest first (ties: lower index first), by a bounded
    /// min-heap: one pass that rarely does more than a comparison per element, instead of a sort.
    public static func topIndices(_ p: UnsafeBufferPointer<Float>, count: Int) -> [Int] {
        let n = p.count
        let m = min(count, n)
        guard m > 0 else { return [] }
        if m * 4 >= n {
            return (0..<n).sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }.prefix(m).map { $0 }
        }
        // The heap's root is its worst entry: smallest value, and among equal values the latest index.
        var heap = [Int](0..<m)
        @inline(__always) func worse(_ a: Int, _ b: Int) -> Bool { p[a] < p[b] || (p[a] == p[b] && a > b) }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var w = i
                if l < m && worse(heap[l], heap[w]) { w = l }
                if r < m && worse(heap[r], heap[w]) { w = r }
                if w == i { return }
                heap.swapAt(i, w)
                i = w
            }
        }
        for i in stride(from: m / 2 - 1, through: 0, by: -1) { siftDown(i) }
        var floor = p[heap[0]]
        for i in m..<n where p[i] > floor {
            heap[0] = i
            siftDown(0)
            floor = p[heap[0]]
        }
        return heap.sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }
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
