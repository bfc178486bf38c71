import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletKernels

/// The sampler's row kernels at every level this machine runs, against plain loops: comparisons
/// exactly, exp-based results within the SIMD exp's error.
struct SamplingKernelTests {
    /// Seeded rows (SplitMix64), the same on every run.
    struct Rows {
        var g: SplitMix64
        init(state: UInt64) { g = SplitMix64(seed: state) }
        mutating func next() -> UInt64 { g.next() }
        mutating func unit() -> Float { g.unitInterval() }

        /// Row kinds: spread values, few distinct values (ties everywhere), mostly -inf (masked
        /// tokens), and a low plateau with two equal maxima far apart.
        mutating func row(_ n: Int, kind: Int) -> [Float] {
            var v = (0..<n).map { _ -> Float in
                switch kind {
                case 0: return unit() * 30 - 15
                case 1: return Float(next() % 40)
                case 2: return next() % 3 == 0 ? unit() * 20 - 30 : -.infinity
                default: return unit() * 4 - 200
                }
            }
            if kind == 3 && n > 2 { v[n / 2] = 5; v[n - 1] = 5 }
            return v
        }
    }

    static let lengths = [1, 7, 16, 17, 64, 65, 1000, 49_152 + 3]
    static let kinds = 0..<4

    static func forEachRow(seed: UInt64, _ body: (_ row: [Float], _ label: String) -> Void) {
        var g = Rows(state: seed)
        for n in lengths {
            for kind in kinds { body(g.row(n, kind: kind), "n \(n) kind \(kind)") }
        }
    }

    static func referenceArgmax(_ v: [Float]) -> (Int, Float) {
        var best = 0, value = -Float.infinity
        for (i, x) in v.enumerated() where x > value { best = i; value = x }
        return (best, value)
    }

    static func referenceOrder(_ v: [Float]) -> [Int] {
        v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }
    }

    @Test func argmaxAndCountAreExactAtEveryLevel() {
        Self.forEachRow(seed: 1) { v, label in
            let (wantIndex, wantValue) = Self.referenceArgmax(v)
            let pivot = v[v.count / 3]
            let wantAbove = v.filter { $0 > pivot }.count
            for level in KernelLevel.upToCurrent {
                let (i, x, above, m) = KernelLevel.with(level) {
                    v.withUnsafeBufferPointer { p in
                        let (i, x) = SamplingKernels.argmax(p)
                        return (i, x, SamplingKernels.countGreater(p, than: pivot), SamplingKernels.max(p))
                    }
                }
                #expect(i == wantIndex && x == wantValue && m == wantValue, "\(level) \(label): \(i) \(x)")
                #expect(above == wantAbove, "\(level) \(label)")
            }
        }
    }

    @Test func topIndicesMatchAFullSortAtEveryLevel() {
        Self.forEachRow(seed: 2) { v, label in
            let order = Self.referenceOrder(v)
            for k in Set([1, 3, 20, v.count / 3, v.count]) where k > 0 {
                // Among -inf entries the order is still by index: the full sort is the reference.
                let want = Array(order.prefix(k))
                for level in KernelLevel.upToCurrent {
                    let got = KernelLevel.with(level) { v.withUnsafeBufferPointer { SamplingKernels.topIndices($0, count: k) } }
                    #expect(got == want, "\(level) \(label) k \(k)")
                }
            }
        }
    }

    /// -0 and +0 are equal values, so the index decides between them.
    @Test func topIndicesTreatSignedZerosAsEqual() {
        var v = (0..<40).map { $0 % 2 == 0 ? Float(0) : -Float(0) }
        v[33] = 1
        v[7] = -1
        let want = Self.referenceOrder(v)
        for level in KernelLevel.upToCurrent {
            for k in [2, 40] {
                let got = KernelLevel.with(level) { v.withUnsafeBufferPointer { SamplingKernels.topIndices($0, count: k) } }
                #expect(got == Array(want.prefix(k)), "\(level) k \(k)")
            }
        }
    }

    @Test func expWeightsFollowExpAndTheFloor() {
        let scale: Float = 0.7
        Self.forEachRow(seed: 3) { v, label in
            let top = Self.referenceArgmax(v).1
            guard top.isFinite else { return }
            let want = v.map { x -> Double in
                let a = (x - top) * scale
                return a < -87 ? 0 : exp(Double(a))
            }
            let wantSum = want.reduce(0, +)
            for level in KernelLevel.upToCurrent {
                var w = v, again = v
                let (sum, sumAgain, sumOnly) = KernelLevel.with(level) {
                    (w.withUnsafeMutableBufferPointer { SamplingKernels.expWeightsInPlace($0, max: top, scale: scale) },
                     again.withUnsafeMutableBufferPointer { SamplingKernels.expWeightsInPlace($0, max: top, scale: scale) },
                     v.withUnsafeBufferPointer { SamplingKernels.expWeightSum($0, max: top, scale: scale) })
                }
                let bad = w.indices.filter { abs(Double(w[$0]) - want[$0]) > 4e-7 * want[$0] }
                #expect(bad.isEmpty, "\(level) \(label): weights off at \(bad.prefix(5))")
                #expect(abs(sum - wantSum) <= 1e-6 * wantSum, "\(level) \(label): \(sum) vs \(wantSum)")
                // Deterministic, and the same without writing the weights.
                #expect(w == again && sum == sumAgain && sum == sumOnly, "\(level) \(label)")

                // Min-p style floor: everything under it is dropped from the row and the sum.
                var f = v
                let floored = KernelLevel.with(level) {
                    f.withUnsafeMutableBufferPointer { SamplingKernels.expWeightsInPlace($0, max: top, scale: 1, floor: 0.05) }
                }
                #expect(f.allSatisfy { $0 == 0 || $0 >= 0.05 }, "\(level) \(label)")
                let kept = v.indices.filter { f[$0] > 0 }
                #expect(kept.allSatisfy { exp(Double(v[$0] - top)) >= 0.05 * (1 - 1e-6) }, "\(level) \(label)")
                #expect(abs(floored - f.reduce(0.0) { $0 + Double($1) }) <= 1e-9 * floored, "\(level) \(label)")
            }
        }
    }

    @Test func logSumExpMatchesDoublePrecision() {
        Self.forEachRow(seed: 4) { v, label in
            let top = Self.referenceArgmax(v).1
            let want = top.isFinite ? Double(top) + log(v.reduce(0.0) { $0 + exp(Double($1) - Double(top)) }) : -.infinity
            for level in KernelLevel.upToCurrent {
                let got = KernelLevel.with(level) { v.withUnsafeBufferPointer { SamplingKernels.logSumExp($0) } }
                #expect(got == want || abs(got - want) <= 1e-6 * max(1, abs(want)), "\(level) \(label): \(got) vs \(want)")
            }
        }
        let masked = [Float](repeating: -.infinity, count: 9)
        for level in KernelLevel.upToCurrent {
            #expect(KernelLevel.with(level) { masked.withUnsafeBufferPointer { SamplingKernels.logSumExp($0) } } == -.infinity)
        }
    }

    @Test func cdfPickLandsWhereTheRunningSumPassesTheTarget() {
        var g = Rows(state: 5)
        Self.forEachRow(seed: 6) { v, label in
            let top = Self.referenceArgmax(v).1
            guard top.isFinite else { return }
            var w = v
            _ = w.withUnsafeMutableBufferPointer { SamplingKernels.expWeightsInPlace($0, max: top, scale: 1, floor: 1e-3) }
            var prefix = [0.0]
            for x in w { prefix.append(prefix.last! + Double(x)) }
            let total = prefix.last!
            let lastPositive = w.lastIndex { $0 > 0 }
            for level in KernelLevel.upToCurrent {
                for _ in 0..<25 {
                    let target = Double(g.unit()) * total
                    guard let i = KernelLevel.with(level, { w.withUnsafeBufferPointer { SamplingKernels.cdfPick($0, target: target) } }) else {
                        Issue.record("\(level) \(label): no pick for \(target) of \(total)")
                        continue
                    }
                    let slack = 1e-9 * total
                    #expect(w[i] > 0 && prefix[i] <= target + slack && prefix[i + 1] >= target - slack,
                            "\(level) \(label): \(i) for \(target)")
                }
                // Mass beyond the total (rounding) goes to the last positive weight.
                let over = KernelLevel.with(level) { w.withUnsafeBufferPointer { SamplingKernels.cdfPick($0, target: total * 1.5) } }
                #expect(over == lastPositive, "\(level) \(label)")
                let zeros = [Float](repeating: 0, count: v.count)
                #expect(KernelLevel.with(level) { zeros.withUnsafeBufferPointer { SamplingKernels.cdfPick($0, target: 0) } } == nil)
            }
        }
    }

    @Test func penaltiesMatchASetAndDictionaryReference() {
        var g = Rows(state: 7)
        for round in 0..<60 {
            let vocab = 1 + Int(g.next() % 300)
            let count = Int(g.next() % 200)
            // Some ids outside the row, which are ignored.
            let tokens = (0..<count).map { _ in Int(g.next() % UInt64(vocab + 4)) - 2 }
            let promptLength = count == 0 ? 0 : Int(g.next() % UInt64(count + 1))
            let row = (0..<vocab).map { _ in g.unit() * 10 - 5 }
            let (r, f, p): (Float, Float, Float) = round % 3 == 0 ? (1.3, 0, 0) : round % 3 == 1 ? (1, 0.25, 0.5) : (0.8, -0.1, 0.3)

            var want = row
            var seen = Set<Int>()
            if r != 1 {
                for t in tokens where t >= 0 && t < vocab && seen.insert(t).inserted {
                    want[t] = want[t] > 0 ? want[t] / r : want[t] * r
                }
            }
            var counts: [Int: Int] = [:]
            for t in tokens[promptLength...] where t >= 0 && t < vocab { counts[t, default: 0] += 1 }
            for (t, c) in counts { want[t] -= f * Float(c) + p }

            var got = row
            got.withUnsafeMutableBufferPointer {
                SamplingKernels.applyPenalties(to: $0, tokens: tokens, promptLength: promptLength, repetition: r, frequency: f, presence: p)
            }
            #expect(got == want, "round \(round)")
            // The table is left clean: the same call again gives the same row.
            var twice = row
            twice.withUnsafeMutableBufferPointer {
                SamplingKernels.applyPenalties(to: $0, tokens: tokens, promptLength: promptLength, repetition: r, frequency: f, presence: p)
            }
            #expect(twice == want, "round \(round) again")
        }
    }
}
