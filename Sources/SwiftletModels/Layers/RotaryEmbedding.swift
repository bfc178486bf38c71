import Foundation
import SwiftletKernels

/// Rotary position embedding frequencies, with linear, Llama 3 and LongRoPE scaling, and the
/// per-position cosine/sine table the rope kernel reads.
public struct RotaryEmbedding: Sendable {
    /// Leading dimensions of each head that rotate.
    public let dimensions: Int
    /// Inverse frequencies for sequences within the original context (all of them unless LongRoPE).
    let short: [Float]
    /// LongRoPE's inverse frequencies for engines whose sequences may run past the original context.
    let long: [Float]?
    let originalContext: Int
    /// Scale of the cosines and sines (LongRoPE's attention factor, else 1).
    let scale: Float

    /// `frequencyFactors` divide the frequencies (llama.cpp's `rope_freqs.weight`, which stands
    /// for Llama 3 scaling in GGUF files).
    init(config c: ModelConfig, frequencyFactors: [Float]? = nil) {
        dimensions = c.ropeDimensions
        var f = Self.inverseFrequencies(config: c)
        if let d = frequencyFactors { f = zip(f, d).map { $0 / $1 } }
        short = f
        let s = c.ropeScaling
        long = s?.kind == .longrope ? Self.inverseFrequencies(config: c, long: true) : nil
        originalContext = Int(s?.originalMaxPositionEmbeddings ?? 0)
        scale = Float(s?.kind == .longrope ? s!.attentionFactor : 1)
    }

    /// The inverse frequencies of the rotated dimensions. For LongRoPE, `long` picks the factors
    /// for sequences beyond the original context.
    public static func inverseFrequencies(config c: ModelConfig, long: Bool = false) -> [Float] {
        // The exponent runs over the rotated dimensions (transformers' partial_rotary_factor,
        // llama.cpp's rope.dimension_count), not the whole head.
        let dim = c.ropeDimensions
        var f = (0..<(dim / 2)).map { 1.0 / pow(c.ropeTheta, Double(2 * $0) / Double(dim)) }
        if let s = c.ropeScaling {
            switch s.kind {
            case .linear:
                f = f.map { $0 / s.factor }
            case .llama3:
                let lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor
                let highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor
                f = f.map { freq in
                    let wavelen = 2 * Double.pi / freq
                    if wavelen < highWavelen { return freq }
                    if wavelen > lowWavelen { return freq / s.factor }
                    let smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
                    return (1 - smooth) * freq / s.factor + smooth * freq
                }
            case .longrope:
                f = zip(f, long ? s.longFactor : s.shortFactor).map { $0 / $1 }
            }
        }
        return f.map { Float($0) }
    }

    /// Whether an engine whose sequences reach at most `longestSequence` tokens rotates with the
    /// long factors. transformers picks them per forward pass from its last position, so a cached
    /// generation crossing the original context would mix keys rotated both ways; like vLLM (by
    /// `max_model_len`), the choice is made once for everything a cache can hold.
    func usesLongFactors(longestSequence: Int) -> Bool {
        long != nil && longestSequence > originalContext
    }

    /// Cosines then sines of each row's position, `dimensions` values a row, scaled by `scale`.
    func angles(positions: UnsafePointer<Int32>, rows: Int, longestSequence: Int, into out: UnsafeMutablePointer<Float>) {
        let freqs = usesLongFactors(longestSequence: longestSequence) ? long! : short
        freqs.withUnsafeBufferPointer {
            RowOps.ropeAngles(positions: positions, rows: rows, inverseFrequencies: $0.baseAddress!, half: dimensions / 2, into: out)
        }
        if scale != 1 {
            for i in 0..<(rows * dimensions) { out[i] *= scale }
        }
    }
}
