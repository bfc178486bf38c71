import Testing
@testable import SwiftletEngine

/// Random interleavings of every block-manager operation, checked after each one against the
/// invariants (reference counts equal table references, used + free + cached = total, no block
/// twice in the free queue) and against a simulated KV store: tokens written through block tables
/// and moved by the returned copies must read back as each sequence's own tokens.
struct KVCacheManagerPropertyTests {
    struct Seq {
        var tokens: [Int]
        var computed: Int
        var swapped = false
    }

    /// The simulated cache contents: a token id per slot (-1 = never written).
    struct Store {
        var device: [[Int]]
        var swap: [[Int]]
        init(blocks: Int, swapBlocks: Int, blockSize: Int) {
            device = Array(repeating: Array(repeating: -1, count: blockSize), count: blocks)
            swap = Array(repeating: Array(repeating: -1, count: blockSize), count: swapBlocks)
        }
    }

    static func run(seed: UInt64, operations: Int, numBlocks: Int, swapBlocks: Int, blockSize: Int, prefixCaching: Bool) {
        var rng = SeededGenerator(seed: seed)
        var m = KVCacheManager(numBlocks: numBlocks, blockSize: blockSize, numSwapBlocks: swapBlocks, enablePrefixCaching: prefixCaching)
        var store = Store(blocks: numBlocks, swapBlocks: swapBlocks, blockSize: blockSize)
        var seqs: [Int: Seq] = [:]
        var nextID = 0
        let root = BlockHash.root()
        // A few shared prompt stems make prefix hits common.
        let stems = (0..<4).map { _ in (0..<(blockSize * 3)).map { _ in Int.random(in: 0..<5, using: &rng) } }
        var hits = 0, cows = 0, swapsOut = 0, evictionsSeen = 0

        func checkContents(_ id: Int, _ s: Seq) {
            guard !s.swapped else { return }
            let table = m.blockTable(id)
            #expect(table.count == (s.computed + blockSize - 1) / blockSize, "seq \(id): table length")
            for p in 0..<s.computed {
                let v = store.device[Int(table[p / blockSize])][p % blockSize]
                if v != s.tokens[p] {
                    Issue.record("seed \(seed): seq \(id) position \(p) reads \(v), expected \(s.tokens[p])")
                    return
                }
            }
        }

        func write(_ id: Int, from: Int, count: Int) {
            let table = m.blockTable(id)
            let s = seqs[id]!
            for p in from..<(from + count) { store.device[Int(table[p / blockSize])][p % blockSize] = s.tokens[p] }
        }

        for step in 0..<operations {
            let op = Int.random(in: 0..<100, using: &rng)
            let resident = seqs.filter { !$0.value.swapped }.map(\.key).sorted()
            let swappedIDs = seqs.filter { $0.value.swapped }.map(\.key).sorted()
            switch op {
            case 0..<20: // admit a new sequence, with a prefix-cache lookup
                let stem = stems[Int.random(in: 0..<stems.count, using: &rng)]
                let tokens = Array(stem.prefix(Int.random(in: 0...stem.count, using: &rng)))
                    + (0..<Int.random(in: 1...(2 * blockSize), using: &rng)).map { _ in Int.random(in: 0..<5, using: &rng) }
                let prefix = m.cachedPrefix(tokens: tokens, root: root)
                let hitTokens = prefix.tokens(blockSize: blockSize)
                #expect(hitTokens < tokens.count)
                let chunk = Int.random(in: 1...(tokens.count - hitTokens), using: &rng)
                guard m.blocksNeeded(toAdmit: prefix, newTokens: chunk) <= m.freeBlocks else { continue }
                let id = nextID
                nextID += 1
                m.admit(id, root: root, prefix: prefix)
                hits += prefix.blocks.count
                seqs[id] = Seq(tokens: tokens, computed: hitTokens)
                checkContents(id, seqs[id]!) // hit blocks must already hold this prompt
                let copies = m.allocateSlots(id, tokens: tokens, computed: hitTokens, newTokens: chunk)
                #expect(copies.isEmpty)
                write(id, from: hitTokens, count: chunk)
                seqs[id]!.computed += chunk
            case 20..<50: // grow a resident sequence (decode or prefill chunk), with copy-on-write
                guard let id = resident.randomElement(using: &rng) else { continue }
                var s = seqs[id]!
                if s.computed == s.tokens.count { s.tokens.append(Int.random(in: 0..<5, using: &rng)) }
                let n = Int.random(in: 1...(s.tokens.count - s.computed), using: &rng)
                seqs[id] = s
                guard m.blocksNeeded(id, computed: s.computed, newTokens: n) <= m.freeBlocks else {
                    #expect(m.appendableTokens(id, computed: s.computed, freeBlocks: m.freeBlocks) < n)
                    continue
                }
                for c in m.allocateSlots(id, tokens: s.tokens, computed: s.computed, newTokens: n) {
                    store.device[Int(c.destination)] = store.device[Int(c.source)]
                    cows += 1
                }
                write(id, from: s.computed, count: n)
                seqs[id]!.computed += n
            case 50..<62: // fork
                guard let id = resident.randomElement(using: &rng) else { continue }
                let child = nextID
                nextID += 1
                m.fork(parent: id, child: child)
                seqs[child] = seqs[id]
            case 62..<80: // free (resident or swapped)
                guard let id = seqs.keys.sorted().randomElement(using: &rng) else { continue }
                m.free(id)
                seqs[id] = nil
            case 80..<90: // swap out a random group of resident sequences
                guard !resident.isEmpty else { continue }
                let group = Array(resident.shuffled(using: &rng).prefix(Int.random(in: 1...3, using: &rng)))
                let need = m.distinctBlocks(group)
                guard let copies = m.swapOut(group) else {
                    #expect(need > m.freeSwapBlocks)
                    continue
                }
                #expect(copies.count == need)
                for c in copies { store.swap[Int(c.destination)] = store.device[Int(c.source)] }
                // Freed device blocks may be reused: scribble over the ones nobody holds.
                for b in m.pool.freeQueue where m.pool.hash(of: b) == nil { store.device[Int(b)] = Array(repeating: -7, count: blockSize) }
                for id in group { seqs[id]!.swapped = true }
                swapsOut += 1
            case 90..<97: // swap in
                guard !swappedIDs.isEmpty else { continue }
                let group = Array(swappedIDs.shuffled(using: &rng).prefix(Int.random(in: 1...3, using: &rng)))
                guard m.distinctBlocks(group) <= m.freeBlocks else { continue }
                for c in m.swapIn(group) { store.device[Int(c.destination)] = store.swap[Int(c.source)] }
                for id in group { seqs[id]!.swapped = false }
            default: // pressure: allocate and drop a burst of blocks, evicting cached ones
                let before = m.pool.evictions
                let id = nextID
                nextID += 1
                let want = min(m.freeBlocks, Int.random(in: 1...4, using: &rng)) * blockSize
                guard want > 0 else { continue }
                let tokens = (0..<want).map { _ in 100 + Int.random(in: 0..<5, using: &rng) }
                m.admit(id, root: root)
                _ = m.allocateSlots(id, tokens: tokens, computed: 0, newTokens: want)
                seqs[id] = Seq(tokens: tokens, computed: 0)
                write(id, from: 0, count: want)
                seqs[id]!.computed = want
                evictionsSeen += m.pool.evictions - before
            }
            let problems = m.validate()
            if !problems.isEmpty {
                Issue.record("seed \(seed) step \(step) op \(op): \(problems.prefix(3))")
                return
            }
            #expect(m.pool.usedCount + m.pool.emptyFreeCount + m.pool.cachedFreeCount == numBlocks)
            for (id, s) in seqs { checkContents(id, s) }
        }
        // End every sequence: the pool must be whole again.
        for id in seqs.keys { m.free(id) }
        #expect(m.validate().isEmpty)
        #expect(m.pool.usedCount == 0)
        #expect(m.pool.freeCount == numBlocks)
        #expect((m.swapPool?.usedCount ?? 0) == 0)
        if prefixCaching { #expect(hits > 0, "seed \(seed): no prefix hits exercised") }
        #expect(cows > 0 && swapsOut > 0, "seed \(seed): copy-on-write \(cows), swaps \(swapsOut)")
        _ = evictionsSeen
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomInterleavingsKeepInvariants(seed: UInt64) {
        Self.run(seed: seed, operations: 2500, numBlocks: 48, swapBlocks: 32, blockSize: 4, prefixCaching: true)
    }

    @Test(arguments: [11, 12] as [UInt64])
    func randomInterleavingsWithoutPrefixCaching(seed: UInt64) {
        Self.run(seed: seed, operations: 2500, numBlocks: 40, swapBlocks: 24, blockSize: 2, prefixCaching: false)
    }

    @Test func forkThenWriteCopiesTheSharedLastBlockOnce() {
        var m = KVCacheManager(numBlocks: 8, blockSize: 4, enablePrefixCaching: false)
        let tokens = [1, 2, 3, 4, 5, 6]
        m.admit(0, root: BlockHash.root())
        let none = m.allocateSlots(0, tokens: tokens, computed: 0, newTokens: 6)
        #expect(none.isEmpty)
        m.fork(parent: 0, child: 1)
        m.fork(parent: 0, child: 2)
        let last = m.blockTable(0)[1]
        #expect(m.pool.refCount(last) == 3)
        // Two of the three writers copy; the last one owns the original alone and writes in place.
        let c1 = m.allocateSlots(1, tokens: tokens + [7], computed: 6, newTokens: 1)
        let c2 = m.allocateSlots(2, tokens: tokens + [8], computed: 6, newTokens: 1)
        let c0 = m.allocateSlots(0, tokens: tokens + [9], computed: 6, newTokens: 1)
        #expect(c1.count == 1 && c2.count == 1 && c0.isEmpty)
        #expect(c1[0].source == last && c2[0].source == last)
        #expect(m.blockTable(0)[1] == last)
        #expect(m.blockTable(0)[0] == m.blockTable(1)[0] && m.pool.refCount(m.blockTable(0)[0]) == 3)
        #expect(m.validate().isEmpty)
    }

    @Test func swapKeepsSharingWithinAGroup() {
        var m = KVCacheManager(numBlocks: 8, blockSize: 4, numSwapBlocks: 8, enablePrefixCaching: false)
        m.admit(0, root: BlockHash.root())
        _ = m.allocateSlots(0, tokens: Array(0..<10), computed: 0, newTokens: 10)
        m.fork(parent: 0, child: 1)
        let out = m.swapOut([0, 1])!
        #expect(out.count == 3) // three distinct blocks, not six
        #expect(m.pool.usedCount == 0 && m.swapPool!.usedCount == 3)
        let back = m.swapIn([0, 1])
        #expect(back.count == 3)
        #expect(m.blockTable(0) == m.blockTable(1))
        #expect(m.validate().isEmpty)
    }

    /// Full blocks still in the prefix cache come back without a copy: those another sequence
    /// shares, and those left cached after the swap-out. Only the partial last block is copied.
    @Test func swapInTakesFullBlocksFromThePrefixCache() {
        var m = KVCacheManager(numBlocks: 16, blockSize: 4, numSwapBlocks: 8)
        let root = BlockHash.root()
        let tokens = Array(0..<10) // blocks 0-3, 4-7 full; 8-9 partial
        m.admit(0, root: root)
        _ = m.allocateSlots(0, tokens: tokens, computed: 0, newTokens: 10)
        let before = m.blockTable(0)
        // Sequence 1 shares the first full block.
        let prefix = m.cachedPrefix(tokens: Array(0..<4) + [99, 98], root: root)
        #expect(prefix.blocks == [before[0]])
        m.admit(1, root: root, prefix: prefix)
        _ = m.allocateSlots(1, tokens: Array(0..<4) + [99, 98], computed: 4, newTokens: 2)
        let out = m.swapOut([0])!
        #expect(out.count == 3)
        // Block 0 stays with sequence 1; block 1 is left cached; the partial block is plain free.
        #expect(m.pool.refCount(before[0]) == 1 && m.pool.cachedFreeCount == 1)
        let back = m.swapIn([0], tokens: [0: tokens])
        #expect(back.count == 1, "only the partial block is copied: \(back)")
        #expect(Array(m.blockTable(0).prefix(2)) == Array(before.prefix(2)))
        #expect(m.pool.refCount(before[0]) == 2)
        #expect(m.validate().isEmpty)
        // Without the tokens nothing can be checked, so every block is copied back.
        _ = m.swapOut([0])!
        #expect(m.swapIn([0]).count == 3)
        #expect(m.validate().isEmpty)
        m.free(0)
        m.free(1)
        #expect(m.pool.usedCount == 0 && m.swapPool!.usedCount == 0)
    }

    @Test func aFullPromptHitLeavesTheLastBlockToCompute() {
        var m = KVCacheManager(numBlocks: 8, blockSize: 4)
        let root = BlockHash.root()
        let prompt = Array(0..<8)
        m.admit(0, root: root)
        _ = m.allocateSlots(0, tokens: prompt, computed: 0, newTokens: 8)
        m.free(0)
        #expect(m.pool.cachedFreeCount == 2)
        let p = m.cachedPrefix(tokens: prompt, root: root)
        #expect(p.blocks.count == 1 && p.unreferencedBlocks == 1)
        #expect(m.cachedPrefix(tokens: prompt + [8], root: root).blocks.count == 2)
        #expect(m.cachedPrefix(tokens: prompt + [8], root: BlockHash.root(extraKeys: ["salt"])).blocks.isEmpty)
    }
}
