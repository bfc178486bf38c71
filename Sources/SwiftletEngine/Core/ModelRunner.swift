import SwiftletKernels
import SwiftletModels

/// Turns a scheduled step into a forward pass: moves blocks as the scheduler asked, lays the
/// batch's tokens end to end with their slots, block tables and context lengths, and runs the model.
public final class ModelRunner {
    public let model: any CausalLanguageModel
    public let cache: PagedKVCache
    public let swapSpace: SwapSpace?
    /// Check every batch's indices before the forward pass (cheap; on in debug builds).
    public var validateBatches: Bool
    /// Rank 0's link to the other ranks under tensor parallelism: each step's moves and batch go
    /// to them before this rank runs its own shard.
    public let link: TensorParallelLink?

    public init(model: any CausalLanguageModel, cache: PagedKVCache, swapSpace: SwapSpace?, link: TensorParallelLink? = nil) {
        self.model = model
        self.cache = cache
        self.swapSpace = swapSpace
        self.link = link
        var debug = false
        assert({ debug = true; return true }())
        validateBatches = debug
    }

    /// Carries out the step's block moves, in the only safe order: swap-outs read blocks that this
    /// step may hand to others, and copy-on-write targets may be blocks just freed.
    public func moveBlocks(_ out: SchedulerOutput) {
        move(swapOut: out.blocksToSwapOut, swapIn: out.blocksToSwapIn, copies: out.blocksToCopy)
    }

    func move(swapOut: [BlockCopy], swapIn: [BlockCopy], copies: [BlockCopy]) {
        if !swapOut.isEmpty { swapSpace!.swapOut(swapOut, from: cache) }
        if !swapIn.isEmpty { swapSpace!.swapIn(swapIn, into: cache) }
        cache.copyBlocks(copies.map { ($0.source, $0.destination) })
    }

    /// The flat batch of a step: token ids and attention metadata, with every KV cache group's
    /// slots and block tables. Logits rows go per scheduled sequence, in order: the prompt
    /// positions of `promptRows[i]` (for prompt logprobs), then the sampling row if it samples
    /// this step.
    public static func prepare(_ scheduled: [ScheduledSequence], manager: KVCacheManager,
                               promptRows: [[Int]] = []) -> (tokens: [Int32], metadata: AttentionMetadata) {
        let bs = manager.blockSize
        let groups = 0..<manager.numGroups
        let ids = scheduled.map { $0.group.sequences[$0.seqIndex].id }
        let tables = groups.map { g in ids.map { manager.blockTable($0, group: g) } }
        // Every group's table of a sequence has the same length.
        let maxBlocks = max(1, tables[0].map(\.count).max() ?? 1)
        let total = scheduled.reduce(0) { $0 + $1.numNewTokens }
        var tokens: [Int32] = [], positions: [Int32] = []
        var slots = [[Int32]](repeating: [], count: groups.count)
        tokens.reserveCapacity(total)
        positions.reserveCapacity(total)
        for g in groups { slots[g].reserveCapacity(total) }
        var queryStart: [Int32] = [0], contextLengths: [Int32] = [], logits: [Int32] = []
        var flatTables = [[Int32]](repeating: [Int32](repeating: 0, count: scheduled.count * maxBlocks), count: groups.count)
        for (i, e) in scheduled.enumerated() {
            let s = e.group.sequences[e.seqIndex]
            let start = s.numComputedTokens
            for p in start..<(start + e.numNewTokens) {
                tokens.append(Int32(s.tokenIDs[p]))
                positions.append(Int32(p))
                for g in groups { slots[g].append(tables[g][i][p / bs] * Int32(bs) + Int32(p % bs)) }
            }
            if i < promptRows.count {
                let first = tokens.count - e.numNewTokens
                for p in promptRows[i] { logits.append(Int32(first + p - start)) }
            }
            queryStart.append(Int32(tokens.count))
            contextLengths.append(Int32(start + e.numNewTokens))
            for g in groups {
                for (j, b) in tables[g][i].enumerated() { flatTables[g][i * maxBlocks + j] = b }
            }
            if e.samples { logits.append(Int32(tokens.count - 1)) }
        }
        var meta = AttentionMetadata(positions: positions, slotMapping: slots[0], queryStart: queryStart,
                                     contextLengths: contextLengths, blockTables: flatTables[0],
                                     maxBlocksPerSequence: maxBlocks, logitsIndices: logits)
        meta.extraGroups = groups.dropFirst().map {
            AttentionMetadata.GroupTables(slotMapping: slots[$0], blockTables: flatTables[$0], maxBlocksPerSequence: maxBlocks)
        }
        return (tokens, meta)
    }

    /// Runs the step's forward pass; returns `vocabSize` logits per row, rows laid out as
    /// `prepare` says.
    ///
    /// Under tensor parallelism the other ranks get the same moves and batch first; when an
    /// exchange with them fails, the logits are meaningless and `link.failure` says why.
    public func execute(_ out: SchedulerOutput, manager: KVCacheManager, promptRows: [[Int]] = []) -> [Float] {
        let moves = !out.blocksToSwapOut.isEmpty || !out.blocksToSwapIn.isEmpty || !out.blocksToCopy.isEmpty
        guard moves || !out.scheduled.isEmpty else { return [] }
        let (tokens, meta) = out.scheduled.isEmpty
            ? ([], AttentionMetadata(positions: [], slotMapping: [], queryStart: [0], contextLengths: [], blockTables: [],
                                     maxBlocksPerSequence: 1, logitsIndices: []))
            : Self.prepare(out.scheduled, manager: manager, promptRows: promptRows)
        if validateBatches, !tokens.isEmpty, let problem = meta.validate(numBlocks: cache.numBlocks, blockSize: cache.blockSize,
                                                                         groupWindows: manager.groupWindows.map { $0 ?? 0 }) {
            preconditionFailure("bad batch: \(problem)")
        }
        link?.send(.step(swapOut: out.blocksToSwapOut, swapIn: out.blocksToSwapIn, copies: out.blocksToCopy, tokens: tokens,
                         metadata: meta))
        moveBlocks(out)
        guard !tokens.isEmpty else { return [] }
        return model.forward(tokens: tokens, metadata: meta, cache: cache)
    }

    /// Runs one forward pass over a batch of `tokens` tokens in `sequences` sequences (none
    /// longer than `maxModelLen`), each yielding a logits row, so that the scratch buffers every
    /// later step reuses reach their working size now, as vLLM's profile run does: the resident
    /// set then starts where serving keeps it, and does not step up later the first time a
    /// larger batch happens. The KV it writes lands in blocks no sequence holds yet (each is
    /// written again before it is read); nothing is registered with the prefix cache.
    public func warmUp(tokens: Int, sequences: Int, maxModelLen: Int) {
        let (ids, meta) = Self.warmUpBatch(tokens: tokens, sequences: sequences, maxModelLen: maxModelLen,
                                           numBlocks: cache.numBlocks, blockSize: cache.blockSize,
                                           vocabSize: model.config.vocabSize, groups: cache.groups.windows.count)
        link?.send(.step(swapOut: [], swapIn: [], copies: [], tokens: ids, metadata: meta))
        _ = model.forward(tokens: ids, metadata: meta, cache: cache)
    }

    static func warmUpBatch(tokens: Int, sequences: Int, maxModelLen: Int, numBlocks: Int, blockSize bs: Int,
                            vocabSize: Int, groups: Int = 1) -> (tokens: [Int32], metadata: AttentionMetadata) {
        let total = max(1, tokens)
        let count = min(total, max(sequences, (total + maxModelLen - 1) / max(1, maxModelLen), 1))
        let lengths = (0..<count).map { total / count + ($0 < total % count ? 1 : 0) }
        let perSequence = (lengths[0] + bs - 1) / bs
        let batch = lengths.enumerated().map { i, n in
            (newTokens: n, cachedTokens: 0, blockTable: (0..<perSequence).map { Int32((i * perSequence + $0) % numBlocks) })
        }
        var meta = AttentionMetadata.build(sequences: batch, blockSize: bs)
        let ids = lengths.enumerated().flatMap { i, n in (0..<n).map { Int32((i + $0) % vocabSize) } }
        // Every group gets the same tables: which blocks they name does not matter here.
        meta.extraGroups = Array(repeating: meta.group(0), count: max(0, groups - 1))
        return (ids, meta)
    }

    /// Carries out a step rank 0 sent (on the other ranks of a tensor-parallel group).
    func run(swapOut: [BlockCopy], swapIn: [BlockCopy], copies: [BlockCopy], tokens: [Int32], metadata: AttentionMetadata) {
        move(swapOut: swapOut, swapIn: swapIn, copies: copies)
        if !tokens.isEmpty { _ = model.forward(tokens: tokens, metadata: metadata, cache: cache) }
    }
}
