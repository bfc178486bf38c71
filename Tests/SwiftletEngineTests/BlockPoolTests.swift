import Testing
@testable import SwiftletEngine

struct BlockPoolTests {
    @Test func allocateAndReleaseAreCounted() {
        var pool = BlockPool(numBlocks: 4)
        let a = pool.allocate()!, b = pool.allocate()!
        #expect([a, b] == [0, 1])
        #expect(pool.usedCount == 2 && pool.freeCount == 2)
        pool.retain(a)
        pool.release(a)
        #expect(pool.refCount(a) == 1)
        pool.release(a)
        pool.release(b)
        #expect(pool.usedCount == 0 && pool.freeCount == 4)
        #expect(pool.validate().isEmpty)
        // Empty blocks come back first (most recently freed on top).
        let reused = pool.allocate()
        #expect(reused == b)
    }

    @Test func runsOut() {
        var pool = BlockPool(numBlocks: 2)
        let x = pool.allocate(), y = pool.allocate(), z = pool.allocate()
        #expect(x != nil && y != nil && z == nil)
    }

    @Test func cachedBlocksAreEvictedLeastRecentlyUsedFirstAndAfterEmptyOnes() {
        var pool = BlockPool(numBlocks: 4)
        let root = BlockHash.root()
        let blocks = (0..<3).map { _ in pool.allocate()! }
        var hashes: [BlockHash] = []
        var parent = root
        for (j, b) in blocks.enumerated() {
            let h = BlockHash.chained(parent: parent, tokens: [j, j])
            let registered = pool.register(b, hash: h, parent: parent, tokens: [j, j])
            #expect(registered)
            hashes.append(h)
            parent = h
        }
        // A sequence releases its chain last block first: the tail is evicted before the head.
        for b in blocks.reversed() { pool.release(b) }
        #expect(pool.cachedFreeCount == 3 && pool.emptyFreeCount == 1)
        #expect(pool.validate().isEmpty)
        // The never-used block goes first, then the chain's tail.
        let e1 = pool.allocate(), e2 = pool.allocate()
        #expect(e1 == 3)
        #expect(e2 == blocks[2])
        #expect(pool.evictions == 1)
        #expect(pool.cachedBlock(hash: hashes[2], parent: hashes[1], tokens: [2, 2]) == nil)
        // The head of the chain is still there and can be taken back.
        let hit = pool.cachedBlock(hash: hashes[0], parent: root, tokens: [0, 0])
        #expect(hit == blocks[0])
        pool.touch(hit!)
        #expect(pool.refCount(hit!) == 1 && pool.cachedFreeCount == 1)
        #expect(pool.validate().isEmpty)
    }

    @Test func hitsCompareTokensAndParent() {
        var pool = BlockPool(numBlocks: 2)
        let b = pool.allocate()!
        let root = BlockHash.root()
        let h = BlockHash.chained(parent: root, tokens: [5, 6])
        pool.register(b, hash: h, parent: root, tokens: [5, 6])
        #expect(pool.cachedBlock(hash: h, parent: root, tokens: [5, 6]) == b)
        // A colliding hash with other content must not hit.
        #expect(pool.cachedBlock(hash: h, parent: root, tokens: [5, 7]) == nil)
        #expect(pool.cachedBlock(hash: h, parent: BlockHash.root(extraKeys: ["x"]), tokens: [5, 6]) == nil)
        // The same content registered again elsewhere keeps the first block as the shared one.
        let c = pool.allocate()!
        let again = pool.register(c, hash: h, parent: root, tokens: [5, 6])
        #expect(!again)
        #expect(pool.hash(of: c) == nil)
    }

    @Test func hashesChainAndSeparateExtraKeys() {
        let r = BlockHash.root()
        let a = BlockHash.chained(parent: r, tokens: [1, 2, 3])
        #expect(a == BlockHash.chained(parent: r, tokens: [1, 2, 3]))
        #expect(a != BlockHash.chained(parent: r, tokens: [1, 2, 4]))
        #expect(a != BlockHash.chained(parent: BlockHash.root(extraKeys: ["adapter"]), tokens: [1, 2, 3]))
        #expect(BlockHash.chained(parent: a, tokens: [4]) != BlockHash.chained(parent: r, tokens: [4]))
        #expect(BlockHash.root(extraKeys: ["ab", "c"]) != BlockHash.root(extraKeys: ["a", "bc"]))
    }
}
