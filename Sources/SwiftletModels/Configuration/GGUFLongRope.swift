import Foundation
import SwiftletFormats
import SwiftletKernels

extension ModelConfig {
    /// Phi-3 as llama.cpp's converter writes it: LongRoPE's factor lists as the tensors
    /// `rope_factors_short.weight` and `rope_factors_long.weight`, the original context in
    /// `{arch}.rope.scaling.original_context_length`, the cosine/sine scale in
    /// `{arch}.rope.scaling.attn_factor`; a sliding window of 0 means none (Phi-4).
    mutating func readPhi3GGUF(_ gguf: GGUFFile, architecture arch: String) throws {
        if slidingWindow == 0 { slidingWindow = nil }
        guard gguf.tensorInfo("rope_factors_long.weight") != nil || gguf.tensorInfo("rope_factors_short.weight") != nil else { return }
        func factors(_ name: String) throws -> [Double] {
            let (info, bytes) = try gguf.data(name)
            guard info.shape.count == 1 else {
                throw ModelLoadError.malformed(path: gguf.path, reason: "tensor '\(name)' has shape \(info.shape), expected one dimension")
            }
            return try dequantize(info.type, bytes, count: info.shape[0]).map(Double.init)
        }
        guard let original = gguf.metadata["\(arch).rope.scaling.original_context_length"]?.double, original >= 1 else {
            throw ModelLoadError.malformed(path: gguf.path, reason: "LongRoPE factors without '\(arch).rope.scaling.original_context_length'")
        }
        let factor = Double(maxPositionEmbeddings) / original
        var s = RopeScaling(kind: .longrope, factor: factor, originalMaxPositionEmbeddings: original)
        s.shortFactor = try factors("rope_factors_short.weight")
        s.longFactor = try factors("rope_factors_long.weight")
        s.attentionFactor = gguf.metadata["\(arch).rope.scaling.attn_factor"]?.double
            ?? (factor <= 1 ? 1 : (1 + log(factor) / log(original)).squareRoot())
        ropeScaling = s
    }
}
