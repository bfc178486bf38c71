import Foundation
import SwiftletFormats

extension HuggingFaceConfig {
    /// Phi-3's LongRoPE parameters from `rope_scaling` (or `rope_parameters`), `sub`, of this
    /// config. Older configs keep `original_max_position_embeddings` at the top level; without
    /// `factor` the scale is the context length over the original one, and without
    /// `attention_factor` the cosine/sine scale is sqrt(1 + ln(factor) / ln(original)), as
    /// transformers computes them.
    func longRopeScaling(_ sub: HuggingFaceConfig, in object: String) throws -> RopeScaling {
        func factors(_ key: String) throws -> [Double] {
            let values = sub.root[key].array?.compactMap(\.double)
            guard let values, values.count == sub.root[key].array?.count else {
                throw ModelLoadError.malformed(path: path, reason: "config.json key '\(object).\(key)' is not a list of numbers")
            }
            return values
        }
        guard let original = try sub.optionalDouble("original_max_position_embeddings")
                ?? optionalDouble("original_max_position_embeddings") else {
            throw missing("original_max_position_embeddings")
        }
        guard original >= 1 else {
            throw ModelLoadError.malformed(path: path, reason: "original_max_position_embeddings \(original) is not positive")
        }
        let factor = try sub.optionalDouble("factor") ?? Double(int("max_position_embeddings")) / original
        var s = RopeScaling(kind: .longrope, factor: factor, originalMaxPositionEmbeddings: original)
        s.shortFactor = try factors("short_factor")
        s.longFactor = try factors("long_factor")
        s.attentionFactor = try sub.optionalDouble("attention_factor")
            ?? (factor <= 1 ? 1 : (1 + log(factor) / log(original)).squareRoot())
        return s
    }
}
