import SwiftletKernels

/// A decoder-only language model run over a flat batch of tokens with paged attention.
public protocol CausalLanguageModel: AnyObject {
    var config: ModelConfig { get }
    /// Bytes of weights held in memory beyond the mapped model file.
    var residentBytes: Int { get }
    /// The sliding window of each layer's attention, `config.numLayers` entries: a query at
    /// position p of a layer with window w reads only keys after p - w; nil means the whole
    /// context. The engine frees KV blocks that no layer can read again from this. When the
    /// windows differ, the engine's cache is laid out in KV cache groups (`cache.groups`): the
    /// model must then write and attend layer l in storage layer `groups.layerSlot[l]` through
    /// the tables of group `groups.layerGroup[l]`, as `Gemma3Model` and `LlamaModel` do.
    var layerSlidingWindows: [Int?] { get }
    /// KV heads this process's cache holds (its shard's; all of them without tensor parallelism).
    var cacheKVHeads: Int { get }
    /// Runs the batch, writing every token's K and V into `cache`, and returns the logits of the
    /// tokens in `metadata.logitsIndices`, `config.vocabSize` values each, in that order. A model
    /// loaded with a `TensorShard` returns them on rank 0 and [] on the other ranks, every rank
    /// being called with the same tokens and metadata and a cache of `cacheKVHeads` kv heads.
    func forward(tokens: [Int32], metadata: AttentionMetadata, cache: PagedKVCache) -> [Float]
    /// Hands a pass's logits back once the caller is done with them, so that the next pass can
    /// write into the same memory instead of mapping a fresh array (tens of MB a step for large
    /// vocabularies; see `LogitsBuffer`). Optional: a model that keeps nothing ignores it.
    func recycleLogits(_ logits: consuming [Float])
    /// Tells the model the longest sequence, prompt plus output, that the engine about to run it
    /// will hold (its max model length), before that engine's first forward pass. A model whose
    /// arithmetic depends on it decides here, once for everything the engine's cache will hold:
    /// LongRoPE picks its long or short factors by it, as vLLM does by `max_model_len` and
    /// llama.cpp by `n_ctx`. A model serves one engine at a time. Optional: most ignore it.
    func prepare(maxModelLength: Int)
}

extension CausalLanguageModel {
    public var cacheKVHeads: Int { config.numKVHeads }

    public func recycleLogits(_ logits: consuming [Float]) {}

    public func prepare(maxModelLength: Int) {}

    /// The configuration's window on every layer `config.slidingLayers` marks as sliding (every
    /// layer when it is nil: Mistral's rule), none on the others (Gemma 3's global layers).
    public var layerSlidingWindows: [Int?] {
        (0..<config.numLayers).map { config.slidingWindow(layer: $0) }
    }
}
