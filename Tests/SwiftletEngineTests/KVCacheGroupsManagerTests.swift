import Testing
@testable import SwiftletEngine

/// The block manager with two KV cache groups, a sliding one (window 4) and a full one, blocks
/// of 2 tokens: per-group tables from one pool, freeing in the sliding group only, group-keyed
/// prefix caching and a hit that every group must allow.
struct KVCacheGroupsManagerTests {
    static let tokens = Array(1...12)

    /// A manager whose sequence 1 computed the 12 tokens, freed what its window left behind, and ended.
    static func finishedSequence() -> (KVCacheManager, sliding: [Int32], full: [Int32]) {
        var m = KVCacheManager(numBlocks: 40, blockSize: 2, groupWindows: [4, nil])
        let root = BlockHash.root()
        m.admit(1, root: root)
        #expect(m.blocksNeeded(1, computed: 0, newTokens: 12) == 12)
        #expect(m.appendableTokens(1, computed: 0, freeBlocks: 7) == 6, "each block position takes a block in both groups")
        #expect(m.allocateSlots(1, tokens: tokens, computed: 0, newTokens: 12).isEmpty)
        let sliding = m.blockTable(1, group: 0), full = m.blockTable(1, group: 1)
        #expect(Set(sliding).isDisjoint(with: full), "a block belongs to one group")
        for (a, b) in zip(sliding, full) { #expect(m.pool.hash(of: a) != m.pool.hash(of: b), "hashes are keyed by group") }
        m.releaseOutsideWindow(1, computed: 12)
        // The next query (position 12) reads 9...12: blocks 0-3 of the sliding group are dead.
        #expect(m.freedEntries(1, group: 0) == 4 && m.freedEntries(1, group: 1) == 0)
        #expect(m.heldBlocks(1, group: 0) == 2 && m.heldBlocks(1, group: 1) == 6 && m.heldBlocks(1) == 8)
        #expect(m.validate().isEmpty, "\(m.validate())")
        m.free(1)
        #expect(m.validate().isEmpty && m.pool.usedCount == 0)
        return (m, sliding, full)
    }

    @Test func aHitNeedsTheWindowInTheSlidingGroupAndEverythingInTheFullOne() {
        var (m, sliding, full) = Self.finishedSequence()
        let prompt = Self.tokens + [99]
        let hit = m.cachedPrefix(tokens: prompt, root: BlockHash.root())
        #expect(hit.tokens(blockSize: 2) == 12)
        #expect(hit.groupBlocks[0] == [-1, -1, -1, -1] + sliding[4...] && hit.groupBlocks[1] == full)
        #expect(hit.unreferencedBlocks == 8)
        // Sliding: the window's 2 blocks and 1 for the new token, at most 3 (window 4 and a token);
        // full: all 6 and 1 for the new token.
        #expect(m.blocksNeeded(toAdmit: hit, newTokens: 1) == 3 + 7)
        #expect(m.cachedPrefix(tokens: prompt, root: BlockHash.root(extraKeys: ["salt"])).blocks.isEmpty)

        // Evicting the sliding group's dead blocks (they went back first) changes nothing...
        for _ in 0..<(28 + 4) { _ = m.pool.allocate() }
        #expect(!sliding[0..<4].contains { m.pool.hash(of: $0) != nil })
        #expect(m.cachedPrefix(tokens: prompt, root: BlockHash.root()).tokens(blockSize: 2) == 12)
        // ...evicting its window's blocks leaves no hit at all, though the full group has every block.
        for _ in 0..<2 { _ = m.pool.allocate() }
        #expect(full.allSatisfy { m.pool.hash(of: $0) != nil })
        #expect(m.cachedPrefix(tokens: prompt, root: BlockHash.root()).blocks.isEmpty)
    }

    @Test func admittingAHitTakesOnlyTheWindowInTheSlidingGroup() {
        var (m, sliding, full) = Self.finishedSequence()
        let prompt = Self.tokens + [99]
        let hit = m.cachedPrefix(tokens: prompt, root: BlockHash.root())
        m.admit(2, root: BlockHash.root(), prefix: hit)
        #expect(m.blockTable(2, group: 0) == [-1, -1, -1, -1] + sliding[4...] && m.blockTable(2, group: 1) == full)
        #expect(m.pool.usedCount == 8 && m.validate().isEmpty)
        _ = m.allocateSlots(2, tokens: prompt, computed: 12, newTokens: 1)
        m.fork(parent: 2, child: 3)
        #expect(m.distinctBlocks([2, 3]) == 10)
        #expect(m.validate().isEmpty, "\(m.validate())")
    }

    @Test func swappingMovesEveryGroupsLiveBlocks() throws {
        var m = KVCacheManager(numBlocks: 30, blockSize: 2, numSwapBlocks: 12, groupWindows: [4, nil])
        m.admit(1, root: BlockHash.root())
        _ = m.allocateSlots(1, tokens: Self.tokens, computed: 0, newTokens: 12)
        m.releaseOutsideWindow(1, computed: 12)
        let swapped = m.swapOut([1])
        let copies = try #require(swapped)
        #expect(copies.count == 8 && m.pool.usedCount == 0 && m.freeSwapBlocks == 4)
        #expect(m.validate().isEmpty, "\(m.validate())")
        let back = m.swapIn([1], tokens: [1: Self.tokens])
        // The blocks stayed cached in the device pool: all come back from the prefix cache.
        #expect(back.isEmpty && m.heldBlocks(1, group: 0) == 2 && m.heldBlocks(1, group: 1) == 6)
        #expect(m.freedEntries(1, group: 0) == 4 && m.validate().isEmpty, "\(m.validate())")
    }

    /// The checker sees a block named by two groups' tables, tables of different lengths, and a
    /// freed entry in the full group.
    @Test func checkerFindsGroupViolations() {
        var m = KVCacheManager(numBlocks: 30, blockSize: 2, groupWindows: [4, nil])
        m.admit(1, root: BlockHash.root())
        _ = m.allocateSlots(1, tokens: Self.tokens, computed: 0, newTokens: 12)
        m.releaseOutsideWindow(1, computed: 12)
        #expect(m.validate().isEmpty)
        var shared = m
        let block = shared.entries[1]!.groupTables[1][5]
        shared.pool.retain(block)
        shared.pool.release(shared.entries[1]!.groupTables[0][5])
        shared.entries[1]!.groupTables[0][5] = block
        #expect(shared.validate().contains { $0.contains("is in the tables of groups 0 and 1") }, "\(shared.validate())")
        var short = m
        short.pool.release(short.entries[1]!.groupTables[1].removeLast())
        #expect(short.validate().contains { $0.contains("group 1: 5 blocks, group 0 has 6") }, "\(short.validate())")
        var freed = m
        freed.pool.release(freed.entries[1]!.groupTables[1][0])
        freed.entries[1]!.groupTables[1][0] = KVCacheManager.nullBlock
        #expect(freed.validate().contains { $0.contains("group 1: 1 freed entries without a sliding window") }, "\(freed.validate())")
    }
}
