import Testing
@testable import SwiftletEngine

/// The block manager with a sliding window: blocks behind the window go back to the pool, tables
/// keep null entries in their place, and forks, swapping, prefix caching and the invariant
/// checker all see a consistent state.
struct SlidingWindowKVCacheTests {
    static let bs = 4
    static let window = 8

    /// Grows sequence `seq` one token a step (a decode loop) from `from` to `to` computed tokens,
    /// releasing what the window leaves behind after each step; returns the most blocks it held.
    @discardableResult
    static func decode(_ m: inout KVCacheManager, _ seq: Int, tokens: [Int], from: Int, to: Int) -> Int {
        var most = 0
        for c in from..<to {
            _ = m.allocateSlots(seq, tokens: tokens, computed: c, newTokens: 1)
            most = max(most, m.heldBlocks(seq))
            m.releaseOutsideWindow(seq, computed: c + 1)
        }
        return most
    }

    @Test func deadBlocksFollowTheWindowOfTheNextQuery() {
        let m = KVCacheManager(numBlocks: 4, blockSize: Self.bs, slidingWindow: Self.window)
        // The query at position c reads c - 7 ... c: block 0 (positions 0...3) is dead from c = 11.
        #expect(m.deadBlocks(computed: 10) == 0)
        #expect(m.deadBlocks(computed: 11) == 1)
        #expect(m.deadBlocks(computed: 15) == 2)
        #expect(m.maxLiveBlocks(stepTokens: 1) == Self.window / Self.bs + 1)
        #expect(KVCacheManager(numBlocks: 4, blockSize: Self.bs).deadBlocks(computed: 100) == 0)
    }

    @Test func aLongSequenceHoldsOnlyTheWindow() {
        var m = KVCacheManager(numBlocks: 6, blockSize: Self.bs, slidingWindow: Self.window)
        let tokens = (0..<200).map { 3 + $0 % 50 }
        m.admit(1, root: BlockHash.root())
        _ = m.allocateSlots(1, tokens: tokens, computed: 0, newTokens: 5)
        m.releaseOutsideWindow(1, computed: 5)
        // 200 tokens are 50 blocks; the pool has 6, and the sequence never holds more than 3.
        let most = Self.decode(&m, 1, tokens: tokens, from: 5, to: 200)
        #expect(most == Self.window / Self.bs + 1)
        #expect(m.validate().isEmpty, "\(m.validate())")
        #expect(m.blockTable(1).count == 50)
        #expect(m.freedEntries(1) == m.deadBlocks(computed: 200))
        #expect(m.pool.usedCount == m.heldBlocks(1))
        #expect(!m.blockTable(1)[m.freedEntries(1)...].contains(KVCacheManager.nullBlock))
        m.free(1)
        #expect(m.pool.usedCount == 0 && m.validate().isEmpty)
    }

    @Test func forksShareOnlyTheLiveBlocksAndCopyOnWrite() {
        var m = KVCacheManager(numBlocks: 12, blockSize: Self.bs, enablePrefixCaching: false, slidingWindow: Self.window)
        let tokens = Array(3..<40)
        m.admit(1, root: BlockHash.root())
        Self.decode(&m, 1, tokens: tokens, from: 0, to: 18)
        let live = m.heldBlocks(1)
        m.fork(parent: 1, child: 2)
        #expect(m.validate().isEmpty, "\(m.validate())")
        #expect(m.pool.usedCount == live)
        for b in m.blockTable(1)[m.freedEntries(1)...] { #expect(m.pool.refCount(b) == 2) }
        // Position 18 is inside the shared last block: the first to write it copies it.
        let copies = m.allocateSlots(2, tokens: tokens, computed: 18, newTokens: 1)
        #expect(copies.count == 1)
        Self.decode(&m, 1, tokens: tokens, from: 18, to: 30)
        Self.decode(&m, 2, tokens: tokens, from: 19, to: 30)
        #expect(m.validate().isEmpty, "\(m.validate())")
        #expect(m.heldBlocks(1) <= m.maxLiveBlocks(stepTokens: 1) && m.heldBlocks(2) <= m.maxLiveBlocks(stepTokens: 1))
        m.free(1)
        m.free(2)
        #expect(m.pool.usedCount == 0 && m.validate().isEmpty)
    }

    @Test func swappingMovesOnlyLiveBlocksAndKeepsTheFreedEntries() {
        var m = KVCacheManager(numBlocks: 8, blockSize: Self.bs, numSwapBlocks: 3, slidingWindow: Self.window)
        let tokens = Array(3..<60)
        m.admit(1, root: BlockHash.root())
        Self.decode(&m, 1, tokens: tokens, from: 0, to: 41)
        let table = m.blockTable(1)
        let freed = m.freedEntries(1)
        #expect(m.distinctBlocks([1]) == table.count - freed)
        // Three swap blocks hold a sequence of eleven blocks' worth of tokens.
        let out = m.swapOut([1])
        #expect(out?.count == table.count - freed)
        #expect(m.validate().isEmpty, "\(m.validate())")
        #expect(m.freedEntries(1) == freed && m.pool.usedCount == 0)
        let back = m.swapIn([1], tokens: [1: tokens])
        #expect(m.validate().isEmpty, "\(m.validate())")
        #expect(m.freedEntries(1) == freed && m.blockTable(1).count == table.count)
        // Full blocks come back from the prefix cache (they stayed cached), the partial one by copy.
        #expect(back.count == 1)
        Self.decode(&m, 1, tokens: tokens, from: 41, to: 50)
        #expect(m.validate().isEmpty, "\(m.validate())")
    }

    @Test func prefixHitsNeedOnlyTheWindowCachedAndTakeOnlyIt() {
        var m = KVCacheManager(numBlocks: 10, blockSize: Self.bs, slidingWindow: Self.window)
        let root = BlockHash.root()
        let prompt = Array(3..<27) // 24 tokens, 6 full blocks
        m.admit(1, root: root)
        _ = m.allocateSlots(1, tokens: prompt, computed: 0, newTokens: 24)
        m.releaseOutsideWindow(1, computed: 24)
        let freed = m.freedEntries(1)
        #expect(freed == 4)
        #expect(m.pool.cachedFreeCount == freed, "freed blocks stay in the prefix cache")
        m.free(1)

        // The same prompt plus one token: all six blocks hit; only those in the window are taken.
        let longer = prompt + [30]
        let hit = m.cachedPrefix(tokens: longer, root: root)
        #expect(hit.blocks.count == 6)
        let need = m.blocksNeeded(toAdmit: hit, newTokens: 1, stepTokens: 1)
        #expect(need <= m.maxLiveBlocks(stepTokens: 1))
        let free = m.freeBlocks
        m.admit(2, root: root, prefix: hit)
        #expect(m.freedEntries(2) == m.deadBlocks(computed: 24))
        #expect(free - m.freeBlocks == 6 - m.deadBlocks(computed: 24))
        _ = m.allocateSlots(2, tokens: longer, computed: 24, newTokens: 1)
        #expect(m.validate().isEmpty, "\(m.validate())")
        m.free(2)

        // Every empty block and the four the window freed (the least recently used content):
        // the chain's head is gone, yet blocks 4 and 5, the window of position 24, still hit.
        var taken = (0..<8).map { _ in m.pool.allocate()! }
        #expect(m.pool.evictions == 4)
        let late = m.cachedPrefix(tokens: longer, root: root)
        #expect(late.blocks.count == 6)
        #expect(late.blocks.prefix(4).allSatisfy { $0 == KVCacheManager.nullBlock } && !late.blocks.suffix(2).contains(KVCacheManager.nullBlock))
        #expect(late.unreferencedBlocks == 2)
        m.admit(3, root: root, prefix: late)
        #expect(m.freedEntries(3) == 4 && m.heldBlocks(3) == 2)
        #expect(m.pool.refCount(late.blocks[4]) == 1 && m.pool.refCount(late.blocks[5]) == 1)
        m.free(3)
        // Evicting block 5 leaves no run whose window is cached.
        taken.append(m.pool.allocate()!)
        #expect(m.pool.evictions == 5)
        #expect(m.cachedPrefix(tokens: longer, root: root).blocks.isEmpty)
        for b in taken { m.pool.release(b) }
        #expect(m.validate().isEmpty, "\(m.validate())")
    }

    @Test func admissionCountsTheWindowNotTheWholePrompt() {
        let m = KVCacheManager(numBlocks: 10, blockSize: Self.bs, slidingWindow: Self.window)
        // 400 tokens in chunks of 16: 100 blocks without the window, (7 + 16) positions at most with it.
        #expect(m.blocksNeeded(toAdmit: CachedPrefix(), newTokens: 400, stepTokens: 16) == m.maxLiveBlocks(stepTokens: 16))
        #expect(m.maxLiveBlocks(stepTokens: 16) == 7)
        #expect(m.blocksNeeded(toAdmit: CachedPrefix(), newTokens: 10, stepTokens: 16) == 3)
        let whole = KVCacheManager(numBlocks: 10, blockSize: Self.bs)
        #expect(whole.blocksNeeded(toAdmit: CachedPrefix(), newTokens: 400, stepTokens: 16) == 100)
    }

    @Test func checkerFindsMisplacedFreedEntries() {
        var m = KVCacheManager(numBlocks: 12, blockSize: Self.bs, slidingWindow: Self.window)
        let tokens = Array(3..<40)
        m.admit(1, root: BlockHash.root())
        Self.decode(&m, 1, tokens: tokens, from: 0, to: 30)
        #expect(m.validate().isEmpty)
        // A live block turned into a freed entry after the leading run (and its reference leaked).
        var broken = m
        let last = broken.entries[1]!.table.count - 1
        broken.entries[1]!.table[last] = KVCacheManager.nullBlock
        #expect(broken.validate().contains { $0.contains("a freed entry after a live block") }, "\(broken.validate())")
        #expect(broken.validate().contains { $0.contains("table entries") })

        // Freed entries in a manager without a window.
        var plain = KVCacheManager(numBlocks: 12, blockSize: Self.bs)
        plain.admit(1, root: BlockHash.root())
        _ = plain.allocateSlots(1, tokens: tokens, computed: 0, newTokens: 8)
        plain.pool.release(plain.entries[1]!.table[0])
        plain.entries[1]!.table[0] = KVCacheManager.nullBlock
        #expect(plain.validate().first?.contains("without a sliding window") == true, "\(plain.validate())")
    }
}
