/// Prompt blocks found in the prefix cache for a sequence about to be admitted: the same number
/// of blocks in every KV cache group.
public struct CachedPrefix: Sendable, Equatable {
    /// The hit blocks of each group; in a group with a sliding window, entries before the window
    /// of the first token to compute are `KVCacheManager.nullBlock` (not needed, possibly evicted).
    public var groupBlocks: [[Int32]] = [[]]
    public var groupHashes: [[BlockHash]] = [[]]
    /// How many of the blocks no sequence holds now (taking them uses up free blocks).
    public var unreferencedBlocks = 0

    public init() {}

    /// Group 0's hit blocks (the only group of a single-group manager).
    public var blocks: [Int32] {
        get { groupBlocks[0] }
        set { groupBlocks[0] = newValue }
    }
    public var hashes: [BlockHash] {
        get { groupHashes[0] }
        set { groupHashes[0] = newValue }
    }

    public func tokens(blockSize: Int) -> Int { blocks.count * blockSize }
}

/// Admission with prefix caching: looking a prompt up, counting what admitting it takes, and
/// starting its tables.
extension KVCacheManager {
    /// Looks up the leading full blocks of `tokens` in the prefix cache. At most `tokens.count - 1`
    /// tokens can hit, so that at least one token is computed and yields logits.
    ///
    /// Each group looks up its own chain (`BlockHash.forGroup`). A hit of n blocks needs all n in
    /// a group without a window, and only those inside the window of the first token to compute
    /// in a group with one (the earlier ones are never read, so they may have been evicted; the
    /// lookup hashes on past a miss). The hit is the longest n every group allows.
    public func cachedPrefix(tokens: [Int], root: BlockHash) -> CachedPrefix {
        var found = CachedPrefix()
        guard enablePrefixCaching, tokens.count > 1 else { return found }
        let limit = (tokens.count - 1) / blockSize
        var scans: [(blocks: [Int32], hashes: [BlockHash])] = []
        var allowed = Array(repeating: true, count: limit + 1)
        for g in 0..<numGroups {
            let windowed = groupWindows[g] != nil
            var blocks: [Int32] = [], hashes: [BlockHash] = []
            var parent = root.forGroup(g)
            var lastMiss = -1
            for j in 0..<limit {
                let chunk = tokens[(j * blockSize)..<((j + 1) * blockSize)]
                let h = BlockHash.chained(parent: parent, tokens: chunk)
                let b = pool.cachedBlock(hash: h, parent: parent, tokens: chunk) ?? Self.nullBlock
                if b == Self.nullBlock {
                    // Without a window nothing past a miss can hit.
                    guard windowed else { break }
                    lastMiss = j
                }
                blocks.append(b)
                hashes.append(h)
                parent = h
                if lastMiss >= deadBlocks(computed: (j + 1) * blockSize, group: g) { allowed[j + 1] = false }
            }
            for n in (blocks.count + 1)..<(limit + 1) { allowed[n] = false }
            scans.append((blocks, hashes))
        }
        let best = allowed.lastIndex(of: true)!
        found.groupBlocks = []
        found.groupHashes = []
        for (g, scan) in scans.enumerated() {
            let dead = deadBlocks(computed: best * blockSize, group: g)
            let blocks = scan.blocks[0..<best].enumerated().map { $0.offset < dead ? Self.nullBlock : $0.element }
            found.groupBlocks.append(blocks)
            found.groupHashes.append(Array(scan.hashes[0..<best]))
            found.unreferencedBlocks += blocks.reduce(0) { $0 + ($1 != Self.nullBlock && pool.refCount($1) == 0 ? 1 : 0) }
        }
        return found
    }

    /// Free blocks needed to admit a sequence with `prefix` from the cache and then `newTokens`
    /// computed, at most `stepTokens` of them a step (nil: all in one step). A group with a
    /// sliding window counts the most it holds at once, not the sequence's whole length.
    public func blocksNeeded(toAdmit prefix: CachedPrefix, newTokens: Int, stepTokens: Int? = nil) -> Int {
        let hitBlocks = prefix.blocks.count
        let hit = hitBlocks * blockSize
        var need = 0
        for g in 0..<numGroups {
            let blocks = g < prefix.groupBlocks.count ? prefix.groupBlocks[g] : []
            let unreferenced = blocks.reduce(0) { $0 + ($1 != Self.nullBlock && pool.refCount($1) == 0 ? 1 : 0) }
            let live = unreferenced + blocksFor(tokens: hit + newTokens) - hitBlocks
            if groupWindows[g] == nil {
                need += live
            } else {
                need += min(live, maxLiveBlocks(stepTokens: min(newTokens, stepTokens ?? newTokens), group: g))
            }
        }
        return need
    }

    /// Starts a sequence's block tables with the cached prefix blocks (possibly none). In a group
    /// with a sliding window, prefix blocks before the window of the first computed token are not
    /// taken: their entries are `nullBlock`.
    public mutating func admit(_ seq: Int, root: BlockHash, prefix: CachedPrefix = CachedPrefix()) {
        precondition(entries[seq] == nil, "sequence \(seq) already has blocks")
        let hit = prefix.tokens(blockSize: blockSize)
        var tables: [[Int32]] = [], hashes: [[BlockHash]] = []
        for g in 0..<numGroups {
            var table = g < prefix.groupBlocks.count ? prefix.groupBlocks[g] : []
            precondition(table.count == prefix.blocks.count, "a cached prefix of another length in group \(g)")
            let dead = deadBlocks(computed: hit, group: g)
            for j in table.indices {
                if j < dead { table[j] = Self.nullBlock } else { pool.touch(table[j]) }
            }
            tables.append(table)
            hashes.append(g < prefix.groupHashes.count ? prefix.groupHashes[g] : [])
        }
        entries[seq] = Entry(groupTables: tables, groupHashes: hashes, root: root, swapped: false)
    }
}
