/// One block-to-block copy: copy-on-write inside the cache, or a move between the cache and the swap tier.
public struct BlockCopy: Sendable, Equatable, Hashable {
    public var source: Int32
    public var destination: Int32

    public init(source: Int32, destination: Int32) {
        self.source = source
        self.destination = destination
    }
}

/// Prompt blocks found in the prefix cache for a sequence about to be admitted.
public struct CachedPrefix: Sendable, Equatable {
    /// The hit blocks; with a sliding window, entries before the window of the first token to
    /// compute are `KVCacheManager.nullBlock` (not needed, possibly evicted).
    public var blocks: [Int32] = []
    public var hashes: [BlockHash] = []
    /// How many of `blocks` no sequence holds now (taking them uses up free blocks).
    public var unreferencedBlocks = 0

    public init() {}

    public func tokens(blockSize: Int) -> Int { blocks.count * blockSize }
}

/// The block tables of all sequences: which physical blocks hold each sequence's KV, in the
/// device cache or in the swap tier.
///
/// Sequences are named by integer ids. The manager never looks at KV data: it returns the block
/// copies that the model runner must carry out (copy-on-write, swap out, swap in) before the step's
/// forward pass.
///
/// A resident sequence that has `computed` tokens in the cache has `ceil(computed / blockSize)`
/// table entries between steps: slots are allocated only for the tokens scheduled in a step, so
/// the only block that is ever written again is the partly filled last one. With a sliding
/// window, the leading entries that no later query can read are `nullBlock`: their blocks went
/// back to the pool (see KVCacheManagerSlidingWindow.swift).
public struct KVCacheManager: Sendable {
    public let blockSize: Int
    /// The attention window of every layer (nil: layers read the whole context, and no block is
    /// freed before its sequence ends).
    public let slidingWindow: Int?
    public internal(set) var pool: BlockPool
    /// The swap tier's blocks (nil when there is no swap space).
    public private(set) var swapPool: BlockPool?
    public let enablePrefixCaching: Bool
    /// Whether a fork shares its parent's blocks (the paper's design). Off, forked sequences copy
    /// every block they still share before they next write, as a system without block sharing
    /// must: the baseline for measuring what sharing saves.
    public var shareForkedBlocks = true

    struct Entry: Sendable {
        var table: [Int32]
        /// Hashes of the table's first blocks (full and registered, or found in the cache).
        var hashes: [BlockHash]
        var root: BlockHash
        var swapped: Bool
        /// Set by a fork when sharing is off: copy every shared block at the next allocation.
        var copiesSharedBlocks = false
    }
    // Internal so that the invariant checker (KVCacheManagerValidation.swift) can read it.
    var entries: [Int: Entry] = [:]

    public init(numBlocks: Int, blockSize: Int, numSwapBlocks: Int = 0, enablePrefixCaching: Bool = true,
                slidingWindow: Int? = nil) {
        precondition(blockSize > 0)
        precondition(slidingWindow.map { $0 > 0 } ?? true, "a sliding window must be positive")
        self.blockSize = blockSize
        self.slidingWindow = slidingWindow
        pool = BlockPool(numBlocks: numBlocks)
        swapPool = numSwapBlocks > 0 ? BlockPool(numBlocks: numSwapBlocks) : nil
        self.enablePrefixCaching = enablePrefixCaching
    }

    public var numBlocks: Int { pool.numBlocks }
    public var freeBlocks: Int { pool.freeCount }
    public var freeSwapBlocks: Int { swapPool?.freeCount ?? 0 }

    @inline(__always) func blocksFor(tokens: Int) -> Int { (tokens + blockSize - 1) / blockSize }

    /// The device block table of a resident sequence (empty if it has none). Entries before a
    /// sliding window are `nullBlock`.
    public func blockTable(_ seq: Int) -> [Int32] {
        guard let e = entries[seq], !e.swapped else { return [] }
        return e.table
    }

    public func isResident(_ seq: Int) -> Bool { entries[seq].map { !$0.swapped } ?? false }
    public func isSwapped(_ seq: Int) -> Bool { entries[seq]?.swapped ?? false }
    /// Ids of every sequence the manager holds blocks for.
    public var sequenceIDs: [Int] { Array(entries.keys) }

    // MARK: Admission with prefix caching

    /// Looks up the leading full blocks of `tokens` in the prefix cache. At most `tokens.count - 1`
    /// tokens can hit, so that at least one token is computed and yields logits. With a sliding
    /// window only the blocks inside the window of the first token to compute must be cached.
    public func cachedPrefix(tokens: [Int], root: BlockHash) -> CachedPrefix {
        var found = CachedPrefix()
        guard enablePrefixCaching, tokens.count > 1 else { return found }
        if slidingWindow != nil { return windowedCachedPrefix(tokens: tokens, root: root) }
        let limit = (tokens.count - 1) / blockSize
        var parent = root
        for j in 0..<limit {
            let chunk = tokens[(j * blockSize)..<((j + 1) * blockSize)]
            let h = BlockHash.chained(parent: parent, tokens: chunk)
            guard let b = pool.cachedBlock(hash: h, parent: parent, tokens: chunk) else { break }
            found.blocks.append(b)
            found.hashes.append(h)
            if pool.refCount(b) == 0 { found.unreferencedBlocks += 1 }
            parent = h
        }
        return found
    }

    /// Free blocks needed to admit a sequence with `prefix` from the cache and then `newTokens`
    /// computed, at most `stepTokens` of them a step (nil: all in one step). With a sliding window
    /// that is the most the sequence holds at once, not its whole length.
    public func blocksNeeded(toAdmit prefix: CachedPrefix, newTokens: Int, stepTokens: Int? = nil) -> Int {
        let hit = prefix.blocks.count * blockSize
        let whole = prefix.unreferencedBlocks + blocksFor(tokens: hit + newTokens) - prefix.blocks.count
        guard slidingWindow != nil else { return whole }
        let dead = deadBlocks(computed: hit)
        let unreferencedLive = prefix.blocks[dead...].reduce(0) { $0 + (pool.refCount($1) == 0 ? 1 : 0) }
        let liveNeed = unreferencedLive + blocksFor(tokens: hit + newTokens) - prefix.blocks.count
        return min(liveNeed, maxLiveBlocks(stepTokens: min(newTokens, stepTokens ?? newTokens)))
    }

    /// Starts a sequence's block table with the cached prefix blocks (possibly none). With a
    /// sliding window, prefix blocks before the window of the first computed token are not taken:
    /// their entries are `nullBlock`.
    public mutating func admit(_ seq: Int, root: BlockHash, prefix: CachedPrefix = CachedPrefix()) {
        precondition(entries[seq] == nil, "sequence \(seq) already has blocks")
        let dead = deadBlocks(computed: prefix.tokens(blockSize: blockSize))
        var table = prefix.blocks
        for j in table.indices {
            if j < dead { table[j] = Self.nullBlock } else { pool.touch(table[j]) }
        }
        entries[seq] = Entry(table: table, hashes: prefix.hashes, root: root, swapped: false)
    }

    // MARK: Growing

    /// Free blocks needed before `newTokens` more tokens of a sequence with `computed` cached tokens
    /// can be written (new blocks plus a copy of a shared last block).
    public func blocksNeeded(_ seq: Int, computed: Int, newTokens: Int) -> Int {
        guard newTokens > 0, let e = entries[seq] else { return 0 }
        var n = max(0, blocksFor(tokens: computed + newTokens) - e.table.count)
        if e.copiesSharedBlocks {
            for b in e.table where b != Self.nullBlock && pool.refCount(b) > 1 { n += 1 }
        } else if computed % blockSize != 0, pool.refCount(e.table[computed / blockSize]) > 1 {
            n += 1
        }
        return n
    }

    /// How many tokens a sequence could append with `freeBlocks` blocks available.
    public func appendableTokens(_ seq: Int, computed: Int, freeBlocks: Int) -> Int {
        guard let e = entries[seq] else { return 0 }
        var blocks = freeBlocks
        if e.copiesSharedBlocks {
            let copies = e.table.reduce(0) { $0 + ($1 != Self.nullBlock && pool.refCount($1) > 1 ? 1 : 0) }
            guard blocks >= copies else { return 0 }
            blocks -= copies
        }
        var slack = 0
        let partial = computed % blockSize
        if partial != 0 {
            if !e.copiesSharedBlocks, pool.refCount(e.table[computed / blockSize]) > 1 {
                guard blocks > 0 else { return 0 }
                blocks -= 1
            }
            slack = blockSize - partial
        }
        return slack + blocks * blockSize
    }

    /// Makes room for `newTokens` tokens after the `computed` cached ones of `tokens`: copies a
    /// shared last block (copy-on-write) and allocates new blocks. Blocks that these tokens fill
    /// are registered with the prefix cache right away, so that a request admitted later in the
    /// same step can share them (the forward pass writes every token's KV before any attention
    /// reads it). Returns the copies to make; the caller checked `blocksNeeded` first.
    public mutating func allocateSlots(_ seq: Int, tokens: [Int], computed: Int, newTokens: Int) -> [BlockCopy] {
        guard newTokens > 0 else { return [] }
        guard var e = entries[seq], !e.swapped else { preconditionFailure("sequence \(seq) is not resident") }
        precondition(e.table.count == blocksFor(tokens: computed), "sequence \(seq): \(e.table.count) blocks for \(computed) tokens")
        precondition(computed + newTokens <= tokens.count, "sequence \(seq): scheduling tokens it does not have")
        entries[seq] = nil // keeps `e` uniquely referenced while it changes
        var copies: [BlockCopy] = []
        if e.copiesSharedBlocks {
            for j in e.table.indices where e.table[j] != Self.nullBlock && pool.refCount(e.table[j]) > 1 {
                guard let fresh = pool.allocate() else { preconditionFailure("out of blocks for an unshared fork") }
                copies.append(BlockCopy(source: e.table[j], destination: fresh))
                pool.release(e.table[j])
                e.table[j] = fresh
            }
            e.copiesSharedBlocks = false
        }
        if computed % blockSize != 0 {
            let j = computed / blockSize
            let shared = e.table[j]
            if pool.refCount(shared) > 1 {
                guard let fresh = pool.allocate() else { preconditionFailure("out of blocks for copy-on-write") }
                copies.append(BlockCopy(source: shared, destination: fresh))
                pool.release(shared)
                e.table[j] = fresh
            }
        }
        let needed = blocksFor(tokens: computed + newTokens)
        while e.table.count < needed {
            guard let b = pool.allocate() else { preconditionFailure("out of blocks: check blocksNeeded first") }
            e.table.append(b)
        }
        if enablePrefixCaching { register(&e, tokens: tokens, upTo: computed + newTokens) }
        entries[seq] = e
        return copies
    }

    private mutating func register(_ e: inout Entry, tokens: [Int], upTo count: Int) {
        let full = count / blockSize
        while e.hashes.count < full {
            let j = e.hashes.count
            let parent = j == 0 ? e.root : e.hashes[j - 1]
            let chunk = tokens[(j * blockSize)..<((j + 1) * blockSize)]
            let h = BlockHash.chained(parent: parent, tokens: chunk)
            // A freed block is not registered again; its hash still links the chain.
            if e.table[j] != Self.nullBlock { pool.register(e.table[j], hash: h, parent: parent, tokens: chunk) }
            e.hashes.append(h)
        }
    }

    // MARK: Sharing and freeing

    /// Makes `child` share every block of `parent` (parallel sampling, beam search).
    public mutating func fork(parent: Int, child: Int) {
        guard let e = entries[parent], !e.swapped else { preconditionFailure("forking sequence \(parent), which is not resident") }
        precondition(entries[child] == nil, "sequence \(child) already has blocks")
        for b in e.table where b != Self.nullBlock { pool.retain(b) }
        entries[child] = e
        if !shareForkedBlocks {
            entries[parent]!.copiesSharedBlocks = true
            entries[child]!.copiesSharedBlocks = true
        }
    }

    /// Releases every block of a sequence, resident or swapped. The last block goes first, so a
    /// cached chain is evicted from its tail.
    public mutating func free(_ seq: Int) {
        guard let e = entries.removeValue(forKey: seq) else { return }
        if e.swapped {
            for b in e.table.reversed() where b != Self.nullBlock { swapPool!.release(b) }
        } else {
            for b in e.table.reversed() where b != Self.nullBlock { pool.release(b) }
        }
    }

    // MARK: Swapping

    /// Distinct device blocks of these sequences (blocks they share are moved once).
    public func distinctBlocks(_ seqs: [Int]) -> Int {
        var seen = Set<Int32>()
        for s in seqs { if let e = entries[s] { seen.formUnion(e.table.lazy.filter { $0 != Self.nullBlock }) } }
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
            var swappedTable: [Int32] = []
            swappedTable.reserveCapacity(e.table.count)
            for b in e.table {
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
            for b in e.table.reversed() where b != Self.nullBlock { pool.release(b) }
            e.table = swappedTable
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
            var table: [Int32] = []
            table.reserveCapacity(e.table.count)
            for (j, b) in e.table.enumerated() {
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
                if let t = known, j < e.hashes.count, (j + 1) * blockSize <= t.count {
                    content = (e.hashes[j], j == 0 ? e.root : e.hashes[j - 1], t[(j * blockSize)..<((j + 1) * blockSize)])
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
            for b in e.table.reversed() where b != Self.nullBlock { swapPool!.release(b) }
            e.table = table
            e.swapped = false
            // Without the tokens the chain cannot be checked: it is hashed again as it grows.
            if known == nil { e.hashes = [] }
            entries[s] = e
        }
        return copies
    }

    /// Blocks the resident sequences would hold if none were shared: the sum of their table sizes.
    public var logicalBlocks: Int {
        entries.values.reduce(0) { $0 + ($1.swapped ? 0 : $1.table.count - $1.table.prefix { $0 == Self.nullBlock }.count) }
    }

    /// Token slots in use that hold a token, counted once per distinct block: `computed` gives each
    /// resident sequence's cached token count.
    public func filledSlots(computed: [(seq: Int, tokens: Int)]) -> Int {
        var filled: [Int32: Int] = [:]
        for (s, n) in computed {
            guard let e = entries[s], !e.swapped else { continue }
            for (j, b) in e.table.enumerated() where b != Self.nullBlock {
                let f = min(blockSize, max(0, n - j * blockSize))
                filled[b] = max(filled[b] ?? 0, f)
            }
        }
        return filled.values.reduce(0, +)
    }
}
