/// The physical KV blocks: reference counts, the free queue and the prefix-cache index.
///
/// Every block is in one of three states:
/// - used: held by at least one sequence (reference count > 0);
/// - free: unreferenced and empty of reusable content;
/// - cached: unreferenced, but its content is a full block with a hash, so a later request with
///   the same prefix can take it back instead of recomputing it.
///
/// Free and cached blocks share one doubly linked queue, so allocation, release and taking a cached
/// block back are all O(1). Allocation pops the head. Released cached blocks join the tail, so the
/// least recently used content is evicted first; a sequence releases its blocks last-first, so the
/// tail of a chain goes before its head (a chain is useless without its head). Released blocks
/// without content join the head, so they are reused before any cached content is evicted.
public struct BlockPool: Sendable {
    public let numBlocks: Int
    private var refCounts: [Int32]
    // The free queue, linked through block ids; -1 ends it. Reference count 0 <=> on the queue.
    private var prev: [Int32]
    private var next: [Int32]
    private var head: Int32 = -1
    private var tail: Int32 = -1
    /// Number of blocks on the free queue (free and cached).
    public private(set) var freeCount: Int
    /// Unreferenced blocks that still carry a hash (part of `freeCount`).
    public private(set) var cachedFreeCount = 0
    /// Cached blocks whose content was dropped to make room.
    public private(set) var evictions = 0

    /// What a hashed block holds, to verify a hit (the collision guard).
    private struct Content: Sendable {
        var hash: BlockHash
        var parent: BlockHash
        var tokens: [Int32]
    }
    private var contents: [Content?]
    private var index: [BlockHash: Int32] = [:]

    public init(numBlocks: Int) {
        precondition(numBlocks > 0, "a block pool needs at least one block")
        self.numBlocks = numBlocks
        refCounts = Array(repeating: 0, count: numBlocks)
        contents = Array(repeating: nil, count: numBlocks)
        // Low ids are handed out first, which keeps a small working set's pages together.
        prev = (0..<Int32(numBlocks)).map { $0 - 1 }
        next = (0..<Int32(numBlocks)).map { $0 + 1 == Int32(numBlocks) ? -1 : $0 + 1 }
        head = 0
        tail = Int32(numBlocks - 1)
        freeCount = numBlocks
    }

    /// Blocks held by at least one sequence.
    public var usedCount: Int { numBlocks - freeCount }
    /// Unreferenced blocks without reusable content.
    public var emptyFreeCount: Int { freeCount - cachedFreeCount }
    /// Blocks (used or not) that the prefix cache can hand out.
    public var hashedCount: Int { index.count }

    public func refCount(_ block: Int32) -> Int { Int(refCounts[Int(block)]) }

    /// The hash of a block's content, if it is a full block registered with the prefix cache.
    public func hash(of block: Int32) -> BlockHash? { contents[Int(block)]?.hash }

    /// The hash of the block before a registered block in its chain (the root for a first block).
    public func parentHash(of block: Int32) -> BlockHash? { contents[Int(block)]?.parent }

    // MARK: Allocation

    /// Takes a block with reference count 1 from the head of the free queue, evicting its cached
    /// content if it had any; nil when every block is in use.
    public mutating func allocate() -> Int32? {
        guard head >= 0 else { return nil }
        let b = head
        unlink(b)
        if let c = contents[Int(b)] {
            index[c.hash] = nil
            contents[Int(b)] = nil
            cachedFreeCount -= 1
            evictions += 1
        }
        refCounts[Int(b)] = 1
        return b
    }

    /// Adds a holder to an allocated block.
    public mutating func retain(_ block: Int32) {
        precondition(refCounts[Int(block)] > 0, "retaining free block \(block)")
        refCounts[Int(block)] += 1
    }

    /// Drops a holder; the block joins the free queue when none is left.
    public mutating func release(_ block: Int32) {
        let i = Int(block)
        precondition(refCounts[i] > 0, "releasing free block \(block)")
        refCounts[i] -= 1
        guard refCounts[i] == 0 else { return }
        if contents[i] != nil {
            pushTail(block)
            cachedFreeCount += 1
        } else {
            pushHead(block)
        }
    }

    // MARK: Prefix cache

    /// The block registered under `hash`, if its content really is `tokens` after `parent`.
    public func cachedBlock<C: Collection>(hash: BlockHash, parent: BlockHash, tokens: C) -> Int32?
    where C.Element == Int {
        guard let b = index[hash], let c = contents[Int(b)] else { return nil }
        guard c.parent == parent, c.tokens.count == tokens.count,
              zip(c.tokens, tokens).allSatisfy({ Int($0) == $1 }) else { return nil }
        return b
    }

    /// Takes a reference to a block found in the cache, taking it off the free queue if it was
    /// unreferenced.
    public mutating func touch(_ block: Int32) {
        let i = Int(block)
        if refCounts[i] == 0 {
            precondition(contents[i] != nil, "touching a free block without content")
            unlink(block)
            cachedFreeCount -= 1
        }
        refCounts[i] += 1
    }

    /// Registers a used, full block's content. Returns false (and leaves the block unhashed) when
    /// another block already holds the same content: the first one stays the one that is shared.
    @discardableResult
    public mutating func register<C: Collection>(_ block: Int32, hash: BlockHash, parent: BlockHash, tokens: C) -> Bool
    where C.Element == Int {
        let i = Int(block)
        precondition(refCounts[i] > 0, "registering free block \(block)")
        if let existing = contents[i] { return existing.hash == hash }
        guard index[hash] == nil else { return false }
        index[hash] = block
        contents[i] = Content(hash: hash, parent: parent, tokens: tokens.map { Int32(truncatingIfNeeded: $0) })
        return true
    }

    /// Forgets every cached block that no sequence holds (e.g. after the weights change).
    public mutating func resetPrefixCache() {
        var b = head
        while b >= 0 {
            if let c = contents[Int(b)] {
                index[c.hash] = nil
                contents[Int(b)] = nil
                cachedFreeCount -= 1
            }
            b = next[Int(b)]
        }
    }

    // MARK: Free queue

    private mutating func unlink(_ b: Int32) {
        let p = prev[Int(b)], n = next[Int(b)]
        if p >= 0 { next[Int(p)] = n } else { head = n }
        if n >= 0 { prev[Int(n)] = p } else { tail = p }
        prev[Int(b)] = -1
        next[Int(b)] = -1
        freeCount -= 1
    }

    private mutating func pushTail(_ b: Int32) {
        prev[Int(b)] = tail
        next[Int(b)] = -1
        if tail >= 0 { next[Int(tail)] = b } else { head = b }
        tail = b
        freeCount += 1
    }

    private mutating func pushHead(_ b: Int32) {
        prev[Int(b)] = -1
        next[Int(b)] = head
        if head >= 0 { prev[Int(head)] = b } else { tail = b }
        head = b
        freeCount += 1
    }

    /// The free queue from head (next to be allocated) to tail.
    public var freeQueue: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(freeCount)
        var b = head
        while b >= 0 && out.count <= numBlocks {
            out.append(b)
            b = next[Int(b)]
        }
        return out
    }

    /// Checks the pool's own bookkeeping; returns what is wrong, first violation first (empty
    /// when consistent). Linear in the blocks and their tokens: cheap enough after every step.
    ///
    /// The free queue holds exactly the unreferenced blocks, once each, linked both ways; the
    /// counters agree with it; every prefix-cache entry names a block whose recorded content
    /// hashes to the entry's key.
    public func validate() -> [String] {
        var problems: [String] = []
        let queue = freeQueue
        if queue.count != freeCount { problems.append("free queue holds \(queue.count) blocks, count says \(freeCount)") }
        if (head < 0) != (tail < 0) || (head >= 0 && (prev[Int(head)] != -1 || next[Int(tail)] != -1)) {
            problems.append("free queue ends are inconsistent (head \(head), tail \(tail))")
        }
        var seen = Array(repeating: false, count: numBlocks)
        var cached = 0
        var previous: Int32 = -1
        for b in queue {
            if seen[Int(b)] { problems.append("block \(b) is twice in the free queue"); break }
            if prev[Int(b)] != previous { problems.append("block \(b) links back to \(prev[Int(b)]), not \(previous)") }
            previous = b
            seen[Int(b)] = true
            if refCounts[Int(b)] != 0 { problems.append("block \(b) is free with reference count \(refCounts[Int(b)])") }
            if contents[Int(b)] != nil { cached += 1 }
        }
        for b in 0..<numBlocks where refCounts[b] == 0 && !seen[b] { problems.append("block \(b) is unreferenced but not free") }
        for b in 0..<numBlocks where refCounts[b] < 0 { problems.append("block \(b) has reference count \(refCounts[b])") }
        if cached != cachedFreeCount { problems.append("\(cached) cached free blocks, count says \(cachedFreeCount)") }
        for (h, b) in index {
            guard b >= 0, Int(b) < numBlocks else { problems.append("index maps \(h) to block \(b), out of range"); continue }
            guard let c = contents[Int(b)], c.hash == h else { problems.append("index maps \(h) to block \(b) with other content"); continue }
            if BlockHash.chained(parent: c.parent, tokens: c.tokens.lazy.map { Int($0) }) != h {
                problems.append("block \(b): its tokens do not hash to its key \(h)")
            }
        }
        let hashed = contents.lazy.filter { $0 != nil }.count
        if hashed != index.count { problems.append("\(hashed) blocks carry a hash, the index has \(index.count)") }
        if usedCount + emptyFreeCount + cachedFreeCount != numBlocks { problems.append("used + free + cached != total") }
        return problems
    }
}
