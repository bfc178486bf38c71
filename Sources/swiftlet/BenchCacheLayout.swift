import SwiftletEngine
import SwiftletKernels

/// The block tables `bench model` runs its passes with, taken as the engine takes them: one table
/// per KV cache group of the cache, from one pool, and in a group with a sliding window the blocks
/// behind the window given back as a sequence grows. The passes then read and write the cache as
/// `serve` does.
struct BenchCacheLayout {
    private var manager: KVCacheManager
    let blockSize: Int

    init(cache: PagedKVCache) {
        blockSize = cache.blockSize
        manager = KVCacheManager(numBlocks: cache.numBlocks, blockSize: cache.blockSize, enablePrefixCaching: false,
                                 groupWindows: cache.groups.windows)
    }

    /// Takes blocks for `newTokens` more tokens of sequence `seq` after its `computed` ones
    /// (starting the sequence when it holds none); false when the cache lacks them.
    mutating func grow(_ seq: Int, computed: Int, newTokens: Int) -> Bool {
        if !manager.sequenceIDs.contains(seq) { manager.admit(seq, root: .root()) }
        guard manager.blocksNeeded(seq, computed: computed, newTokens: newTokens) <= manager.freeBlocks else { return false }
        // Without prefix caching the token ids are never read.
        _ = manager.allocateSlots(seq, tokens: Array(repeating: 0, count: computed + newTokens), computed: computed, newTokens: newTokens)
        return true
    }

    /// Gives back what the windows no longer cover once `computed` tokens of `seq` are in the cache.
    mutating func computed(_ seq: Int, _ computed: Int) { manager.releaseOutsideWindow(seq, computed: computed) }

    /// Frees every block of `seq`.
    mutating func free(_ seq: Int) { manager.free(seq) }

    /// The metadata of one pass over `batch`, each group with its own tables.
    func metadata(_ batch: [(seq: Int, newTokens: Int, cachedTokens: Int)]) -> AttentionMetadata {
        AttentionMetadata.build(sequences: batch.map { ($0.newTokens, $0.cachedTokens) },
                                groupTables: (0..<manager.numGroups).map { g in batch.map { manager.blockTable($0.seq, group: g) } },
                                blockSize: blockSize)
    }
}
