import Foundation
import SwiftletFormats

/// How rotary position embeddings pair up the dimensions of a head.
public enum RopeStyle: String, Sendable, Equatable {
    /// Dimensions (2i, 2i+1) rotate together. llama.cpp's converter permutes the Q and K weights of
    /// LLaMA-family models into this layout, so it applies to their GGUF files.
    case adjacentPairs
    /// Dimension i rotates with i + d/2 (`rotate_half`, GPT-NeoX style): Hugging Face checkpoints,
    /// and GGUF files of architectures llama.cpp does not permute (Qwen2, Phi-3, Gemma, ...).
    case halves
}

/// How a model encodes token positions.
public enum PositionEmbedding: String, Sendable, Equatable {
    /// Rotary embeddings applied to Q and K (LLaMA, Mistral, Qwen2).
    case rotary
    /// A learned table added to the token embeddings (GPT-2, OPT).
    case learned
}

/// The normalisation layers' kind.
public enum Normalization: String, Sendable, Equatable {
    case rmsNorm
    /// LayerNorm with mean subtraction and a bias (GPT-2, OPT).
    case layerNorm
}

/// Context-extension scaling of rotary frequencies.
public struct RopeScaling: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// Every frequency divided by `factor` (position interpolation).
        case linear
        /// Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth ramp between.
        case llama3
        /// Phi-3 LongRoPE: frequency i divided by `shortFactor[i]`, or by `longFactor[i]` when
        /// sequences may run past `originalMaxPositionEmbeddings`; cosines and sines scaled by
        /// `attentionFactor`.
        case longrope
    }

    public var kind: Kind
    public var factor: Double
    /// Llama 3 only: wavelengths above `originalMaxPositionEmbeddings / lowFreqFactor` are scaled fully.
    public var lowFreqFactor: Double
    /// Llama 3 only: wavelengths below `originalMaxPositionEmbeddings / highFreqFactor` are kept.
    public var highFreqFactor: Double
    /// The context length the model was trained with before extension. A Double because it only
    /// enters wavelength arithmetic.
    public var originalMaxPositionEmbeddings: Double
    /// LongRoPE only: per-frequency divisors for sequences within, and beyond, the original context.
    public var shortFactor: [Double] = []
    public var longFactor: [Double] = []
    /// LongRoPE only: the scale of the rotary cosines and sines (transformers' `attention_factor`).
    public var attentionFactor: Double = 1

    public init(kind: Kind, factor: Double, lowFreqFactor: Double = 1, highFreqFactor: Double = 4,
                originalMaxPositionEmbeddings: Double = 8192) {
        self.kind = kind
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }
}

/// The hyper-parameters of a decoder-only transformer, read from a GGUF file's metadata or a
/// Hugging Face `config.json`.
public struct ModelConfig: Sendable, Equatable {
    /// Model family, lower-case as in GGUF `general.architecture` / HF `model_type` ("llama", "qwen2", ...).
    public var architecture: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    /// Key/value heads; fewer than `numHeads` for grouped-query attention.
    public var numKVHeads: Int
    public var headDim: Int
    /// Epsilon of the normalisation layers (RMSNorm or LayerNorm, see `normalization`).
    public var rmsNormEps: Double
    public var ropeTheta: Double
    /// Leading dimensions of each head that are rotated (`headDim` unless the model uses partial rotary).
    public var ropeDimensions: Int
    public var ropeScaling: RopeScaling?
    public var ropeStyle: RopeStyle
    /// Name of a GGUF tensor of per-frequency divisors that llama.cpp's converter writes instead of
    /// Llama 3 scaling metadata; nil when absent.
    public var ropeFrequencyFactorsTensor: String?
    public var maxPositionEmbeddings: Int
    /// The output projection reuses the token embedding matrix.
    public var tieWordEmbeddings: Bool
    /// Q, K and V projections have biases (Qwen2).
    public var attentionBias: Bool
    /// Attention looks back at most this many tokens (Mistral); nil for full attention.
    public var slidingWindow: Int?
    /// Per layer, whether it attends within `slidingWindow` (Gemma 3 interleaves sliding and
    /// global layers); nil when every layer does. Out-of-window keys may only be dropped from the
    /// cache when no layer is global.
    public var slidingLayers: [Bool]? = nil

    /// The window of layer `i`: `slidingWindow` when the layer slides (every layer does when
    /// `slidingLayers` is nil), nil for a layer of full attention.
    public func slidingWindow(layer i: Int) -> Int? {
        (slidingLayers.map { i < $0.count && $0[i] } ?? true) ? slidingWindow : nil
    }
    public var bosTokenId: Int?
    /// Tokens that end generation.
    public var eosTokenIds: [Int]
    public var positionEmbedding: PositionEmbedding
    public var normalization: Normalization
    /// Activation of the feed-forward network, as HF names it ("silu", "gelu_new", "relu").
    public var hiddenActivation: String

    public init(architecture: String, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int,
                numHeads: Int, numKVHeads: Int, headDim: Int? = nil, rmsNormEps: Double = 1e-5,
                ropeTheta: Double = 10000, ropeDimensions: Int? = nil, ropeScaling: RopeScaling? = nil,
                ropeStyle: RopeStyle = .halves, ropeFrequencyFactorsTensor: String? = nil,
                maxPositionEmbeddings: Int = 2048, tieWordEmbeddings: Bool = false, attentionBias: Bool = false,
                slidingWindow: Int? = nil, bosTokenId: Int? = nil, eosTokenIds: [Int] = [],
                positionEmbedding: PositionEmbedding = .rotary, normalization: Normalization = .rmsNorm,
                hiddenActivation: String = "silu") {
        self.architecture = architecture
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        let hd = headDim ?? (numHeads > 0 ? hiddenSize / numHeads : 0)
        self.headDim = hd
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeDimensions = ropeDimensions ?? hd
        self.ropeScaling = ropeScaling
        self.ropeStyle = ropeStyle
        self.ropeFrequencyFactorsTensor = ropeFrequencyFactorsTensor
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.slidingWindow = slidingWindow
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.positionEmbedding = positionEmbedding
        self.normalization = normalization
        self.hiddenActivation = hiddenActivation
    }

    /// Checks that the numbers describe a model that can exist, so that a damaged config fails here
    /// rather than as an out-of-bounds access in a kernel.
    public func validate(path: String) throws {
        func bad(_ reason: String) -> ModelLoadError { .malformed(path: path, reason: reason) }
        for (name, v) in [("vocab size", vocabSize), ("hidden size", hiddenSize), ("intermediate size", intermediateSize),
                          ("layer count", numLayers), ("head count", numHeads), ("key/value head count", numKVHeads),
                          ("head dimension", headDim), ("context length", maxPositionEmbeddings)] {
            guard v > 0, v < 1 << 32 else { throw bad("\(name) \(v) is out of range") }
        }
        guard numHeads % numKVHeads == 0 else {
            throw bad("\(numHeads) attention heads are not a multiple of \(numKVHeads) key/value heads")
        }
        if positionEmbedding == .rotary {
            guard ropeDimensions > 0, ropeDimensions <= headDim, ropeDimensions % 2 == 0 else {
                throw bad("rotary dimension count \(ropeDimensions) must be even and at most the head dimension \(headDim)")
            }
            guard ropeTheta > 0, ropeTheta.isFinite else { throw bad("rope theta \(ropeTheta) is not positive") }
        }
        guard rmsNormEps >= 0, rmsNormEps < 1 else { throw bad("normalisation epsilon \(rmsNormEps) is out of range") }
        if let w = slidingWindow, w <= 0 { throw bad("sliding window \(w) is not positive") }
        if let l = slidingLayers, l.count != numLayers {
            throw bad("\(l.count) sliding-window layer flags for \(numLayers) layers")
        }
        if let s = ropeScaling {
            guard s.factor > 0, s.factor.isFinite else { throw bad("rope scaling factor \(s.factor) is not positive") }
            if s.kind == .llama3 {
                guard s.highFreqFactor > s.lowFreqFactor, s.lowFreqFactor > 0, s.originalMaxPositionEmbeddings > 0 else {
                    throw bad("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and a positive original context length")
                }
            }
            if s.kind == .longrope {
                let n = ropeDimensions / 2
                guard s.shortFactor.count == n, s.longFactor.count == n else {
                    throw bad("longrope needs \(n) short and long factors, found \(s.shortFactor.count) and \(s.longFactor.count)")
                }
                guard (s.shortFactor + s.longFactor).allSatisfy({ $0 > 0 && $0.isFinite }), s.attentionFactor > 0,
                      s.originalMaxPositionEmbeddings >= 1 else {
                    throw bad("longrope factors and attention factor must be positive, with a positive original context length")
                }
            }
        }
    }
}
