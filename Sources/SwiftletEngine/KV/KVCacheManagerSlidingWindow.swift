/// Sliding-window attention and the block tables (vLLM's `SlidingWindowManager`, for the case
/// where every layer has the same window).
///
/// A query at position p of a layer with window w reads keys p - w + 1 ... p. Once a sequence
/// has `computed` tokens in the cache, its next query is at `computed` or later, so a block all
/// of whose positions are at most `computed - w` is never read again: it goes back to the pool
/// and its table entry becomes `nullBlock`. A table is thus a run of null entries followed by
/// live blocks, and the kernels only read blocks inside each query's window (see
/// `sw_paged_attention`, which refuses a null entry there).
///
/// Prefix caching: a freed block keeps its hash and joins the cached free queue like any other
/// released block, so a later request can still take it back. A hit of n blocks needs only the
/// blocks inside the window of its first token to compute (n * blockSize) cached, as in vLLM:
/// the ones before it are never read, so they may have been evicted. Hashes chain over token ids,
/// so the lookup goes on past a missing block; admission takes only the window's blocks and
/// leaves null entries before them.
///
/// Models that mix sliding and global layers would need one table per group of layers (a
/// global table keeps every block); the engine does not free blocks for them (see `LLMEngine`).
extension KVCacheManager {
    /// The table entry of a block freed by the sliding window: never a block id, never read.
    public static let nullBlock: Int32 = -1

    /// Leading blocks of a sequence that no query from position `computed` on can read.
    public func deadBlocks(computed: Int) -> Int {
        guard let w = slidingWindow else { return 0 }
        return max(0, computed - w + 1) / blockSize
    }

    /// The most blocks one sequence holds while a step computes at most `stepTokens` of its
    /// tokens: those tokens and the `window - 1` positions before them, wherever they start in a
    /// block. Without a window there is no bound (`Int.max`).
    public func maxLiveBlocks(stepTokens: Int) -> Int {
        guard let w = slidingWindow else { return Int.max }
        let span = w - 1 + max(1, stepTokens)
        return (span + 2 * blockSize - 2) / blockSize
    }

    /// The most tokens a step can compute for a sequence alone in the cache, so that
    /// `maxLiveBlocks(stepTokens:)` stays within the pool (`Int.max` without a window).
    public var maxStepTokensAlone: Int {
        guard let w = slidingWindow else { return .max }
        return max(0, (numBlocks - 1) * blockSize - w + 2)
    }

    /// Gives the blocks of `seq` that lie wholly before the window of its next query back to the
    /// pool, now that `computed` of its tokens are in the cache. Call it whenever `computed` grows.
    public mutating func releaseOutsideWindow(_ seq: Int, computed: Int) {
        let dead = deadBlocks(computed: computed)
        guard dead > 0, var e = entries[seq], !e.swapped else { return }
        entries[seq] = nil // keeps `e` uniquely referenced while it changes
        for j in (0..<min(dead, e.table.count)).reversed() where e.table[j] != Self.nullBlock {
            pool.release(e.table[j])
            e.table[j] = Self.nullBlock
        }
        entries[seq] = e
    }

    /// Table entries of a sequence that the window has freed (0 when it has none).
    public func freedEntries(_ seq: Int) -> Int {
        entries[seq]?.table.prefix { $0 == Self.nullBlock }.count ?? 0
    }

    /// Blocks a sequence holds now, in the device cache or the swap tier.
    public func heldBlocks(_ seq: Int) -> Int {
        entries[seq]?.table.reduce(0) { $0 + ($1 == Self.nullBlock ? 0 : 1) } ?? 0
    }

    /// `cachedPrefix` with a window: the longest run of leading full blocks whose window part is
    /// cached. Hashes every full block of the prompt (a miss does not end the search).
    func windowedCachedPrefix(tokens: [Int], root: BlockHash) -> CachedPrefix {
        let limit = (tokens.count - 1) / blockSize
        var blocks: [Int32] = []
        var hashes: [BlockHash] = []
        var parent = root
        var lastMiss = -1
        var best = 0
        for j in 0..<limit {
            let chunk = tokens[(j * blockSize)..<((j + 1) * blockSize)]
            let h = BlockHash.chained(parent: parent, tokens: chunk)
            let b = pool.cachedBlock(hash: h, parent: parent, tokens: chunk) ?? Self.nullBlock
            if b == Self.nullBlock { lastMiss = j }
            blocks.append(b)
            hashes.append(h)
            parent = h
            if lastMiss < deadBlocks(computed: (j + 1) * blockSize) { best = j + 1 }
        }
        var found = CachedPrefix()
        let dead = deadBlocks(computed: best * blockSize)
        found.blocks = blocks[0..<best].enumerated().map { $0.offset < dead ? Self.nullBlock : $0.element }
        found.hashes = Array(hashes[0..<best])
        found.unreferencedBlocks = found.blocks[dead...].reduce(0) { $0 + (pool.refCount($1) == 0 ? 1 : 0) }
        return found
    }
}
