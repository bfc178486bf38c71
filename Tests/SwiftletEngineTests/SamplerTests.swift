import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletEngine

/// Reference rows recorded by scripts/make_sampling_fixtures.py --sampling.
struct SamplingFixture: Decodable {
    struct Params: Decodable {
        let temperature: Double
        let top_k: Int
        let top_p: Double
        let min_p: Double
        let repetition_penalty: Double
        let presence_penalty: Double
        let frequency_penalty: Double
        let logit_bias: [String: Double]
        let min_tokens: Int
        let stop_token_ids: [Int]

        var samplingParams: SamplingParams {
            SamplingParams(minTokens: min_tokens, temperature: temperature, topP: top_p, topK: top_k, minP: min_p,
                           repetitionPenalty: repetition_penalty, presencePenalty: presence_penalty,
                           frequencyPenalty: frequency_penalty,
                           logitBias: Dictionary(uniqueKeysWithValues: logit_bias.map { (Int($0.key)!, $0.value) }),
                           stopTokenIDs: stop_token_ids)
        }
    }
    struct Case: Decodable {
        let name: String
        let logits: [Float]
        let prompt: [Int]
        let output: [Int]
        let params: Params
        /// Logits after bias and penalties; nil stands for -infinity.
        let processed: [Double?]
        /// The distribution after temperature, top-k, top-p and min-p.
        let probs: [Double]
    }
    let cases: [Case]

    static func load() throws -> SamplingFixture {
        try JSONDecoder().decode(SamplingFixture.self, from: Data(contentsOf: TestPaths.reference("sampling.json")))
    }
}

struct SamplerTests {
    @Test func argmaxFindsTheFirstLargestValueAtAnyLength() {
        var g = SeededGenerator(seed: 3)
        for n in [1, 5, 16, 17, 33, 1000, 49_152] {
            var v = (0..<n).map { _ in Float(Int.random(in: -1000...1000, using: &g)) / 7 }
            let top = Int.random(in: 0..<n, using: &g)
            v[top] = 500
            if top + 1 < n { v[n - 1] = 500 } // a later tie must not win
            let (i, x) = v.withUnsafeBufferPointer { StandardSampler.argmax($0) }
            #expect(i == top && x == 500, "n = \(n)")
        }
    }

    @Test func topIndicesAgreesWithAFullSort() {
        var g = SeededGenerator(seed: 11)
        for n in [1, 7, 100, 5000] {
            // Few distinct values, so ties are common.
            let v = (0..<n).map { _ in Float(Int.random(in: 0..<40, using: &g)) }
            let sorted = v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }
            for k in [1, 3, 20, n / 3, n] where k > 0 {
                let got = v.withUnsafeBufferPointer { StandardSampler.topIndices($0, count: k) }
                #expect(got == Array(sorted.prefix(k)), "n \(n) k \(k)")
            }
        }
    }

    @Test func greedyIgnoresTheGeneratorAndSamplingFollowsTheSeed() {
        let logits: [Float] = [0.1, 2.0, 1.9, -1, 0.5]
        let sampler = StandardSampler()
        func draw(_ row: [Float], _ params: SamplingParams, _ g: inout SeededGenerator) -> Int {
            var copy = row
            return copy.withUnsafeMutableBufferPointer { sampler.sample(logits: $0, params: params, generator: &g) }
        }
        var g1 = SeededGenerator(seed: 9), g2 = SeededGenerator(seed: 9)
        #expect(draw(logits, .greedy(maxTokens: 1), &g1) == 1)
        let hot = SamplingParams(temperature: 1.0)
        let a = (0..<200).map { _ in draw(logits, hot, &g1) }
        let b = (0..<200).map { _ in draw(logits, hot, &g2) }
        #expect(a == b) // greedy drew nothing from g1
        #expect(Set(a).count >= 3) // a real distribution, not the argmax
        var masked = logits
        masked[1] = -.infinity
        #expect(!(0..<200).map { _ in draw(masked, hot, &g2) }.contains(1))
    }

    /// Without top-k, top-p cuts at a fraction of the whole distribution, not of the best tokens the
    /// sampler happened to select: 64 equal tokens hold 95% of the mass, so top_p 0.9 keeps 61 of
    /// them (a cut relative to those 64 alone would keep 58).
    @Test func topPIsAFractionOfTheWholeDistribution() {
        let tail = Float(log(64.0 / 0.95 * 0.05 / 36))
        let logits = [Float](repeating: 0, count: 64) + [Float](repeating: tail, count: 36)
        let params = SamplingParams(temperature: 1.0, topP: 0.9)
        var g = SeededGenerator(seed: 21)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<6_100 {
            var row = logits
            counts[row.withUnsafeMutableBufferPointer { StandardSampler().sample(logits: $0, params: params, generator: &g) }] += 1
        }
        #expect(counts[61...].allSatisfy { $0 == 0 }, "drew past the cut: \(counts[61...])")
        // 100 expected draws each: none of the kept tokens is missing.
        #expect(counts[..<61].allSatisfy { $0 > 50 }, "\(counts[..<61])")
    }

    @Test func penaltiesAndBiasMatchTheReference() throws {
        for c in try SamplingFixture.load().cases {
            var row = c.logits
            let params = c.params.samplingParams
            row.withUnsafeMutableBufferPointer {
                LogitsProcessor.apply(to: $0, params: params, tokens: c.prompt + c.output, promptLength: c.prompt.count,
                                      stopTokens: Set(c.params.stop_token_ids))
            }
            for (i, want) in c.processed.enumerated() {
                if let want {
                    #expect(abs(Double(row[i]) - want) <= 1e-5 * max(1, abs(want)), "\(c.name): token \(i) \(row[i]) vs \(want)")
                } else {
                    #expect(row[i] == -.infinity, "\(c.name): token \(i) should be masked")
                }
            }
        }
    }

    /// Pearson's chi-square over bins of at least 5 expected draws (rarer tokens pooled), against
    /// the 99.9% quantile (Wilson-Hilferty). Seeds are fixed, so the outcome is too.
    static func chiSquare(counts: [Int], probs: [Double], draws: Int) -> (statistic: Double, critical: Double) {
        var bins: [(observed: Double, expected: Double)] = []
        var pooled = (observed: 0.0, expected: 0.0)
        for (c, p) in zip(counts, probs) where p > 0 {
            let e = p * Double(draws)
            if e >= 5 { bins.append((Double(c), e)) } else { pooled.observed += Double(c); pooled.expected += e }
        }
        if pooled.expected > 0 { bins.append(pooled) }
        let stat = bins.reduce(0.0) { $0 + ($1.observed - $1.expected) * ($1.observed - $1.expected) / $1.expected }
        let df = Double(max(bins.count - 1, 1))
        let z = 3.0902 // standard normal 99.9% quantile
        let h = 2 / (9 * df)
        return (stat, df * pow(1 - h + z * h.squareRoot(), 3))
    }

    @Test func samplingFrequenciesMatchTheFilteredSoftmax() throws {
        let sampler = StandardSampler()
        for (n, c) in try SamplingFixture.load().cases.enumerated() {
            let draws = c.probs.count > 100 ? 4_000 : 20_000
            let params = c.params.samplingParams
            var processed = c.logits
            processed.withUnsafeMutableBufferPointer {
                LogitsProcessor.apply(to: $0, params: params, tokens: c.prompt + c.output, promptLength: c.prompt.count,
                                      stopTokens: Set(c.params.stop_token_ids))
            }
            var g = SeededGenerator(seed: 1000 + UInt64(n))
            var counts = [Int](repeating: 0, count: c.probs.count)
            var row = processed
            for _ in 0..<draws {
                row.withUnsafeMutableBufferPointer { r in
                    _ = r.initialize(from: processed)
                    counts[sampler.sample(logits: r, params: params, generator: &g)] += 1
                }
            }
            let outside = counts.indices.filter { counts[$0] > 0 && c.probs[$0] == 0 }
            #expect(outside.isEmpty, "\(c.name): drew filtered-out tokens \(outside)")
            let (stat, critical) = Self.chiSquare(counts: counts, probs: c.probs, draws: draws)
            #expect(stat < critical, "\(c.name): chi-square \(stat) >= \(critical)")
            if c.name == "top-k 5" {
                // The same draws against the untruncated softmax must fail: the test can tell.
                let full = c.logits.map { exp(Double($0)) }
                let z = full.reduce(0, +)
                let (wrong, limit) = Self.chiSquare(counts: counts, probs: full.map { $0 / z }, draws: draws)
                #expect(wrong > limit)
            }
        }
    }

    @Test func logprobsComputerRanksAndNormalises() {
        let logits: [Float] = [1, 3, 3, -2, 0.5]
        logits.withUnsafeBufferPointer { p in
            let lp = LogprobsComputer(logits: p)
            let z = log(logits.map { exp(Double($0)) }.reduce(0, +))
            // The SIMD levels' exp is good to ~2e-7 relative; logprobs are reported as Float anyway.
            #expect(abs(lp.logNormalizer - z) < 1e-6)
            let pos = lp.position(chosen: 4, top: 2)
            #expect(pos.top.map(\.tokenID) == [1, 2])
            #expect(pos.top.map(\.rank) == [1, 2])
            #expect(pos.chosen.rank == 4 && abs(Double(pos.chosen.logprob) - (0.5 - z)) < 1e-6)
            #expect(lp.rank(2) == 1) // ties share the better rank
        }
    }
}
