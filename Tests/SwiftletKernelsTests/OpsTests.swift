import CSwiftletOps
import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletKernels

/// The row operations at every kernel level against the scalar level: exact where the operation
/// is exact (additions, ReLU), otherwise within a few ulps of reassociated sums or exp
/// approximations.
@Suite struct OpsTests {
    // Row lengths around the vector widths (8, 16) and a model's (576), odd ones included.
    static let widths = [1, 7, 8, 13, 16, 33, 64, 576, 577]

    /// Runs `op` on a copy of `input` at each level and compares with the scalar level's result.
    func sweep(_ name: String, input: [Float], tolerance: Float, _ op: (inout [Float]) -> Void) {
        var reference = input
        KernelLevel.with(.scalar) { op(&reference) }
        for level in KernelLevel.upToCurrent {
            var out = input
            KernelLevel.with(level) { op(&out) }
            if tolerance == 0 {
                #expect(out == reference, "\(name) at \(level)")
            } else {
                var worst: Float = 0
                for i in out.indices { worst = max(worst, abs(out[i] - reference[i]) / max(1, abs(reference[i]))) }
                #expect(worst <= tolerance, "\(name) at \(level): error \(worst)")
            }
        }
    }

    func random(_ n: Int, _ rng: inout SplitMix64, scale: Float = 4) -> [Float] { (0..<n).map { _ in rng.float() * scale } }

    @Test func norms() {
        var rng = SplitMix64(seed: 11)
        for n in Self.widths {
            let rows = 3, ld = n + 3
            let x = random(rows * ld, &rng), w = random(n, &rng), b = random(n, &rng)
            // Outputs go to a different row stride than the inputs; padding must stay untouched.
            sweep("rmsnorm \(n)", input: [Float](repeating: 9, count: rows * (n + 5)), tolerance: 1e-5) { out in
                sw_rmsnorm(x, ld, w, &out, n + 5, Int32(rows), Int32(n), 1e-5)
            }
            for bias in [nil, b] {
                sweep("layernorm \(n) bias \(bias != nil)", input: [Float](repeating: 9, count: rows * (n + 5)), tolerance: 1e-5) { out in
                    if let bias { sw_layernorm(x, ld, w, bias, &out, n + 5, Int32(rows), Int32(n), 1e-5) }
                    else { sw_layernorm(x, ld, w, nil, &out, n + 5, Int32(rows), Int32(n), 1e-5) }
                }
            }
        }
    }

    @Test func activations() {
        var rng = SplitMix64(seed: 12)
        for n in Self.widths {
            let rows = 3
            var gu = random(rows * 2 * n, &rng, scale: 12)
            gu[0] = -100
            if gu.count > 2 { gu[1] = 100 }
            sweep("silu*mul \(n)", input: [Float](repeating: 9, count: rows * (n + 2)), tolerance: 1e-5) { out in
                sw_silu_mul(gu, 2 * n, &out, n + 2, Int32(rows), Int32(n))
            }
            var x = random(rows * n, &rng, scale: 8)
            x[0] = -30
            sweep("gelu \(n)", input: x, tolerance: 1e-5) { sw_gelu_tanh(&$0, $0.count) }
            x[0] = -0.0
            if n > 1 { x[1] = .nan }
            // x > 0 ? x : 0 maps NaN and -0 to +0; the vector versions must too.
            sweep("relu \(n)", input: x, tolerance: 0) { sw_relu(&$0, $0.count) }
        }
    }

    @Test func additions() {
        var rng = SplitMix64(seed: 13)
        for n in Self.widths {
            let rows = 4
            let y = random(rows * (n + 1), &rng), x = random(rows * (n + 2), &rng), b = random(n, &rng)
            sweep("add rows \(n)", input: y, tolerance: 0) { sw_add_rows(&$0, n + 1, x, n + 2, Int32(rows), Int32(n)) }
            sweep("add bias \(n)", input: y, tolerance: 0) { sw_add_bias(&$0, n + 1, b, Int32(rows), Int32(n)) }
        }
    }

    @Test func rope() {
        var rng = SplitMix64(seed: 14)
        for (heads, headDim, rotDim) in [(3, 64, 64), (2, 128, 128), (2, 64, 32), (4, 48, 48), (1, 14, 10)] {
            let rows = 5, half = rotDim / 2, ld = heads * headDim + 4
            let invFreq = (0..<half).map { Float(pow(10000, -Double(2 * $0) / Double(rotDim))) }
            let positions: [Int32] = [0, 1, 17, 900, 32000]
            var cs = [Float](repeating: 0, count: rows * rotDim)
            sw_rope_cos_sin(positions, Int32(rows), invFreq, Int32(half), &cs)
            let x = random(rows * ld, &rng)
            for halves in [0, 1] {
                sweep("rope \(heads)x\(headDim) rot \(rotDim) halves \(halves)", input: x, tolerance: 2e-6) { v in
                    sw_rope_apply(&v, ld, Int32(rows), Int32(heads), Int32(headDim), Int32(rotDim), cs, Int32(halves))
                }
            }
        }
    }
}
