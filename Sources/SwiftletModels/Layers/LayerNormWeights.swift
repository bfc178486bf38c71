import SwiftletKernels

/// A LayerNorm's scale and shift (GPT-2, OPT, BERT).
struct LayerNormWeights {
    var weight: [Float]
    var bias: [Float]

    /// A LayerNorm without parameters (`elementwise_affine = false`): unit scale, no shift.
    static func identity(width: Int) -> LayerNormWeights {
        LayerNormWeights(weight: [Float](repeating: 1, count: width), bias: [Float](repeating: 0, count: width))
    }

    /// Normalises `rows` contiguous rows of `weight.count` values from `x` into `out` (which may be `x`).
    func apply(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, eps: Float) {
        let width = weight.count
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                RowOps.layerNorm(x, ldx: width, weight: w.baseAddress, bias: b.baseAddress, into: out, ldo: width, rows: rows, n: width, eps: eps)
            }
        }
    }
}

extension CheckpointWeights {
    /// `name.weight` and `name.bias`, `width` values each.
    func layerNorm(_ name: String, width: Int) throws -> LayerNormWeights {
        LayerNormWeights(weight: try vector(name + ".weight", count: width), bias: try vector(name + ".bias", count: width))
    }

    /// A LayerNorm whose parameters may be absent (each defaults to the identity's).
    func optionalLayerNorm(_ name: String, width: Int) throws -> LayerNormWeights {
        let identity = LayerNormWeights.identity(width: width)
        return LayerNormWeights(weight: try optionalVector(name + ".weight", count: width) ?? identity.weight,
                                bias: try optionalVector(name + ".bias", count: width) ?? identity.bias)
    }
}
