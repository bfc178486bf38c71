import SwiftletKernels

/// A decoder-only language model run over a flat batch of tokens with paged attention.
public protocol CausalLanguageModel: AnyObject {
    var config: ModelConfig { get }
    /// Bytes of weights held in memory beyond the mapped model file.
    var residentBytes: Int { get }
    /// Runs the batch, writing every token's K and V into `cache`, and returns the logits of the
    /// tokens in `metadata.logitsIndices`, `config.vocabSize` values each, in that order.
    func forward(tokens: [Int32], metadata: AttentionMetadata, cache: PagedKVCache) -> [Float]
}
