import Foundation
import SwiftletKernels

/// A gated feed-forward's middle step, `act(gate) * up` (GeGLU for Gemma's tanh GELU), for any
/// `FeedForwardActivation`. Row-serial: callers split rows over threads.
enum GatedActivation {
    /// Each row of `gateUp` holds `n` gate values then `n` up values; `out` gets `n` per row.
    static func apply(_ activation: FeedForwardActivation, gateUp: UnsafePointer<Float>, ld: Int,
                      into out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, n: Int) {
        for r in 0..<rows {
            let g = gateUp + r * ld, o = out + r * ldo
            o.update(from: g, count: n)
            switch activation {
            case .geluTanh: RowOps.geluTanh(o, count: n)
            case .relu: RowOps.relu(o, count: n)
            case .gelu:
                for i in 0..<n { o[i] = 0.5 * o[i] * (1 + erff(o[i] * Float(0.5).squareRoot())) }
            }
            let up = g + n
            for i in 0..<n { o[i] *= up[i] }
        }
    }
}
