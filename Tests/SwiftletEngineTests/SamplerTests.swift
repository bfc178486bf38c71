import Testing
@testable import SwiftletEngine

struct SamplerTests {
    @Test func argmaxFindsTheFirstLargestValueAtAnyLength() {
        var g = SeededGenerator(seed: 3)
        for n in [1, 5, 16, 17, 33, 1000, 49_152] {
            var v = (0..<n).map { _ in Float(Int.random(in: -1000...1000, using: &g)) / 7 }
            let top = Int.random(in: 0..<n, using: &g)
            v[top] = 500
            if top + 1 < n { v[n - 1] = 500 } // a later tie must not win
            let (i, x) = v.withUnsafeBufferPointer { BasicSampler.argmax($0) }
            #expect(i == top && x == 500, "n = \(n)")
        }
    }

    @Test func greedyIgnoresTheGeneratorAndSamplingFollowsTheSeed() {
        let logits: [Float] = [0.1, 2.0, 1.9, -1, 0.5]
        let sampler = BasicSampler()
        var g1 = SeededGenerator(seed: 9), g2 = SeededGenerator(seed: 9)
        logits.withUnsafeBufferPointer { p in
            #expect(sampler.sample(logits: p, params: .greedy(maxTokens: 1), generator: &g1) == 1)
            let hot = SamplingParams(temperature: 1.0)
            let a = (0..<200).map { _ in sampler.sample(logits: p, params: hot, generator: &g1) }
            var g3 = SeededGenerator(seed: 9)
            _ = sampler.sample(logits: p, params: .greedy(maxTokens: 1), generator: &g3)
            let b = (0..<200).map { _ in sampler.sample(logits: p, params: hot, generator: &g3) }
            #expect(a == b)
            #expect(Set(a).count >= 3) // a real distribution, not the argmax
            // Masked tokens are never drawn.
            var masked = logits
            masked[1] = -.infinity
            let c = masked.withUnsafeBufferPointer { m in (0..<200).map { _ in sampler.sample(logits: m, params: hot, generator: &g2) } }
            #expect(!c.contains(1))
        }
    }
}
