import Foundation
import SwiftletGrammar
import SwiftletKernels
import SwiftletModels
import SwiftletTokenizers

/// Why a request was refused.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case duplicateRequest(String)
    case emptyPrompt(String)
    case tokenOutOfRange(request: String, token: Int)
    case promptTooLong(request: String, tokens: Int, limit: Int)
    case requestTooLarge(request: String, blocksNeeded: Int, blocksInCache: Int)
    case invalidParameters(request: String, reason: String)
    case invalidConfiguration(String)
    /// The engine cannot run anything any more (a tensor-parallel rank died).
    case unavailable(String)

    public var description: String {
        switch self {
        case .duplicateRequest(let id): return "request id '\(id)' is already in use"
        case .emptyPrompt(let id): return "request '\(id)': the prompt is empty"
        case .tokenOutOfRange(let id, let t): return "request '\(id)': token id \(t) is outside the vocabulary"
        case .promptTooLong(let id, let n, let limit):
            return "request '\(id)': the prompt has \(n) tokens, more than the maximum length of \(limit) (the model's context or what the KV cache holds)"
        case .requestTooLarge(let id, let need, let have):
            return "request '\(id)': its completions could need \(need) KV blocks at once and the cache has \(have); lower n or max_tokens, or give the KV cache more memory"
        case .invalidParameters(let id, let why): return "request '\(id)': \(why)"
        case .invalidConfiguration(let why): return "invalid engine configuration: \(why)"
        case .unavailable(let why): return "the engine has stopped: \(why)"
        }
    }
}

/// The serving loop's core: requests in, one iteration per `step()`, incremental outputs out.
///
/// A step schedules (deciding the batch and any preemption), moves blocks (swap, copy-on-write),
/// runs one forward pass over the whole batch, samples a token for every sequence that caught up,
/// checks stop conditions and frees what finished. Not thread-safe: one thread owns the engine
/// (an HTTP server runs it on its own thread and passes requests and aborts to that thread).
public final class LLMEngine {
    public let config: EngineConfig
    public let modelConfig: ModelConfig
    public let tokenizer: (any Tokenizer)?
    public let scheduler: Scheduler
    public let runner: ModelRunner
    /// Picks tokens from logits; replaceable.
    public var sampler: any Sampler = StandardSampler()
    /// Receives the periodic status line (when `config.logStatsInterval` is set) and start-up notes.
    public var logHandler: ((String) -> Void)?
    /// Compiles structured-output constraints over this engine's vocabulary (nil without a tokenizer).
    public let structuredOutputCompiler: StructuredOutputCompiler?

    var groups: [String: SequenceGroup] = [:]
    var nextSequenceID = 0
    private var nextArrival = 0
    private var generator: SeededGenerator
    let eosTokenIDs: Set<Int>
    var totals = EngineStatistics()
    private var statsLogger: StatisticsLogger?
    /// Scratch for one token mask of a constrained sequence, and for a row kept while a draw is checked.
    var grammarMask: [UInt32] = []
    var grammarRowCopy: [Float] = []
    /// Whether constrained temperature sampling without truncation draws from the whole row first
    /// and masks only when the constraint forbids the draw (exact: see `GrammarShortcut`).
    /// Turning it off masks every row, to measure what the shortcut saves.
    public var samplesConstrainedRowsByRejection = true

    /// - Parameters:
    ///   - cache: the KV cache; its block count is the engine's budget.
    ///   - tokenizer: needed for text output and stop strings; token-only use works without it.
    ///   - link: under tensor parallelism, rank 0's link to the other ranks, which get the
    ///     cache's shape now and every step's batch after.
    public init(model: any CausalLanguageModel, cache: PagedKVCache, tokenizer: (any Tokenizer)?,
                config: EngineConfig = EngineConfig(), link: TensorParallelLink? = nil) throws {
        if let p = config.scheduler.problem() { throw EngineError.invalidConfiguration(p) }
        self.config = config
        modelConfig = model.config
        self.tokenizer = tokenizer
        // Layers grouped by window share the cache's storage (see `KVCacheGroups`); a cache laid
        // out otherwise (one storage layer per model layer, as callers that do not know the
        // groups make it) is replaced by one of the same bytes laid out for the groups. Its pages
        // are committed only when written, so the unused one costs address space only. With one
        // group on both sides the cache is used as it is.
        let groups = config.kvCacheGroups(for: model)
        let single = groups.count == 1 && cache.groups.count == 1
        let cache = single || cache.groups.sameStorage(as: groups) ? cache
            : try PagedKVCache(numBlocks: max(1, cache.numBlocks * cache.numLayers / groups.layersPerGroup), blockSize: cache.blockSize,
                               groups: groups, numKVHeads: cache.numKVHeads, headDim: cache.headDim, dtype: cache.dtype)
        let swap = config.swapSpaceBytes > 0 ? try SwapSpace(bytes: config.swapSpaceBytes, cache: cache) : nil
        let manager = KVCacheManager(numBlocks: cache.numBlocks, blockSize: cache.blockSize, numSwapBlocks: swap?.numBlocks ?? 0,
                                     enablePrefixCaching: config.scheduler.enablePrefixCaching, groupWindows: groups.windows)
        // A sequence holds all its blocks, unless windows bound them and chunks keep each step's
        // share small enough to fit beside them: then its length is not limited by the cache.
        let capacity = manager.maxSequenceTokens(chunkedPrefill: config.scheduler.enableChunkedPrefill)
        let maxLen = min(config.scheduler.maxModelLen ?? model.config.maxPositionEmbeddings, capacity)
        scheduler = Scheduler(config: config.scheduler, manager: manager, maxModelLen: maxLen)
        runner = ModelRunner(model: model, cache: cache, swapSpace: swap, link: link)
        model.prepare(maxModelLength: maxLen)
        link?.send(.setup(numBlocks: cache.numBlocks, blockSize: cache.blockSize, numSwapBlocks: swap?.numBlocks ?? 0, groups: groups,
                          maxModelLength: maxLen))
        generator = SeededGenerator(seed: config.seed)
        let eos = Set(model.config.eosTokenIds + (tokenizer?.eosTokenIDs ?? []))
        eosTokenIDs = eos
        structuredOutputCompiler = tokenizer.map {
            StructuredOutputCompiler(tokenizer: $0, vocabSize: model.config.vocabSize, endTokenIDs: Array(eos))
        }
        if let interval = config.logStatsInterval { statsLogger = StatisticsLogger(interval: interval) }
    }

    public var maxModelLen: Int { scheduler.maxModelLen }

    /// Runs the largest step the scheduler can form (`maxNumBatchedTokens` tokens over up to
    /// `maxNumSeqs` sequences) once, before any request: a long-running server's resident
    /// memory then includes every step's scratch from the start (see `ModelRunner.warmUp`).
    public func warmUp() {
        let s = config.scheduler
        runner.warmUp(tokens: s.maxNumBatchedTokens, sequences: s.maxNumSeqs, maxModelLen: maxModelLen)
    }

    /// Whether forked sequences (parallel samples, beams) share their parent's KV blocks, copying
    /// a block only when they write into it. Turning it off makes every fork copy all its blocks
    /// (what a system without sharing does), to measure what sharing saves.
    public var sharesForkedBlocks: Bool {
        get { scheduler.manager.shareForkedBlocks }
        set { scheduler.manager.shareForkedBlocks = newValue }
    }

    /// What the memory budget bought, for a start-up log line.
    public var summary: String {
        let cache = runner.cache
        let mib = { (b: Int) in String(format: "%.1f MiB", Double(b) / 1_048_576) }
        var s = "KV cache: \(cache.numBlocks) blocks of \(cache.blockSize) tokens = \(cache.numBlocks * cache.blockSize) tokens (\(mib(cache.totalBytes)))"
        if cache.groups.count > 1 { s += "; KV cache groups: \(cache.groups)" }
        if let swap = runner.swapSpace { s += "; swap: \(swap.numBlocks) blocks (\(mib(swap.totalBytes)))" }
        return s + "; max model len \(maxModelLen)"
    }
    public var hasUnfinishedRequests: Bool { scheduler.hasUnfinished }
    public var numUnfinishedRequests: Int { groups.count }

    // MARK: Requests

    /// Queues a request.
    /// - Parameters:
    ///   - priority: lower runs first when the scheduling policy is `priority`.
    ///   - cacheSalt: requests with different salts never share prefix-cache blocks.
    public func addRequest(id: String, promptTokenIDs prompt: [Int], params: SamplingParams, priority: Int = 0,
                           cacheSalt: String? = nil, arrival: Date = Date()) throws {
        guard groups[id] == nil else { throw EngineError.duplicateRequest(id) }
        if let f = failure { throw EngineError.unavailable(f.description) }
        if let p = params.problem(vocabSize: modelConfig.vocabSize) { throw EngineError.invalidParameters(request: id, reason: p) }
        guard !prompt.isEmpty else { throw EngineError.emptyPrompt(id) }
        if let bad = prompt.first(where: { $0 < 0 || $0 >= modelConfig.vocabSize }) { throw EngineError.tokenOutOfRange(request: id, token: bad) }
        guard prompt.count <= maxModelLen else { throw EngineError.promptTooLong(request: id, tokens: prompt.count, limit: maxModelLen) }
        if !params.stop.isEmpty, tokenizer == nil || !params.detokenize {
            throw EngineError.invalidParameters(request: id, reason: "stop strings need detokenization (and a tokenizer)")
        }
        if params.useBeamSearch, params.beamWidth > scheduler.config.maxNumBatchedTokens || params.beamWidth > scheduler.config.maxNumSeqs {
            throw EngineError.invalidParameters(request: id, reason: "beam width \(params.beamWidth) is more than a step can run (max-num-batched-tokens \(scheduler.config.maxNumBatchedTokens), max-num-seqs \(scheduler.config.maxNumSeqs))")
        }
        // Worst case: each completion's blocks held at once without sharing. A single sequence
        // always fits, as maxModelLen is capped at the cache's capacity.
        let longest = min(prompt.count + (params.maxTokens ?? maxModelLen), maxModelLen)
        let perSequence = scheduler.manager.mostBlocksHeld(tokens: longest, stepTokens: 1)
        let worst = params.numSequences * perSequence
        if params.numSequences > 1, worst > scheduler.manager.numBlocks {
            throw EngineError.requestTooLarge(request: id, blocksNeeded: worst, blocksInCache: scheduler.manager.numBlocks)
        }
        let grammar = try compiledConstraint(params, request: id)
        let seed = params.seed ?? generator.next()
        let first = makeSequence(index: 0, prompt: prompt, params: params, seed: seed, grammar: grammar)
        let g = SequenceGroup(requestID: id, arrivalIndex: nextArrival, priority: priority, params: params, prompt: prompt,
                              cacheRoot: BlockHash.root(extraKeys: cacheSalt.map { ["salt:" + $0] } ?? []),
                              first: first, arrival: arrival)
        nextArrival += 1
        groups[id] = g
        scheduler.add(g)
    }

    /// Tokenizes `prompt` (with the model's special tokens) and queues it.
    public func addRequest(id: String, prompt: String, params: SamplingParams, priority: Int = 0) throws {
        guard let tokenizer else { throw EngineError.invalidParameters(request: id, reason: "text prompts need a tokenizer") }
        try addRequest(id: id, promptTokenIDs: tokenizer.encode(prompt), params: params, priority: priority)
    }

    /// Ends a request at once, wherever it is, freeing its blocks. Returns its final output
    /// (finish reason `abort`), or nil if the id is unknown or already finished.
    @discardableResult
    public func abort(_ id: String) -> RequestOutput? {
        guard groups.removeValue(forKey: id) != nil, let g = scheduler.abort(id) else { return nil }
        g.metrics.finished = Date()
        totals.numFinished += 1
        return report(g)
    }

    func makeSequence(index: Int, prompt: [Int], params: SamplingParams, seed: UInt64, grammar: CompiledGrammar? = nil) -> TokenSequence {
        let detok = params.detokenize ? tokenizer.map {
            IncrementalDetokenizer(tokenizer: $0, promptIDs: prompt, skipSpecialTokens: params.skipSpecialTokens,
                                   stop: params.stop, includeStopString: params.includeStopStringInOutput)
        } : nil
        defer { nextSequenceID += 1 }
        var s = TokenSequence(id: nextSequenceID, index: index, prompt: prompt,
                              generator: SeededGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15), detokenizer: detok)
        s.grammar = grammar.map { GrammarMatcher($0) }
        return s
    }

    // MARK: Stepping

    /// Runs one iteration: schedule, execute (the forward pass), update from its output (as
    /// vLLM's `EngineCore.step`). Returns an output for every request that produced tokens or
    /// finished.
    public func step() -> [RequestOutput] {
        let now = Date()
        let out = scheduler.schedule(now: now)
        var results = out.ended.map { retire(ended: $0, at: now) }
        let promptRows = promptLogprobRows(out)
        let forwardStart = Date()
        var logits = runner.execute(out, manager: scheduler.manager, promptRows: promptRows)
        totals.forwardSeconds += Date().timeIntervalSince(forwardStart)
        totals.steps += 1
        defer { totals.stepSeconds += Date().timeIntervalSince(now) }
        if let failure = runner.link?.failure { return results + endEverything(because: failure.description) }
        results += logits.withUnsafeMutableBufferPointer { update(from: out, logits: $0, promptRows: promptRows) }
        runner.model.recycleLogits(consume logits)
        if var logger = statsLogger {
            if let line = logger.line(statistics) { logHandler?(line) }
            statsLogger = logger
        }
        return results
    }

    /// A request the scheduler ended without running it (refused or aborted while waiting).
    private func retire(ended g: SequenceGroup, at now: Date) -> RequestOutput {
        groups[g.requestID] = nil
        g.metrics.finished = now
        totals.numFinished += 1
        logHandler?(g.error ?? "request \(g.requestID) ended")
        return report(g)
    }

    /// For each scheduled sequence, the prompt positions whose next-token logprobs its request
    /// asked for and this step computes.
    private func promptLogprobRows(_ out: SchedulerOutput) -> [[Int]] {
        var rows: [[Int]] = []
        var any = false
        for e in out.scheduled {
            var positions: [Int] = []
            if let filled = e.group.promptLogprobs {
                let s = e.group.sequences[e.seqIndex]
                let start = s.numComputedTokens
                let end = min(start + e.numNewTokens, s.promptLength - 1)
                if start < end { for p in start..<end where filled[p + 1] == nil { positions.append(p) } }
            }
            any = any || !positions.isEmpty
            rows.append(positions)
        }
        return any ? rows : []
    }

    /// Tokens that end a sequence of this request (masked until `minTokens` are generated).
    func endingTokens(_ params: SamplingParams) -> Set<Int> {
        params.ignoreEOS ? Set(params.stopTokenIDs) : eosTokenIDs.union(params.stopTokenIDs)
    }

    func sampleNext(_ g: SequenceGroup, _ k: Int, logits: UnsafeMutableBufferPointer<Float>) {
        let params = g.params
        let identity = LogitsProcessor.isIdentity(params, outputCount: g.sequences[k].outputCount)
        // A constraint's mask goes on the raw logits, before the processors and the sampler (as in
        // vLLM, whose logprobs are those of the masked row), unless a shortcut checks the draw first.
        let constrained = g.sequences[k].grammar != nil
        let shortcut = constrained ? grammarShortcut(params) : .fullMask
        if constrained && shortcut == .fullMask { applyGrammarMask(g.sequences[k].grammar!, to: logits) }
        // The sampler overwrites the row unless it only takes the argmax of unprocessed logits.
        var raw: [Float] = []
        if params.needsLogprobs && !(identity && params.temperature == 0) { raw = Array(logits) }
        if !identity {
            LogitsProcessor.apply(to: logits, params: params, tokens: g.sequences[k].tokenIDs,
                                  promptLength: g.sequences[k].promptLength, stopTokens: endingTokens(params))
        }
        let token = constrained && shortcut != .fullMask ? sampleChecked(g, k, logits: logits, shortcut)
            : sampler.sample(logits: logits, params: params, generator: &g.sequences[k].generator)
        if constrained, !advanceGrammar(&g.sequences[k], by: token) {
            g.sequences[k].finish(.stop)
            return
        }
        if params.needsLogprobs {
            let position: PositionLogprobs = raw.isEmpty
                ? LogprobsComputer(logits: UnsafeBufferPointer(logits)).position(chosen: token, top: params.logprobs ?? 0)
                : raw.withUnsafeBufferPointer { LogprobsComputer(logits: $0).position(chosen: token, top: params.logprobs ?? 0) }
            record(position, into: &g.sequences[k], params: params)
        }
        g.sequences[k].accept(token, params: params, eos: eosTokenIDs, maxModelLen: maxModelLen)
        // A constraint that nothing may extend ends the completion (vLLM's behaviour).
        if constrained, g.sequences[k].grammar!.isComplete { g.sequences[k].finish(.stop) }
        totals.generationTokens += 1
    }

    /// Adds a generated token's logprobs to a sequence (before the token itself is accepted).
    func record(_ position: PositionLogprobs, into s: inout TokenSequence, params: SamplingParams) {
        s.cumulativeLogprob += Double(position.chosen.logprob)
        if params.logprobs != nil {
            if s.logprobs == nil { s.logprobs = [] }
            s.logprobs!.append(position)
        }
    }

    func report(_ g: SequenceGroup) -> RequestOutput {
        // Requests that generate more completions than they return report only the best ones:
        // best_of by cumulative logprob, beam search by score (its hypotheses are already ranked).
        var chosen = Array(g.sequences.indices)
        let p = g.params
        if chosen.count > p.n {
            let key: (Int) -> Double = p.useBeamSearch ? { g.sequences[$0].beamLogprob } : { g.sequences[$0].cumulativeLogprob }
            chosen = Array(chosen.sorted { key($0) != key($1) ? key($0) > key($1) : $0 < $1 }.prefix(p.n))
        }
        let reindex = !p.streamsPartialOutputs
        var outputs: [CompletionOutput] = []
        outputs.reserveCapacity(chosen.count)
        for (rank, k) in chosen.enumerated() {
            var o = g.sequences[k].report()
            if reindex { o.index = rank }
            outputs.append(o)
        }
        return RequestOutput(requestID: g.requestID, promptTokenIDs: g.promptTokenIDs, numCachedTokens: g.numCachedTokens,
                             outputs: outputs, promptLogprobs: g.promptLogprobs, finished: g.status == .finished, metrics: g.metrics, error: g.error)
    }

    // MARK: Statistics

    /// Queue lengths, cache use and running totals.
    public var statistics: EngineStatistics {
        var s = totals
        let m = scheduler.manager
        s.numRunning = scheduler.running.count
        s.numWaiting = scheduler.waiting.count
        s.numSwapped = scheduler.swapped.count
        s.kvBlocksTotal = m.pool.numBlocks
        s.kvBlocksUsed = m.pool.usedCount
        s.kvBlocksCached = m.pool.cachedFreeCount
        s.kvBlocksFree = m.pool.emptyFreeCount
        s.kvEvictions = m.pool.evictions
        s.swapBlocksTotal = m.swapPool?.numBlocks ?? 0
        s.swapBlocksUsed = m.swapPool?.usedCount ?? 0
        let collectives = collectiveStatistics
        s.collectiveCalls = collectives.calls
        s.collectiveSeconds = collectives.seconds
        s.collectiveBytes = collectives.bytes
        let c = scheduler.counters
        s.prefixCacheQueries = c.prefixCacheQueries
        s.prefixCacheHits = c.prefixCacheHits
        s.preemptionsRecompute = c.preemptionsRecompute
        s.preemptionsSwap = c.preemptionsSwap
        if let compiled = structuredOutputCompiler?.compileTotals {
            s.grammarCompiles = compiled.count
            s.grammarCompileSeconds = compiled.seconds
        }
        return s
    }

    /// How full the blocks in use are: token slots holding KV against slots in allocated blocks,
    /// and each running request's cached tokens (for comparisons with contiguous reservations).
    public func kvOccupancy() -> (filledSlots: Int, allocatedSlots: Int, requests: [(requestID: String, tokens: Int)]) {
        var perSequence: [(seq: Int, tokens: Int)] = []
        var perRequest: [(requestID: String, tokens: Int)] = []
        for g in scheduler.running {
            var most = 0
            for s in g.sequences where !s.isFinished {
                perSequence.append((s.id, s.numComputedTokens))
                most = max(most, s.numComputedTokens)
            }
            perRequest.append((g.requestID, most))
        }
        let m = scheduler.manager
        return (m.filledSlots(computed: perSequence), m.pool.usedCount * m.blockSize, perRequest)
    }
}
