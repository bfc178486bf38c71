extension KVCacheManager {
    /// Checks the manager against its pools; returns what is wrong, first violation first (empty
    /// when all is well). Linear in blocks and table entries, so tests can run it after every step.
    ///
    /// - Both pools are consistent on their own (`BlockPool.validate`).
    /// - Every block's reference count equals the number of block-table entries naming it, in
    ///   the device cache and in the swap tier; so the free queue holds exactly the blocks no
    ///   table names.
    /// - A sequence's known hashes are a chain: where the prefix cache holds the block under the
    ///   hash the sequence knows, the block's recorded parent is the sequence's previous hash (or
    ///   its root); a block registered under another hash than the sequence's is a violation.
    /// - The swap tier never holds prefix-cache content.
    /// - `nullBlock` entries (blocks a sliding window freed) appear only with a window, and only
    ///   as a table's leading run.
    /// - With KV cache groups: every check holds in each group's tables; a sequence's tables all
    ///   have the same length; no device block is named by the tables of two groups.
    public func validate() -> [String] {
        var problems = pool.validate().map { "device: " + $0 }
        if let sp = swapPool {
            problems += sp.validate().map { "swap: " + $0 }
            if sp.hashedCount != 0 { problems.append("swap: \(sp.hashedCount) blocks carry prefix-cache hashes") }
        }
        var device = Array(repeating: 0, count: pool.numBlocks)
        var swap = Array(repeating: 0, count: swapPool?.numBlocks ?? 0)
        // The group whose tables name each device block: a block holds one group's layers.
        var owner = [Int?](repeating: nil, count: pool.numBlocks)
        for s in entries.keys.sorted() {
            let e = entries[s]!
            if e.swapped && swapPool == nil { problems.append("sequence \(s) is swapped, and there is no swap tier") }
            guard e.groupTables.count == numGroups, e.groupHashes.count == numGroups else {
                problems.append("sequence \(s): \(e.groupTables.count) tables and \(e.groupHashes.count) hash chains for \(numGroups) groups")
                continue
            }
            for g in 0..<numGroups {
                // Single-group messages name no group, as they always did.
                let who = numGroups == 1 ? "sequence \(s)" : "sequence \(s), group \(g)"
                let table = e.groupTables[g], hashes = e.groupHashes[g]
                if table.count != e.table.count { problems.append("\(who): \(table.count) blocks, group 0 has \(e.table.count)") }
                let nulls = table.prefix { $0 == Self.nullBlock }.count
                if nulls > 0 && groupWindows[g] == nil { problems.append("\(who): \(nulls) freed entries without a sliding window") }
                if table[nulls...].contains(Self.nullBlock) { problems.append("\(who): a freed entry after a live block") }
                for b in table where b != Self.nullBlock {
                    if e.swapped {
                        guard b >= 0, Int(b) < swap.count else { problems.append("\(who): swap block \(b) out of range"); continue }
                        swap[Int(b)] += 1
                    } else {
                        guard b >= 0, Int(b) < device.count else { problems.append("\(who): block \(b) out of range"); continue }
                        device[Int(b)] += 1
                        owner[Int(b)] = owner[Int(b)] ?? g
                        if owner[Int(b)] != g { problems.append("\(who): block \(b) is in the tables of groups \(owner[Int(b)]!) and \(g)") }
                    }
                }
                if hashes.count > table.count { problems.append("\(who): \(hashes.count) hashes for \(table.count) blocks") }
                guard !e.swapped else { continue }
                let root = e.root.forGroup(g)
                for (j, h) in zip(table.indices, hashes) {
                    let b = table[j]
                    guard b != Self.nullBlock, b >= 0, Int(b) < device.count, let registered = pool.hash(of: b) else { continue }
                    if registered != h {
                        problems.append("\(who): block \(b) (position \(j)) is cached as \(registered), the sequence knows it as \(h)")
                    } else if pool.parentHash(of: b) != (j == 0 ? root : hashes[j - 1]) {
                        problems.append("\(who): block \(b) (position \(j)) is cached after another parent than the sequence's")
                    }
                }
            }
        }
        for b in 0..<device.count where device[b] != pool.refCount(Int32(b)) {
            problems.append("device block \(b): reference count \(pool.refCount(Int32(b))), \(device[b]) table entries")
        }
        if let sp = swapPool {
            for b in 0..<swap.count where swap[b] != sp.refCount(Int32(b)) {
                problems.append("swap block \(b): reference count \(sp.refCount(Int32(b))), \(swap[b]) table entries")
            }
        }
        return problems
    }

    /// Entries in the tables of a sequence (every group's has as many), resident or swapped (0
    /// when it has none).
    func tableLength(_ seq: Int) -> Int { entries[seq]?.table.count ?? 0 }
}
