/// The physical KV blocks and their reference counts.
///
/// Allocation and release are O(1): free blocks sit on a stack. A block is shared by bumping its
/// reference count (forked sequences); it returns to the free stack when the last holder releases it.
public struct BlockPool: Sendable {
    public let numBlocks: Int
    private var refCounts: [Int32]
    private var freeList: [Int32]

    public init(numBlocks: Int) {
        precondition(numBlocks > 0, "a block pool needs at least one block")
        self.numBlocks = numBlocks
        refCounts = Array(repeating: 0, count: numBlocks)
        // Low ids are handed out first, which keeps a small working set's pages together.
        freeList = (0..<Int32(numBlocks)).reversed()
    }

    public var freeCount: Int { freeList.count }
    public var usedCount: Int { numBlocks - freeList.count }

    public func refCount(_ block: Int32) -> Int { Int(refCounts[Int(block)]) }

    /// Takes a free block with reference count 1, or nil when none is left.
    public mutating func allocate() -> Int32? {
        guard let b = freeList.popLast() else { return nil }
        refCounts[Int(b)] = 1
        return b
    }

    /// Adds a holder to an allocated block.
    public mutating func retain(_ block: Int32) {
        precondition(refCounts[Int(block)] > 0, "retaining free block \(block)")
        refCounts[Int(block)] += 1
    }

    /// Drops a holder; the block is free again when none is left.
    public mutating func release(_ block: Int32) {
        precondition(refCounts[Int(block)] > 0, "releasing free block \(block)")
        refCounts[Int(block)] -= 1
        if refCounts[Int(block)] == 0 { freeList.append(block) }
    }
}
