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
    public func validate() -> [String] {
        var problems = pool.validate().map { "device: " + $0 }
        if let sp = swapPool {
            problems += sp.validate().map { "swap: " + $0 }
            if sp.hashedCount != 0 { problems.append("swap: \(sp.hashedCount) blocks carry prefix-cache hashes") }
        }
        var device = Array(repeating: 0, count: pool.numBlocks)
        var swap = Array(repeating: 0, count: swapPool?.numBlocks ?? 0)
        for s in entries.keys.sorted() {
            let e = entries[s]!
            if e.swapped && swapPool == nil { problems.append("sequence \(s) is swapped, and there is no swap tier") }
            let nulls = e.table.prefix { $0 == Self.nullBlock }.count
            if nulls > 0 && slidingWindow == nil { problems.append("sequence \(s): \(nulls) freed entries without a sliding window") }
            if e.table[nulls...].contains(Self.nullBlock) { problems.append("sequence \(s): a freed entry after a live block") }
            for b in e.table where b != Self.nullBlock {
                if e.swapped {
                    guard b >= 0, Int(b) < swap.count else { problems.append("sequence \(s): swap block \(b) out of range"); continue }
                    swap[Int(b)] += 1
                } else {
                    guard b >= 0, Int(b) < device.count else { problems.append("sequence \(s): block \(b) out of range"); continue }
                    device[Int(b)] += 1
                }
            }
            if e.hashes.count > e.table.count { problems.append("sequence \(s): \(e.hashes.count) hashes for \(e.table.count) blocks") }
            guard !e.swapped else { continue }
            for (j, h) in zip(e.table.indices, e.hashes) {
                let b = e.table[j]
                guard b != Self.nullBlock, b >= 0, Int(b) < device.count, let registered = pool.hash(of: b) else { continue }
                if registered != h {
                    problems.append("sequence \(s): block \(b) (position \(j)) is cached as \(registered), the sequence knows it as \(h)")
                } else if pool.parentHash(of: b) != (j == 0 ? e.root : e.hashes[j - 1]) {
                    problems.append("sequence \(s): block \(b) (position \(j)) is cached after another parent than the sequence's")
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

    /// Device blocks in the table of a sequence, resident or swapped (0 when it has none).
    func tableLength(_ seq: Int) -> Int { entries[seq]?.table.count ?? 0 }
}
