/// Sliding-window attention and the block tables (vLLM's `SlidingWindowManager`), per KV cache
/// group.
///
/// A query at position p of a layer with window w reads keys p - w + 1 ... p. Once a sequence
/// has `computed` tokens in the cache, its next query is at `computed` or later, so a block all
/// of whose positions are at most `computed - w` is never read again by the group's layers: it
/// goes back to the pool and the group's table entry becomes `nullBlock`. A table is thus a run
/// of null entries followed by live blocks, and the kernels only read blocks inside each query's
/// window (see `sw_paged_attention`, which refuses a null entry there). A group without a window
/// (Gemma 3's global layers) keeps every block.
///
/// Prefix caching: a freed block keeps its hash and joins the cached free queue like any other
/// released block, so a later request can still take it back. A hit of n blocks needs only the
/// blocks inside the window of its first token to compute (n * blockSize) cached in a windowed
/// group, as in vLLM: the ones before it are never read, so they may have been evicted. Hashes
/// chain over token ids, so the lookup goes on past a missing block; admission takes only the
/// window's blocks and leaves null entries before them.
extension KVCacheManager {
    /// The table entry of a block freed by the sliding window: never a block id, never read.
    public static let nullBlock: Int32 = -1

    /// Leading blocks of a sequence's table in `group` that no query from position `computed` on
    /// can read.
    public func deadBlocks(computed: Int, group: Int = 0) -> Int {
        guard let w = groupWindows[group] else { return 0 }
        return max(0, computed - w + 1) / blockSize
    }

    /// The most blocks one sequence holds in `group` while a step computes at most `stepTokens`
    /// of its tokens: those tokens and the `window - 1` positions before them, wherever they
    /// start in a block. Without a window there is no bound (`Int.max`).
    public func maxLiveBlocks(stepTokens: Int, group: Int) -> Int {
        guard let w = groupWindows[group] else { return Int.max }
        let span = w - 1 + max(1, stepTokens)
        return (span + 2 * blockSize - 2) / blockSize
    }

    /// `maxLiveBlocks(stepTokens:group:)` summed over the groups: `Int.max` when a group has no window.
    public func maxLiveBlocks(stepTokens: Int) -> Int {
        var total = 0
        for g in 0..<numGroups {
            let m = maxLiveBlocks(stepTokens: stepTokens, group: g)
            if m == Int.max { return Int.max }
            total += m
        }
        return total
    }

    /// The most blocks a sequence of `tokens` tokens holds at once over all groups, computing at
    /// most `stepTokens` a step: its whole length in a group without a window, at most its window
    /// and a step in one with a window.
    public func mostBlocksHeld(tokens: Int, stepTokens: Int) -> Int {
        let whole = blocksFor(tokens: tokens)
        return (0..<numGroups).reduce(0) { $0 + min(whole, maxLiveBlocks(stepTokens: stepTokens, group: $1)) }
    }

    /// The most tokens a step can compute for a sequence alone in the cache, so that
    /// `maxLiveBlocks(stepTokens:)` stays within the pool (`Int.max` when a group has no window).
    public var maxStepTokensAlone: Int {
        guard groupWindows.allSatisfy({ $0 != nil }) else { return .max }
        // The largest step whose live blocks fit; `maxLiveBlocks` grows with the step.
        var low = 0, high = numBlocks * blockSize
        while low < high {
            let mid = (low + high + 1) / 2
            if maxLiveBlocks(stepTokens: mid) <= numBlocks { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// The longest sequence a lone request can run to: unbounded when every group has a window
    /// that fits beside a step (with chunked prefill, so that a step computes few enough tokens),
    /// otherwise as many tokens as the groups' tables can hold together.
    public func maxSequenceTokens(chunkedPrefill: Bool) -> Int {
        guard chunkedPrefill else { return numBlocks / numGroups * blockSize }
        if groupWindows.allSatisfy({ $0 != nil }), maxLiveBlocks(stepTokens: 1) < numBlocks { return Int.max }
        var low = 0, high = numBlocks
        while low < high {
            let mid = (low + high + 1) / 2
            if mostBlocksHeld(tokens: mid * blockSize, stepTokens: 1) <= numBlocks { low = mid } else { high = mid - 1 }
        }
        return low * blockSize
    }

    /// Gives the blocks of `seq` that lie wholly before the window of its next query back to the
    /// pool, in every group with a window, now that `computed` of its tokens are in the cache.
    /// Call it whenever `computed` grows.
    public mutating func releaseOutsideWindow(_ seq: Int, computed: Int) {
        guard var e = entries[seq], !e.swapped else { return }
        var changed = false
        for g in 0..<numGroups {
            let dead = deadBlocks(computed: computed, group: g)
            guard dead > 0 else { continue }
            if !changed { entries[seq] = nil } // keeps `e` uniquely referenced while it changes
            changed = true
            for j in (0..<min(dead, e.groupTables[g].count)).reversed() where e.groupTables[g][j] != Self.nullBlock {
                pool.release(e.groupTables[g][j])
                e.groupTables[g][j] = Self.nullBlock
            }
        }
        if changed { entries[seq] = e }
    }

    /// Table entries of a sequence that the window of `group` has freed (0 when it has none).
    public func freedEntries(_ seq: Int, group: Int = 0) -> Int {
        entries[seq]?.groupTables[group].prefix { $0 == Self.nullBlock }.count ?? 0
    }

    /// Blocks a sequence holds now, in the device cache or the swap tier: in `group`, or in all
    /// groups together (nil).
    public func heldBlocks(_ seq: Int, group: Int? = nil) -> Int {
        guard let e = entries[seq] else { return 0 }
        let tables = group.map { [e.groupTables[$0]] } ?? e.groupTables
        return tables.reduce(0) { sum, t in sum + t.reduce(0) { $0 + ($1 == Self.nullBlock ? 0 : 1) } }
    }
}
