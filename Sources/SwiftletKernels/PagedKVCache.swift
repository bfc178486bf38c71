import CSwiftletAttention
#if canImport(Glibc)
import Glibc
#endif

/// Element type of the KV cache.
public enum KVCacheDType: String, Sendable, CaseIterable {
    case bf16, fp32
    /// Symmetric int8 with one scale per token and kv head: about half the bytes of bf16, so twice
    /// the tokens fit a budget and decode attention reads half as much memory. Attention rounds
    /// each query head to int8 as well (as llama.cpp does with a q8_0 cache), so that scores are
    /// integer dot products.
    case int8

    var kernelCode: Int32 {
        switch self {
        case .bf16: return Int32(SW_KV_BF16)
        case .fp32: return Int32(SW_KV_F32)
        case .int8: return Int32(SW_KV_I8)
        }
    }

    /// Bytes of one kv head's share of a block of `blockSize` tokens, in one layer's K or V cache.
    public func headBlockBytes(headDim: Int, blockSize: Int) -> Int {
        Int(sw_kv_head_block_bytes(kernelCode, Int32(headDim), Int32(blockSize)))
    }
}

/// The physical KV cache: for every storage layer, `numBlocks` blocks of `blockSize` token slots.
///
/// Which sequence owns which block is not known here; the engine's block manager decides that and
/// passes block tables and slot mappings in `AttentionMetadata`. Model layers map to storage
/// layers through `groups`: with one group (the usual case) layer l is storage layer l; with KV
/// cache groups a block holds one group's layers and layer l writes storage layer
/// `groups.layerSlot[l]` through its group's tables.
public final class PagedKVCache: @unchecked Sendable {
    public let numBlocks: Int
    public let blockSize: Int
    /// Storage layers: the model's layer count with one group, `groups.layersPerGroup` with several.
    public let numLayers: Int
    /// Which group and storage layer each model layer uses.
    public let groups: KVCacheGroups
    public let numKVHeads: Int
    public let headDim: Int
    public let dtype: KVCacheDType
    /// Bytes of one block of one layer's keys (values are the same size).
    public let blockBytes: Int
    let keys: [UnsafeMutableRawPointer]
    let values: [UnsafeMutableRawPointer]
    private let region: UnsafeMutableRawPointer
    private let regionBytes: Int

    /// Bytes of KV cache one token needs across all layers.
    public static func bytesPerToken(numLayers: Int, numKVHeads: Int, headDim: Int, dtype: KVCacheDType) -> Int {
        2 * numLayers * numKVHeads * dtype.headBlockBytes(headDim: headDim, blockSize: 1)
    }

    /// A cache of one group: model layer l in storage layer l.
    public convenience init(numBlocks: Int, blockSize: Int, numLayers: Int, numKVHeads: Int, headDim: Int, dtype: KVCacheDType) throws {
        try self.init(numBlocks: numBlocks, blockSize: blockSize, groups: .single(numLayers: numLayers), numKVHeads: numKVHeads,
                      headDim: headDim, dtype: dtype)
    }

    /// A cache laid out for `groups`: `groups.layersPerGroup` storage layers.
    public init(numBlocks: Int, blockSize: Int, groups: KVCacheGroups, numKVHeads: Int, headDim: Int, dtype: KVCacheDType) throws {
        precondition(numBlocks > 0 && blockSize > 0)
        self.numBlocks = numBlocks
        self.blockSize = blockSize
        self.groups = groups
        let numLayers = groups.layersPerGroup
        self.numLayers = numLayers
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.dtype = dtype
        blockBytes = numKVHeads * dtype.headBlockBytes(headDim: headDim, blockSize: blockSize)
        let layerBytes = blockBytes * numBlocks
        regionBytes = layerBytes * 2 * numLayers
        // Anonymous mapping: pages are committed only when a block is first written.
        guard let p = mmap(nil, regionBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            throw KernelError.backend("cannot reserve \(regionBytes) bytes for the KV cache")
        }
        region = p
        keys = (0..<numLayers).map { p + 2 * $0 * layerBytes }
        values = (0..<numLayers).map { p + (2 * $0 + 1) * layerBytes }
    }

    deinit { munmap(region, regionBytes) }

    /// Total bytes of the cache.
    public var totalBytes: Int { regionBytes }

    /// Copies blocks `pairs[i].source` to `pairs[i].destination` in every layer (copy-on-write).
    public func copyBlocks(_ pairs: [(source: Int32, destination: Int32)]) {
        guard !pairs.isEmpty else { return }
        let src = pairs.map(\.source), dst = pairs.map(\.destination)
        for l in 0..<numLayers {
            sw_copy_blocks(keys[l], values[l], blockBytes, src, dst, Int32(pairs.count))
        }
    }

    /// Raw storage of one block (keys and values of a layer), for swapping to another tier.
    public func blockPointers(layer: Int, block: Int) -> (key: UnsafeMutableRawPointer, value: UnsafeMutableRawPointer) {
        (keys[layer] + block * blockBytes, values[layer] + block * blockBytes)
    }
}
