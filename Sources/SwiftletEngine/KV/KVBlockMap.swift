/// Who holds each block of the KV cache at one moment: the picture behind the server's live block map.
public struct KVBlockMap: Sendable, Equatable {
    /// What a block is doing.
    public enum State: Int, Sendable, Equatable {
        /// Unreferenced and without reusable content.
        case free = 0
        /// Held by exactly one sequence.
        case owned = 1
        /// Held by several sequences (the completions of one request, or requests sharing a prefix).
        case shared = 2
        /// Unreferenced, but its content stays in the prefix cache until the block is needed.
        case cached = 3
    }

    public var blockSize: Int
    /// One entry per physical block.
    public var states: [State]
    /// For each block, the index in `requestIDs` of the (first) request holding it; -1 when none.
    public var owners: [Int]
    /// Requests holding blocks, in the order the scheduler runs them.
    public var requestIDs: [String]

    public init(blockSize: Int, states: [State], owners: [Int], requestIDs: [String]) {
        self.blockSize = blockSize
        self.states = states
        self.owners = owners
        self.requestIDs = requestIDs
    }

    public func count(_ state: State) -> Int { states.reduce(0) { $0 + ($1 == state ? 1 : 0) } }
}

extension LLMEngine {
    /// The current block map. Call it on the thread that owns the engine, between steps.
    public func blockMap() -> KVBlockMap {
        let manager = scheduler.manager
        let pool = manager.pool
        var states = [KVBlockMap.State](repeating: .free, count: pool.numBlocks)
        var owners = [Int](repeating: -1, count: pool.numBlocks)
        var ids: [String] = []
        for g in scheduler.running {
            let index = ids.count
            ids.append(g.requestID)
            for s in g.sequences {
                for group in 0..<manager.numGroups {
                    for b in manager.blockTable(s.id, group: group) where b != KVCacheManager.nullBlock && owners[Int(b)] < 0 {
                        owners[Int(b)] = index
                    }
                }
            }
        }
        for b in 0..<pool.numBlocks {
            let refs = pool.refCount(Int32(b))
            if refs > 1 {
                states[b] = .shared
            } else if refs == 1 {
                states[b] = .owned
            } else if pool.hash(of: Int32(b)) != nil {
                states[b] = .cached
            }
        }
        return KVBlockMap(blockSize: manager.blockSize, states: states, owners: owners, requestIDs: ids)
    }
}
