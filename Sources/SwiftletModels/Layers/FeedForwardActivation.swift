import Foundation
import SwiftletKernels
import SwiftletFormats

/// The element-wise activation between the two projections of a (non-gated) feed-forward network,
/// named as Hugging Face configs name it.
enum FeedForwardActivation: Sendable {
    /// GELU with the tanh approximation (GPT-2's `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    case geluTanh
    /// GELU with the exact error function (`gelu`).
    case gelu
    case relu

    static let supportedNames = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu", "relu"]

    /// - Throws: `ModelLoadError.unsupported` listing the names that are understood.
    init(name: String, path: String) throws {
        switch name {
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "gelu": self = .gelu
        case "relu": self = .relu
        default:
            throw ModelLoadError.unsupported(path: path, reason: "activation '\(name)' (supported: \(Self.supportedNames.joined(separator: ", ")))")
        }
    }

    /// Applies the activation in place to `count` contiguous values, split over `pool`'s threads:
    /// the GELUs call tanh or erf per element, which over a prefill's activations costs as much as
    /// a matmul and would otherwise leave every thread but one idle.
    func apply(_ x: UnsafeMutablePointer<Float>, count: Int, pool: ThreadPool = .shared) {
        pool.parallelFor(count, granularity: 1 << 14) { range in
            let p = x + range.lowerBound, n = range.count
            switch self {
            case .geluTanh: Self.geluTanh(p, count: n)
            case .relu: RowOps.relu(p, count: n)
            case .gelu:
                for i in 0..<n { p[i] = 0.5 * p[i] * (1 + erff(p[i] * Float(0.5).squareRoot())) }
            }
        }
    }

    /// GELU with the tanh approximation, x / (1 + e^(-2u)) with u = sqrt(2/pi) (x + 0.044715 x^3)
    /// (the same function as 0.5 x (1 + tanh u)), computed without libm so that the loop
    /// vectorizes: libm's tanhf, one call per element, took GPT-2 to half of OPT's throughput.
    /// e^y is 2^m * e^f with m = round(y log2 e) and |f| <= ln(2)/2, e^f by its Taylor series to
    /// degree 7 (relative error under 1e-8), and 2^m built in the float's exponent bits.
    static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let k: Float = 0.7978845608028654, log2e: Float = 1.4426950408889634, ln2: Float = 0.6931471805599453
        // 1.5 * 2^23: adding it leaves a small integer in the low mantissa bits.
        let magic: Float = 12582912
        for i in 0..<count {
            let v = x[i]
            // Beyond +-40 the result is x or 0 to float precision.
            let y = Swift.min(Swift.max(-2 * k * (v + 0.044715 * v * v * v), -40), 40)
            let t = y * log2e
            let m = t.rounded(.toNearestOrEven)
            let f = (t - m) * ln2
            var p: Float = 1 / 5040
            p = p * f + 1 / 720
            p = p * f + 1 / 120
            p = p * f + 1 / 24
            p = p * f + 1 / 6
            p = p * f + 0.5
            p = p * f + 1
            p = p * f + 1
            // (m + magic)'s bits are magic's plus m; rebias by 127 and move into the exponent.
            let scale = Float(bitPattern: ((m + magic).bitPattern &- (magic.bitPattern &- 127)) &<< 23)
            x[i] = v / (1 + p * scale)
        }
    }
}
