import Foundation

/// Rotary position embedding frequencies, with Llama 3 and linear scaling.
public enum RotaryEmbedding {
    public static func inverseFrequencies(config c: ModelConfig) -> [Float] {
        let dim = c.headDim
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
            }
        }
        return f.map { Float($0) }
    }
}
