/// One block-to-block copy: copy-on-write inside the cache, or a move between the cache and the swap tier.
public struct BlockCopy: Sendable, Equatable, Hashable {
    public var source: Int32
    public var destination: Int32

    public init(source: Int32, destination: Int32) {
        self.source = source
        self.destination = destination
    }
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
///
/// With KV cache groups (`KVCacheGroups`: layers grouped by window) every sequence has one table
/// per group, all of the same length, drawn from the one pool; a block belongs to one group's
/// tables at a time. Each group frees behind its own window (a global group never does), and
/// every count (blocks needed, held, swapped) is the sum over groups. A single-group manager is
/// exactly the manager of one table per sequence.
public struct KVCacheManager: Sendable {
    public let blockSize: Int
    /// The attention window of each KV cache group's layers (nil: they read the whole context,
    /// and the group frees no block before its sequence ends).
    public let groupWindows: [Int?]
    public internal(set) var pool: BlockPool
    /// The swap tier's blocks (nil when there is no swap space).
    public internal(set) var swapPool: BlockPool?
    public let enablePrefixCaching: Bool
    /// Whether a fork shares its parent's blocks (the paper's design). Off, forked sequences copy
    /// every block they still share before they next write, as a system without block sharing
    /// must: the baseline for measuring what sharing saves.
    public var shareForkedBlocks = true

    struct Entry: Sendable {
        /// One block table per group.
        var groupTables: [[Int32]]
        /// Per group, hashes of the table's first blocks (full and registered, or found in the cache).
        var groupHashes: [[BlockHash]]
        /// The request's root; group g's chains start at `root.forGroup(g)`.
        var root: BlockHash
        var swapped: Bool
        /// Set by a fork when sharing is off: copy every shared block at the next allocation.
        var copiesSharedBlocks = false

        /// Group 0's table (the only one of a single-group manager).
        var table: [Int32] {
            get { groupTables[0] }
            set { groupTables[0] = newValue }
        }
        var hashes: [BlockHash] {
            get { groupHashes[0] }
            set { groupHashes[0] = newValue }
        }
    }
    // Internal so that the invariant checker (KVCacheManagerValidation.swift) can read it.
    var entries: [Int: Entry] = [:]

    /// A manager of one group, whose layers all have `slidingWindow` (or none).
    public init(numBlocks: Int, blockSize: Int, numSwapBlocks: Int = 0, enablePrefixCaching: Bool = true,
                slidingWindow: Int? = nil) {
        self.init(numBlocks: numBlocks, blockSize: blockSize, numSwapBlocks: numSwapBlocks,
                  enablePrefixCaching: enablePrefixCaching, groupWindows: [slidingWindow])
    }

    /// A manager of one table per KV cache group, group g's layers having window `groupWindows[g]`.
    public init(numBlocks: Int, blockSize: Int, numSwapBlocks: Int = 0, enablePrefixCaching: Bool = true,
                groupWindows: [Int?]) {
        precondition(blockSize > 0)
        precondition(!groupWindows.isEmpty, "a KV cache manager needs a group")
        precondition(groupWindows.allSatisfy { $0.map { $0 > 0 } ?? true }, "a sliding window must be positive")
        self.blockSize = blockSize
        self.groupWindows = groupWindows
        pool = BlockPool(numBlocks: numBlocks)
        swapPool = numSwapBlocks > 0 ? BlockPool(numBlocks: numSwapBlocks) : nil
        self.enablePrefixCaching = enablePrefixCaching
    }

    /// The window of group 0: the window of every layer of a single-group manager.
    public var slidingWindow: Int? { groupWindows[0] }
    public var numGroups: Int { groupWindows.count }
    public var numBlocks: Int { pool.numBlocks }
    public var freeBlocks: Int { pool.freeCount }
    public var freeSwapBlocks: Int { swapPool?.freeCount ?? 0 }

    @inline(__always) func blocksFor(tokens: Int) -> Int { (tokens + blockSize - 1) / blockSize }

    /// The device block table of a resident sequence in `group` (empty if it has none). Entries
    /// before the group's sliding window are `nullBlock`.
    public func blockTable(_ seq: Int, group: Int = 0) -> [Int32] {
        guard let e = entries[seq], !e.swapped else { return [] }
        return e.groupTables[group]
    }

    public func isResident(_ seq: Int) -> Bool { entries[seq].map { !$0.swapped } ?? false }
    public func isSwapped(_ seq: Int) -> Bool { entries[seq]?.swapped ?? false }
    /// Ids of every sequence the manager holds blocks for.
    public var sequenceIDs: [Int] { Array(entries.keys) }

    // MARK: Growing

    /// Free blocks needed before `newTokens` more tokens of a sequence with `computed` cached tokens
    /// can be written (new blocks plus copies of shared blocks, in every group).
    public func blocksNeeded(_ seq: Int, computed: Int, newTokens: Int) -> Int {
        guard newTokens > 0, let e = entries[seq] else { return 0 }
        var n = 0
        for table in e.groupTables {
            n += max(0, blocksFor(tokens: computed + newTokens) - table.count)
            if e.copiesSharedBlocks {
                for b in table where b != Self.nullBlock && pool.refCount(b) > 1 { n += 1 }
            } else if computed % blockSize != 0, pool.refCount(table[computed / blockSize]) > 1 {
                n += 1
            }
        }
        return n
    }

    /// How many tokens a sequence could append with `freeBlocks` blocks available (each new
    /// block position takes a block in every group).
    public func appendableTokens(_ seq: Int, computed: Int, freeBlocks: Int) -> Int {
        guard let e = entries[seq] else { return 0 }
        var blocks = freeBlocks
        let partial = computed % blockSize
        for table in e.groupTables {
            if e.copiesSharedBlocks {
                blocks -= table.reduce(0) { $0 + ($1 != Self.nullBlock && pool.refCount($1) > 1 ? 1 : 0) }
            } else if partial != 0, pool.refCount(table[computed / blockSize]) > 1 {
                blocks -= 1
            }
        }
        guard blocks >= 0 else { return 0 }
        return (partial != 0 ? blockSize - partial : 0) + blocks / numGroups * blockSize
    }

    /// Makes room for `newTokens` tokens after the `computed` cached ones of `tokens`, in every
    /// group: copies shared blocks (copy-on-write) and allocates new blocks. Blocks that these
    /// tokens fill are registered with the prefix cache right away, so that a request admitted
    /// later in the same step can share them (the forward pass writes every token's KV before any
    /// attention reads it). Returns the copies to make; the caller checked `blocksNeeded` first.
    public mutating func allocateSlots(_ seq: Int, tokens: [Int], computed: Int, newTokens: Int) -> [BlockCopy] {
        guard newTokens > 0 else { return [] }
        guard var e = entries[seq], !e.swapped else { preconditionFailure("sequence \(seq) is not resident") }
        precondition(e.table.count == blocksFor(tokens: computed), "sequence \(seq): \(e.table.count) blocks for \(computed) tokens")
        precondition(computed + newTokens <= tokens.count, "sequence \(seq): scheduling tokens it does not have")
        entries[seq] = nil // keeps `e` uniquely referenced while it changes
        var copies: [BlockCopy] = []
        for g in e.groupTables.indices {
            grow(&e.groupTables[g], copyingShared: e.copiesSharedBlocks, computed: computed, newTokens: newTokens, copies: &copies)
        }
        e.copiesSharedBlocks = false
        if enablePrefixCaching {
            for g in e.groupTables.indices { register(&e, group: g, tokens: tokens, upTo: computed + newTokens) }
        }
        entries[seq] = e
        return copies
    }

    /// One group's share of `allocateSlots`.
    private mutating func grow(_ table: inout [Int32], copyingShared: Bool, computed: Int, newTokens: Int, copies: inout [BlockCopy]) {
        if copyingShared {
            for j in table.indices where table[j] != Self.nullBlock && pool.refCount(table[j]) > 1 {
                guard let fresh = pool.allocate() else { preconditionFailure("out of blocks for an unshared fork") }
                copies.append(BlockCopy(source: table[j], destination: fresh))
                pool.release(table[j])
                table[j] = fresh
            }
        }
        if computed % blockSize != 0 {
            let j = computed / blockSize
            let shared = table[j]
            if pool.refCount(shared) > 1 {
                guard let fresh = pool.allocate() else { preconditionFailure("out of blocks for copy-on-write") }
                copies.append(BlockCopy(source: shared, destination: fresh))
                pool.release(shared)
                table[j] = fresh
            }
        }
        let needed = blocksFor(tokens: computed + newTokens)
        while table.count < needed {
            guard let b = pool.allocate() else { preconditionFailure("out of blocks: check blocksNeeded first") }
            table.append(b)
        }
    }

    private mutating func register(_ e: inout Entry, group g: Int, tokens: [Int], upTo count: Int) {
        let full = count / blockSize
        let root = e.root.forGroup(g)
        while e.groupHashes[g].count < full {
            let j = e.groupHashes[g].count
            let parent = j == 0 ? root : e.groupHashes[g][j - 1]
            let chunk = tokens[(j * blockSize)..<((j + 1) * blockSize)]
            let h = BlockHash.chained(parent: parent, tokens: chunk)
            // A freed block is not registered again; its hash still links the chain.
            let b = e.groupTables[g][j]
            if b != Self.nullBlock { pool.register(b, hash: h, parent: parent, tokens: chunk) }
            e.groupHashes[g].append(h)
        }
    }

    // MARK: Sharing and freeing

    /// Makes `child` share every block of `parent` (parallel sampling, beam search).
    public mutating func fork(parent: Int, child: Int) {
        guard let e = entries[parent], !e.swapped else { preconditionFailure("forking sequence \(parent), which is not resident") }
        precondition(entries[child] == nil, "sequence \(child) already has blocks")
        for table in e.groupTables { for b in table where b != Self.nullBlock { pool.retain(b) } }
        entries[child] = e
        if !shareForkedBlocks {
            entries[parent]!.copiesSharedBlocks = true
            entries[child]!.copiesSharedBlocks = true
        }
    }

    /// Releases every block of a sequence, resident or swapped. The last block of each table goes
    /// first, so a cached chain is evicted from its tail.
    public mutating func free(_ seq: Int) {
        guard let e = entries.removeValue(forKey: seq) else { return }
        for table in e.groupTables {
            if e.swapped {
                for b in table.reversed() where b != Self.nullBlock { swapPool!.release(b) }
            } else {
                for b in table.reversed() where b != Self.nullBlock { pool.release(b) }
            }
        }
    }

    /// Blocks the resident sequences would hold if none were shared: the sum of their live
    /// table entries, over every group.
    public var logicalBlocks: Int {
        entries.values.reduce(0) { sum, e in
            e.swapped ? sum : sum + e.groupTables.reduce(0) { $0 + $1.count - $1.prefix { $0 == Self.nullBlock }.count }
        }
    }

    /// Token slots in use that hold a token, counted once per distinct block: `computed` gives each
    /// resident sequence's cached token count.
    public func filledSlots(computed: [(seq: Int, tokens: Int)]) -> Int {
        var filled: [Int32: Int] = [:]
        for (s, n) in computed {
            guard let e = entries[s], !e.swapped else { continue }
            for table in e.groupTables {
                for (j, b) in table.enumerated() where b != Self.nullBlock {
                    let f = min(blockSize, max(0, n - j * blockSize))
                    filled[b] = max(filled[b] ?? 0, f)
                }
            }
        }
        return filled.values.reduce(0, +)
    }
}
