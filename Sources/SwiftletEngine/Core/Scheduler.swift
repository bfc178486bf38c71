import Foundation

/// One sequence's share of a step.
public struct ScheduledSequence {
    public let group: SequenceGroup
    public let seqIndex: Int
    public let numNewTokens: Int
    /// The sequence catches up with its tokens this step, so its next token is sampled.
    public let samples: Bool
}

/// What the scheduler decided for one step: the batch, and the block moves to make before it runs.
public struct SchedulerOutput {
    public var scheduled: [ScheduledSequence] = []
    /// Device -> swap copies, to make before anything else (their device blocks may be reused this step).
    public var blocksToSwapOut: [BlockCopy] = []
    /// Swap -> device copies.
    public var blocksToSwapIn: [BlockCopy] = []
    /// Copy-on-write copies inside the device cache.
    public var blocksToCopy: [BlockCopy] = []
    public var preempted: [(requestID: String, mode: PreemptionMode)] = []
    /// Groups the scheduler ended because they cannot fit in the cache even alone.
    public var ended: [SequenceGroup] = []
    public var numBatchedTokens = 0

    public var isEmpty: Bool { scheduled.isEmpty }
}

/// Running totals kept by the scheduler.
public struct SchedulerCounters: Sendable, Equatable {
    public var preemptionsRecompute = 0
    public var preemptionsSwap = 0
    /// Prompt tokens looked up in the prefix cache at admission, and those found.
    public var prefixCacheQueries = 0
    public var prefixCacheHits = 0
}

/// Iteration-level scheduling over a paged KV cache (Orca's continuous batching with vLLM's block
/// manager).
///
/// Every step has one token budget. Running groups come first, oldest (or highest priority)
/// first, so decodes are never held up by prompts; then swapped groups are brought back, then
/// waiting groups are admitted, their prompts chunked to what the budget has left. New work is
/// admitted only while nothing is swapped out and nothing had to be preempted this step, which
/// keeps service first come, first served.
///
/// When a running group needs blocks that are not free, the newest (lowest priority) running group
/// is preempted whole, by swapping or by recomputation, until the blocks are there.
public final class Scheduler {
    public let config: SchedulerConfig
    /// Longest sequence allowed; never more than the cache holds, so a lone sequence always fits.
    public let maxModelLen: Int
    public internal(set) var manager: KVCacheManager
    public private(set) var waiting: [SequenceGroup] = []
    public private(set) var running: [SequenceGroup] = []
    public private(set) var swapped: [SequenceGroup] = []
    public private(set) var counters = SchedulerCounters()
    private let watermarkBlocks: Int

    public init(config: SchedulerConfig, manager: KVCacheManager, maxModelLen: Int) {
        self.config = config
        self.manager = manager
        self.maxModelLen = maxModelLen
        watermarkBlocks = Int(config.watermark * Double(manager.numBlocks))
    }

    public var blockSize: Int { manager.blockSize }
    public var hasUnfinished: Bool { !waiting.isEmpty || !running.isEmpty || !swapped.isEmpty }
    public var numRunningSequences: Int { running.reduce(0) { $0 + $1.unfinishedCount } }

    // MARK: Queues

    private func precedes(_ a: SequenceGroup, _ b: SequenceGroup) -> Bool {
        if config.policy == .priority, a.priority != b.priority { return a.priority < b.priority }
        return a.arrivalIndex < b.arrivalIndex
    }

    private func insert(_ g: SequenceGroup, into queue: inout [SequenceGroup]) {
        // Usually the group belongs at the end (arrivals) or near the front (preempted ones).
        var i = queue.count
        while i > 0 && precedes(g, queue[i - 1]) { i -= 1 }
        queue.insert(g, at: i)
    }

    /// Queues a new request.
    public func add(_ g: SequenceGroup) {
        g.status = .waiting
        insert(g, into: &waiting)
    }

    /// Removes a request wherever it is and frees all its blocks; returns it, or nil if unknown.
    @discardableResult
    public func abort(_ requestID: String) -> SequenceGroup? {
        let g: SequenceGroup
        if let i = running.firstIndex(where: { $0.requestID == requestID }) {
            g = running.remove(at: i)
        } else if let i = waiting.firstIndex(where: { $0.requestID == requestID }) {
            g = waiting.remove(at: i)
        } else if let i = swapped.firstIndex(where: { $0.requestID == requestID }) {
            g = swapped.remove(at: i)
        } else {
            return nil
        }
        for k in g.sequences.indices {
            manager.free(g.sequences[k].id)
            if !g.sequences[k].isFinished { g.sequences[k].finishReason = .abort }
        }
        g.status = .finished
        return g
    }

    /// Frees the blocks of sequence `k` that its sliding window has left behind (after its
    /// computed tokens grew).
    func releaseOutsideWindow(_ g: SequenceGroup, _ k: Int) {
        manager.releaseOutsideWindow(g.sequences[k].id, computed: g.sequences[k].numComputedTokens)
    }

    /// Frees the blocks of a sequence that has finished.
    func releaseSequence(_ g: SequenceGroup, _ k: Int) {
        manager.free(g.sequences[k].id)
    }

    /// Makes a new sequence of `g` that shares all blocks of sequence `parent`.
    func fork(_ g: SequenceGroup, parent: Int, child: TokenSequence) {
        manager.fork(parent: g.sequences[parent].id, child: child.id)
        g.sequences.append(child)
    }

    /// Takes a finished group off the running list.
    func retire(_ g: SequenceGroup) {
        if let i = running.firstIndex(where: { $0 === g }) { running.remove(at: i) }
        g.status = .finished
    }

    // MARK: Scheduling

    /// Decides the next step.
    public func schedule(now: Date = Date()) -> SchedulerOutput {
        var out = SchedulerOutput()
        var budget = config.maxNumBatchedTokens
        var preempted = false

        // 1. Running groups, in order; make room by preempting from the back.
        var i = 0
        while i < running.count && budget > 0 {
            let g = running[i]
            let wanted = plan(g, budget: budget)
            if wanted.isEmpty { i += 1; continue }
            var chosen = fit(g, wanted, freeBlocks: manager.freeBlocks)
            while chosen == nil {
                preempted = true
                let victim = running.removeLast()
                if victim === g {
                    if running.isEmpty {
                        // Nothing else holds blocks, yet the group does not fit: it never will.
                        end(g, reason: "its sequences need more KV blocks than the cache has (\(manager.numBlocks))", &out)
                    } else {
                        preempt(g, &out)
                    }
                    break
                }
                preempt(victim, &out)
                chosen = fit(g, wanted, freeBlocks: manager.freeBlocks)
            }
            guard let c = chosen else { continue }
            commit(g, c, &out, &budget, now: now)
            i += 1
        }
        var runningSeqs = numRunningSequences

        // 2. Swapped groups come back first come, first served.
        while !preempted, budget > 0, let g = swapped.first {
            let ids = g.unfinishedIndices.map { g.sequences[$0].id }
            if runningSeqs + ids.count > config.maxNumSeqs { break }
            // Room for the blocks, plus one more per sequence and KV cache group for its next
            // token (unless the group is alone, when it must come back even if it then has to be
            // cut short).
            let need = manager.distinctBlocks(ids) + (running.isEmpty ? 0 : ids.count * manager.numGroups)
            let reserve = running.isEmpty ? 0 : watermarkBlocks
            guard need + reserve <= manager.freeBlocks else { break }
            let tokens = Dictionary(uniqueKeysWithValues: g.unfinishedIndices.map { (g.sequences[$0].id, g.sequences[$0].tokenIDs) })
            out.blocksToSwapIn += manager.swapIn(ids, tokens: tokens)
            swapped.removeFirst()
            g.status = .running
            insert(g, into: &running)
            runningSeqs += ids.count
            if let c = fit(g, plan(g, budget: budget), freeBlocks: manager.freeBlocks) {
                commit(g, c, &out, &budget, now: now)
            }
        }

        // 3. Waiting groups, while nothing is swapped out.
        while !preempted, swapped.isEmpty, budget > 0, let g = waiting.first {
            let indices = g.unfinishedIndices
            if runningSeqs + indices.count > config.maxNumSeqs { break }
            var prefixes: [CachedPrefix] = []
            var need = 0
            var leastNeed = 0
            var uncached = 0
            for k in indices {
                let s = g.sequences[k]
                // Prompt logprobs need every prompt position computed, so the cache is not read.
                let p = g.needsPromptLogprobs ? CachedPrefix() : manager.cachedPrefix(tokens: s.tokenIDs, root: g.cacheRoot)
                prefixes.append(p)
                let rest = s.tokenIDs.count - p.tokens(blockSize: blockSize)
                // With a sliding window, what the prompt holds at once: chunks of at most a step's
                // budget, and no larger than what fits the whole cache (`fit` cuts them so).
                let step = config.enableChunkedPrefill ? min(config.maxNumBatchedTokens, manager.maxStepTokensAlone) : rest
                need += manager.blocksNeeded(toAdmit: p, newTokens: rest, stepTokens: step)
                leastNeed += manager.blocksNeeded(toAdmit: p, newTokens: rest, stepTokens: config.enableChunkedPrefill ? 1 : rest)
                uncached += rest
            }
            // Admit only if the whole prompt fits, so a prompt admitted is not preempted mid-prefill.
            // Alone, a prompt also goes in when one-token chunks fit (`fit` cuts them to what is
            // free): with windowed and global KV cache groups together, steps of a whole budget
            // may not fit beside a long prompt's global blocks.
            let reserve = running.isEmpty ? 0 : watermarkBlocks
            let fitsAlone = running.isEmpty && leastNeed <= manager.freeBlocks
            if need + reserve > manager.freeBlocks && !fitsAlone {
                if running.isEmpty {
                    waiting.removeFirst()
                    end(g, reason: "it needs \(need) KV blocks and the cache has \(manager.numBlocks)", &out)
                    continue
                }
                break
            }
            // Without chunked prefill a prompt waits for a step with room for all of it (unless it
            // is longer than any step's budget, when chunks are the only way).
            if !config.enableChunkedPrefill, uncached > budget, budget < config.maxNumBatchedTokens { break }
            waiting.removeFirst()
            for (k, p) in zip(indices, prefixes) {
                manager.admit(g.sequences[k].id, root: g.cacheRoot, prefix: p)
                let hit = p.tokens(blockSize: blockSize)
                g.sequences[k].numComputedTokens = hit
                counters.prefixCacheQueries += g.sequences[k].tokenIDs.count
                counters.prefixCacheHits += hit
            }
            g.numCachedTokens = prefixes.first?.tokens(blockSize: blockSize) ?? 0
            g.status = .running
            insert(g, into: &running)
            runningSeqs += indices.count
            if let c = fit(g, plan(g, budget: budget), freeBlocks: manager.freeBlocks) {
                commit(g, c, &out, &budget, now: now)
            }
        }
        return out
    }

    /// This step's tokens for each unfinished sequence of a resident group, within `budget`.
    ///
    /// Beam search ranks all beams' candidates together, so a beam group's sequences sample in
    /// the same step or not at all: unless every one of them can catch up now, each is held one
    /// token short of catching up (possible only while they recompute after a preemption).
    private func plan(_ g: SequenceGroup, budget: Int) -> [(seq: Int, tokens: Int)] {
        var left = budget
        var p: [(seq: Int, tokens: Int)] = []
        let unfinished = g.unfinishedIndices
        var holdBack = false
        if g.params.useBeamSearch, unfinished.count > 1 {
            let total = unfinished.reduce(0) { $0 + g.sequences[$1].numUncomputedTokens }
            holdBack = total > budget
        }
        for k in unfinished {
            let want = g.sequences[k].numUncomputedTokens - (holdBack ? 1 : 0)
            var n = min(want, left)
            if n < want, !holdBack, !config.enableChunkedPrefill, want <= config.maxNumBatchedTokens { n = 0 }
            if n > 0 {
                p.append((k, n))
                left -= n
            }
        }
        return p
    }

    /// The plan if its blocks are free; a single prefilling sequence is cut to the tokens that fit.
    private func fit(_ g: SequenceGroup, _ p: [(seq: Int, tokens: Int)], freeBlocks: Int) -> [(seq: Int, tokens: Int)]? {
        guard !p.isEmpty else { return nil }
        var need = 0
        for (k, n) in p {
            let s = g.sequences[k]
            need += manager.blocksNeeded(s.id, computed: s.numComputedTokens, newTokens: n)
        }
        if need <= freeBlocks { return p }
        guard p.count == 1, p[0].tokens > 1, config.enableChunkedPrefill else { return nil }
        let s = g.sequences[p[0].seq]
        let m = manager.appendableTokens(s.id, computed: s.numComputedTokens, freeBlocks: freeBlocks)
        return m >= 1 ? [(p[0].seq, min(p[0].tokens, m))] : nil
    }

    private func commit(_ g: SequenceGroup, _ p: [(seq: Int, tokens: Int)], _ out: inout SchedulerOutput,
                        _ budget: inout Int, now: Date) {
        if g.metrics.firstScheduled == nil { g.metrics.firstScheduled = now }
        for (k, n) in p {
            let s = g.sequences[k]
            out.blocksToCopy += manager.allocateSlots(s.id, tokens: s.tokenIDs, computed: s.numComputedTokens, newTokens: n)
            out.scheduled.append(ScheduledSequence(group: g, seqIndex: k, numNewTokens: n,
                                                   samples: s.numComputedTokens + n == s.tokenIDs.count))
            out.numBatchedTokens += n
            budget -= n
        }
    }

    private func preempt(_ g: SequenceGroup, _ out: inout SchedulerOutput) {
        let indices = g.unfinishedIndices
        var mode = config.preemptionMode
        if mode == .auto { mode = indices.count > 1 ? .swap : .recompute }
        if mode == .swap, let copies = manager.swapOut(indices.map { g.sequences[$0].id }) {
            out.blocksToSwapOut += copies
            g.status = .swapped
            insert(g, into: &swapped)
            counters.preemptionsSwap += 1
            out.preempted.append((g.requestID, .swap))
            return
        }
        // Recompute (also the fallback when the swap tier is full or absent).
        for k in indices {
            manager.free(g.sequences[k].id)
            g.sequences[k].numComputedTokens = 0
        }
        g.status = .waiting
        insert(g, into: &waiting)
        counters.preemptionsRecompute += 1
        out.preempted.append((g.requestID, .recompute))
    }

    /// Ends a group that can never fit, with finish reason `length` and an explanation.
    private func end(_ g: SequenceGroup, reason: String, _ out: inout SchedulerOutput) {
        for k in g.sequences.indices {
            manager.free(g.sequences[k].id)
            if !g.sequences[k].isFinished { g.sequences[k].finishReason = .length }
        }
        g.error = "request \(g.requestID) was ended: \(reason)"
        g.status = .finished
        out.ended.append(g)
    }
}
