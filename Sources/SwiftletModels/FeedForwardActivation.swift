import CSwiftletKernels
import Foundation

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

    /// Applies the activation in place to `count` contiguous values.
    func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .geluTanh: sw_gelu_tanh(x, count)
        case .relu: sw_relu(x, count)
        case .gelu:
            for i in 0..<count { x[i] = 0.5 * x[i] * (1 + erff(x[i] * Float(0.5).squareRoot())) }
        }
    }
}
