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
            case .geluTanh: RowOps.geluTanh(p, count: n)
            case .relu: RowOps.relu(p, count: n)
            case .gelu:
                for i in 0..<n { p[i] = 0.5 * p[i] * (1 + erff(p[i] * Float(0.5).squareRoot())) }
            }
        }
    }
}
