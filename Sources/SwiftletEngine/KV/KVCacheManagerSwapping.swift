/// Swap preemption: moving whole sequences between the device cache and the swap tier. A swap
/// block has the bytes of a device block, so every group's live blocks move the same way; null
/// entries (blocks a window freed) stay null.
extension KVCacheManager {
    /// Distinct device blocks of these sequences, over every group (blocks they share are moved once).
    public func distinctBlocks(_ seqs: [Int]) -> Int {
        var seen = Set<Int32>()
        for s in seqs {
            guard let e = entries[s] else { continue }
            for table in e.groupTables { seen.formUnion(table.lazy.filter { $0 != Self.nullBlock }) }
        }
        return seen.count
    }

    /// Moves resident sequences to the swap tier: one swap block per distinct device block, with
    /// sharing between the sequences kept. Returns the (device -> swap) copies, or nil (and changes
    /// nothing) if the swap tier lacks room.
    public mutating func swapOut(_ seqs: [Int]) -> [BlockCopy]? {
        guard swapPool != nil else { return nil }
        let resident = seqs.filter { isResident($0) }
        guard distinctBlocks(resident) <= swapPool!.freeCount else { return nil }
        var mapping: [Int32: Int32] = [:]
        var copies: [BlockCopy] = []
        for s in resident {
            var e = entries[s]!
            for g in e.groupTables.indices {
                var swappedTable: [Int32] = []
                swappedTable.reserveCapacity(e.groupTables[g].count)
                for b in e.groupTables[g] {
                    if b == Self.nullBlock {
                        swappedTable.append(b)
                    } else if let target = mapping[b] {
                        swapPool!.retain(target)
                        swappedTable.append(target)
                    } else {
                        let target = swapPool!.allocate()!
                        mapping[b] = target
                        copies.append(BlockCopy(source: b, destination: target))
                        swappedTable.append(target)
                    }
                }
                for b in e.groupTables[g].reversed() where b != Self.nullBlock { pool.release(b) }
                e.groupTables[g] = swappedTable
            }
            e.swapped = true
            entries[s] = e
        }
        return copies
    }

    /// Moves swapped sequences back into device blocks. Returns the (swap -> device) copies; the
    /// caller checked that `distinctBlocks` of them are free.
    ///
    /// With prefix caching, a full block whose content the cache still holds (because another
    /// sequence shares it, or it was left cached) is taken from there instead of copied back;
    /// `tokens` gives each sequence's tokens, to check such hits. The other blocks go into fresh
    /// device blocks, and full ones are registered again under their hashes so that later
    /// requests can share them.
    public mutating func swapIn(_ seqs: [Int], tokens: [Int: [Int]] = [:]) -> [BlockCopy] {
        var mapping: [Int32: Int32] = [:]
        var copies: [BlockCopy] = []
        for s in seqs {
            guard var e = entries[s], e.swapped else { continue }
            let known = enablePrefixCaching ? tokens[s] : nil
            for g in e.groupTables.indices {
                let root = e.root.forGroup(g), hashes = e.groupHashes[g]
                var table: [Int32] = []
                table.reserveCapacity(e.groupTables[g].count)
                for (j, b) in e.groupTables[g].enumerated() {
                    if b == Self.nullBlock {
                        table.append(b)
                        continue
                    }
                    if let target = mapping[b] {
                        pool.retain(target)
                        table.append(target)
                        continue
                    }
                    // The content of full block j, when it is known and hashed.
                    var content: (hash: BlockHash, parent: BlockHash, tokens: ArraySlice<Int>)?
                    if let t = known, j < hashes.count, (j + 1) * blockSize <= t.count {
                        content = (hashes[j], j == 0 ? root : hashes[j - 1], t[(j * blockSize)..<((j + 1) * blockSize)])
                    }
                    if let c = content, let hit = pool.cachedBlock(hash: c.hash, parent: c.parent, tokens: c.tokens) {
                        pool.touch(hit)
                        mapping[b] = hit
                        table.append(hit)
                        continue
                    }
                    guard let target = pool.allocate() else { preconditionFailure("out of blocks for swap-in") }
                    if let c = content { _ = pool.register(target, hash: c.hash, parent: c.parent, tokens: c.tokens) }
                    mapping[b] = target
                    copies.append(BlockCopy(source: b, destination: target))
                    table.append(target)
                }
                for b in e.groupTables[g].reversed() where b != Self.nullBlock { swapPool!.release(b) }
                e.groupTables[g] = table
            }
            e.swapped = false
            // Without the tokens the chains cannot be checked: they are hashed again as they grow.
            if known == nil { e.groupHashes = e.groupHashes.map { _ in [] } }
            entries[s] = e
        }
        return copies
    }
}
