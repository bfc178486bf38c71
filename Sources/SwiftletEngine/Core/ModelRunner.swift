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

    public init(model: any CausalLanguageModel, cache: PagedKVCache, swapSpace: SwapSpace?) {
        self.model = model
        self.cache = cache
        self.swapSpace = swapSpace
        var debug = false
        assert({ debug = true; return true }())
        validateBatches = debug
    }

    /// Carries out the step's block moves, in the only safe order: swap-outs read blocks that this
    /// step may hand to others, and copy-on-write targets may be blocks just freed.
    public func moveBlocks(_ out: SchedulerOutput) {
        if !out.blocksToSwapOut.isEmpty { swapSpace!.swapOut(out.blocksToSwapOut, from: cache) }
        if !out.blocksToSwapIn.isEmpty { swapSpace!.swapIn(out.blocksToSwapIn, into: cache) }
        cache.copyBlocks(out.blocksToCopy.map { ($0.source, $0.destination) })
    }

    /// The flat batch of a step: token ids and attention metadata. Logits rows go per scheduled
    /// sequence, in order: the prompt positions of `promptRows[i]` (for prompt logprobs), then
    /// the sampling row if it samples this step.
    public static func prepare(_ scheduled: [ScheduledSequence], manager: KVCacheManager,
                               promptRows: [[Int]] = []) -> (tokens: [Int32], metadata: AttentionMetadata) {
        let bs = manager.blockSize
        let tables = scheduled.map { manager.blockTable($0.group.sequences[$0.seqIndex].id) }
        let maxBlocks = max(1, tables.map(\.count).max() ?? 1)
        let total = scheduled.reduce(0) { $0 + $1.numNewTokens }
        var tokens: [Int32] = [], positions: [Int32] = [], slots: [Int32] = []
        tokens.reserveCapacity(total)
        positions.reserveCapacity(total)
        slots.reserveCapacity(total)
        var queryStart: [Int32] = [0], contextLengths: [Int32] = [], logits: [Int32] = []
        var flatTables = [Int32](repeating: 0, count: scheduled.count * maxBlocks)
        for (i, e) in scheduled.enumerated() {
            let s = e.group.sequences[e.seqIndex]
            let table = tables[i]
            let start = s.numComputedTokens
            for p in start..<(start + e.numNewTokens) {
                tokens.append(Int32(s.tokenIDs[p]))
                positions.append(Int32(p))
                slots.append(table[p / bs] * Int32(bs) + Int32(p % bs))
            }
            if i < promptRows.count {
                let first = tokens.count - e.numNewTokens
                for p in promptRows[i] { logits.append(Int32(first + p - start)) }
            }
            queryStart.append(Int32(tokens.count))
            contextLengths.append(Int32(start + e.numNewTokens))
            for (j, b) in table.enumerated() { flatTables[i * maxBlocks + j] = b }
            if e.samples { logits.append(Int32(tokens.count - 1)) }
        }
        let meta = AttentionMetadata(positions: positions, slotMapping: slots, queryStart: queryStart,
                                     contextLengths: contextLengths, blockTables: flatTables,
                                     maxBlocksPerSequence: maxBlocks, logitsIndices: logits)
        return (tokens, meta)
    }

    /// Runs the step's forward pass; returns `vocabSize` logits per row, rows laid out as
    /// `prepare` says.
    public func execute(_ out: SchedulerOutput, manager: KVCacheManager, promptRows: [[Int]] = []) -> [Float] {
        moveBlocks(out)
        guard !out.scheduled.isEmpty else { return [] }
        let (tokens, meta) = Self.prepare(out.scheduled, manager: manager, promptRows: promptRows)
        if validateBatches, let problem = meta.validate(numBlocks: cache.numBlocks, blockSize: cache.blockSize,
                                                        slidingWindow: manager.slidingWindow ?? 0) {
            preconditionFailure("bad batch: \(problem)")
        }
        return model.forward(tokens: tokens, metadata: meta, cache: cache)
    }
}
