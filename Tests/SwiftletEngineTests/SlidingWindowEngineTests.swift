import Foundation
import Testing
import SwiftletKernels
import SwiftletModels
import SwiftletTestSupport
@testable import SwiftletEngine

/// The engine on a sliding-window mock (it reads back, and hashes, only the window's slots):
/// blocks behind the window go back to the pool while sequences run, and batching, chunked
/// prefill, prefix caching, preemption by swap and by recompute, forks and beams give the same
/// tokens as an engine that keeps every block, with the invariant checker on after every step.
@Suite struct SlidingWindowEngineTests {
    static let window = 8
    static let bs = 4
    /// The most blocks a sequence may hold: its window, wherever it starts in a block.
    static let bound = window / bs + 1

    /// Watches every forward pass: how many live blocks the table of a decoding sequence names.
    final class WindowWatcher: CausalLanguageModel {
        let inner: any CausalLanguageModel
        let blockSize: Int
        private(set) var mostDecodeBlocks = 0
        private(set) var freedEntriesSeen = 0
        init(_ inner: any CausalLanguageModel, blockSize: Int) {
            self.inner = inner
            self.blockSize = blockSize
        }
        var config: ModelConfig { inner.config }
        var residentBytes: Int { inner.residentBytes }
        var layerSlidingWindows: [Int?] { inner.layerSlidingWindows }
        func prepare(maxModelLength: Int) { inner.prepare(maxModelLength: maxModelLength) }
        func forward(tokens: [Int32], metadata m: AttentionMetadata, cache: PagedKVCache) -> [Float] {
            for s in 0..<m.numSequences where m.queryStart[s + 1] - m.queryStart[s] == 1 {
                let entries = (Int(m.contextLengths[s]) + blockSize - 1) / blockSize
                let row = m.blockTables[(s * m.maxBlocksPerSequence)..<(s * m.maxBlocksPerSequence + entries)]
                mostDecodeBlocks = max(mostDecodeBlocks, row.filter { $0 >= 0 }.count)
                freedEntriesSeen += row.filter { $0 < 0 }.count
            }
            return inner.forward(tokens: tokens, metadata: m, cache: cache)
        }
    }

    static func makeEngine(blocks: Int, scheduler: SchedulerConfig, frees: Bool = true,
                           swapBlocks: Int = 64) -> (LLMEngine, WindowWatcher, MockModel) {
        let mock = MockModel(slidingWindow: window)
        let model = WindowWatcher(mock, blockSize: bs)
        let cache = MockModel.makeCache(numBlocks: blocks, blockSize: bs)
        var config = EngineConfig(scheduler: scheduler, swapSpaceBytes: swapBlocks * 2 * cache.blockBytes)
        config.freesSlidingWindowBlocks = frees
        return (try! LLMEngine(model: model, cache: cache, tokenizer: nil, config: config), model, mock)
    }

    /// Steps until every request is done (each added at its arrival step), checking the engine's
    /// invariants after each step and then calling `afterStep` with the step's number. Returns the
    /// finished outputs.
    static func drive(_ engine: LLMEngine, _ requests: [EngineSchedulingTests.Request],
                      afterStep: (Int) -> Void) -> [String: RequestOutput] {
        var finished: [String: RequestOutput] = [:]
        var pending = requests.sorted { $0.arrivalStep < $1.arrivalStep }
        var step = 0
        while !pending.isEmpty || engine.hasUnfinishedRequests {
            while let r = pending.first, r.arrivalStep <= step {
                pending.removeFirst()
                do { try engine.addRequest(id: r.id, promptTokenIDs: r.prompt, params: r.params) } catch { Issue.record("\(r.id): \(error)") }
            }
            for o in engine.step() where o.finished { finished[o.requestID] = o }
            if let problem = engine.validate().first {
                Issue.record("step \(step): \(problem)")
                break
            }
            afterStep(step)
            step += 1
            if step > 20_000 { Issue.record("no progress"); break }
        }
        return finished
    }

    /// Steps until every request is done; after each step checks the engine's invariants and that
    /// no running sequence holds more than the window's blocks. Returns the finished outputs and
    /// the most blocks in use after any step.
    static func run(_ engine: LLMEngine, _ requests: [EngineSchedulingTests.Request]) -> (outputs: [String: RequestOutput], mostUsed: Int) {
        var mostUsed = 0
        let m = { engine.scheduler.manager }
        let finished = drive(engine, requests) { step in
            for group in 0..<m().numGroups where m().groupWindows[group] != nil {
                for g in engine.scheduler.running {
                    for s in g.sequences where !s.isFinished && m().heldBlocks(s.id, group: group) > m().maxLiveBlocks(stepTokens: 1, group: group) {
                        Issue.record("step \(step): sequence \(s.id) holds \(m().heldBlocks(s.id, group: group)) blocks in group \(group)")
                    }
                }
            }
            mostUsed = max(mostUsed, m().pool.usedCount)
            let map = engine.blockMap()
            if map.count(.owned) + map.count(.shared) != m().pool.usedCount {
                Issue.record("step \(step): the block map shows \(map.count(.owned) + map.count(.shared)) blocks in use, the pool \(m().pool.usedCount)")
            }
        }
        return (finished, mostUsed)
    }

    /// The windowed mock's greedy continuation, computed directly.
    static func greedy(prompt: [Int], count: Int) -> [Int] {
        var context = prompt
        for _ in 0..<count { context.append(MockModel.greedyNext(context: context, window: window)) }
        return Array(context.dropFirst(prompt.count))
    }

    @Test func aLongGenerationRunsInACacheSmallerThanIt() throws {
        let (engine, watcher, mock) = Self.makeEngine(blocks: 6, scheduler: SchedulerConfig(maxNumBatchedTokens: 16))
        // 6 blocks hold 24 tokens; the sequence grows to 310, held in at most 3 blocks.
        #expect(engine.maxModelLen > 6 * Self.bs)
        let prompt = (0..<10).map { 3 + ($0 * 7) % 60 }
        let request = EngineSchedulingTests.Request(id: "long", prompt: prompt, params: .greedy(maxTokens: 300, ignoreEOS: true),
                                                    arrivalStep: 0)
        let (outputs, mostUsed) = Self.run(engine, [request])
        let out = try #require(outputs["long"])
        #expect(out.outputs[0].tokenIDs == Self.greedy(prompt: prompt, count: 300))
        #expect(mock.corruptions == 0)
        #expect(watcher.mostDecodeBlocks == Self.bound)
        #expect(watcher.freedEntriesSeen > 0)
        #expect(mostUsed <= Self.bound)
        #expect(engine.statistics.kvBlocksUsed == 0)
    }

    /// A prompt of twice the cache's tokens, alone: admitted (a window's worth of blocks and
    /// chunks cut to what fits, not the whole prompt, are counted) and computed right.
    @Test func aPromptLongerThanTheCacheIsPrefilledInChunksThatFit() throws {
        let (engine, _, mock) = Self.makeEngine(blocks: 6, scheduler: SchedulerConfig(maxNumBatchedTokens: 64))
        #expect(engine.scheduler.manager.maxLiveBlocks(stepTokens: 64) > 6)
        let prompt = (0..<50).map { 3 + ($0 * 17) % 60 }
        let (outputs, mostUsed) = Self.run(engine, [.init(id: "p", prompt: prompt, params: .greedy(maxTokens: 10, ignoreEOS: true),
                                                          arrivalStep: 0)])
        #expect(outputs["p"]?.outputs[0].tokenIDs == Self.greedy(prompt: prompt, count: 10))
        #expect(outputs["p"]?.outputs[0].finishReason == .length)
        #expect(mock.corruptions == 0 && mostUsed <= 6)
    }

    /// Random traffic (n = 2, sampling, beams, shared prompt stems) in a cache far too small to
    /// hold it, against each request alone in an engine that keeps every block.
    @Test(arguments: [(PreemptionMode.recompute, true), (.swap, true), (.auto, false)])
    func mixedTrafficMatchesKeepingEveryBlock(mode: PreemptionMode, prefixCaching: Bool) throws {
        let config = SchedulerConfig(maxNumBatchedTokens: 24, maxNumSeqs: 8, enablePrefixCaching: prefixCaching, preemptionMode: mode)
        let (engine, _, mock) = Self.makeEngine(blocks: 16, scheduler: config)
        let requests = EngineSchedulingTests.randomRequests(count: 20, seed: 7 + UInt64(mode.rawValue.count), maxPrompt: 36,
                                                            maxTokens: 40, spread: 20)
        let (outputs, _) = Self.run(engine, requests)
        #expect(mock.corruptions == 0)
        let s = engine.statistics
        #expect(s.preemptions > 0, "the cache should force preemption")
        if mode == .swap { #expect(s.preemptionsSwap > 0) }
        if prefixCaching { #expect(s.prefixCacheHits > 0) }
        #expect(s.kvBlocksUsed == 0 && s.swapBlocksUsed == 0)
        for r in requests {
            let (alone, _, aloneMock) = Self.makeEngine(blocks: 512, scheduler: SchedulerConfig(maxNumBatchedTokens: 4096), frees: false)
            let (want, _) = Self.run(alone, [EngineSchedulingTests.Request(id: r.id, prompt: r.prompt, params: r.params, arrivalStep: 0)])
            #expect(aloneMock.corruptions == 0)
            let got = try #require(outputs[r.id])
            #expect(got.outputs.map(\.tokenIDs) == want[r.id]?.outputs.map(\.tokenIDs), "\(r.id) (\(r.params.n) completions)")
        }
    }

    /// A finished request's blocks, freed behind its window or at its end, stay in the prefix
    /// cache: the same prompt later hits all of them and takes only those in its window.
    @Test func freedBlocksStillServePrefixHits() throws {
        let (engine, _, mock) = Self.makeEngine(blocks: 32, scheduler: SchedulerConfig(maxNumBatchedTokens: 64))
        let prompt = (0..<30).map { 3 + ($0 * 11) % 60 }
        let first = EngineSchedulingTests.Request(id: "a", prompt: prompt, params: .greedy(maxTokens: 20, ignoreEOS: true), arrivalStep: 0)
        _ = Self.run(engine, [first])
        let second = EngineSchedulingTests.Request(id: "b", prompt: prompt + [5], params: .greedy(maxTokens: 20, ignoreEOS: true),
                                                   arrivalStep: 0)
        let (outputs, _) = Self.run(engine, [second])
        let out = try #require(outputs["b"])
        #expect(out.numCachedTokens == 28)
        #expect(out.outputs[0].tokenIDs == Self.greedy(prompt: prompt + [5], count: 20))
        #expect(mock.corruptions == 0)
    }

    /// A prompt whose first blocks were evicted still hits the blocks in its window: 40 tokens
    /// cached, where the whole-chain rule would stop at the first evicted block (24).
    @Test func aHitNeedsOnlyTheWindowsBlocks() throws {
        let (engine, _, mock) = Self.makeEngine(blocks: 12, scheduler: SchedulerConfig(maxNumBatchedTokens: 64))
        let prompt = (0..<40).map { 3 + ($0 * 13) % 60 }
        let other = (0..<16).map { 3 + ($0 * 5) % 60 }
        // The 40-token prompt leaves blocks 0...7 behind its window, released last-first, then
        // 8 and 9 at its end; the other prompt's four blocks take the two empty ones and evict 7 and 6.
        _ = Self.run(engine, [.init(id: "a", prompt: prompt, params: .greedy(maxTokens: 1, ignoreEOS: true), arrivalStep: 0)])
        _ = Self.run(engine, [.init(id: "b", prompt: other, params: .greedy(maxTokens: 1, ignoreEOS: true), arrivalStep: 0)])
        #expect(engine.statistics.kvEvictions == 2)
        let (outputs, _) = Self.run(engine, [.init(id: "c", prompt: prompt + [5], params: .greedy(maxTokens: 12, ignoreEOS: true),
                                                   arrivalStep: 0)])
        let out = try #require(outputs["c"])
        #expect(out.numCachedTokens == 40)
        #expect(out.outputs[0].tokenIDs == Self.greedy(prompt: prompt + [5], count: 12))
        #expect(mock.corruptions == 0)
    }

    /// A model whose layers report their own windows.
    final class LayerWindows: CausalLanguageModel {
        let inner = MockModel(slidingWindow: SlidingWindowEngineTests.window)
        let layerSlidingWindows: [Int?]
        init(_ windows: [Int?]) { layerSlidingWindows = windows }
        var config: ModelConfig { inner.config }
        var residentBytes: Int { 0 }
        func forward(tokens: [Int32], metadata: AttentionMetadata, cache: PagedKVCache) -> [Float] {
            inner.forward(tokens: tokens, metadata: metadata, cache: cache)
        }
    }

    /// Layers are grouped by window (KV cache groups): a group with a window frees the blocks
    /// behind it, a group without one keeps them all, and with freeing off there is one group
    /// that keeps everything. Tokens are the same in every case.
    @Test(arguments: [([Int?]([8, 8]), true, [8 as Int?]), ([8, nil], true, [8, nil]), ([nil, nil], true, [nil]),
                      ([8, 8], false, [nil]), ([8, nil], false, [nil])])
    func slidingGroupsFreeAndGlobalGroupsKeep(windows: [Int?], frees: Bool, groupWindows: [Int?]) throws {
        var config = EngineConfig(scheduler: SchedulerConfig(maxNumBatchedTokens: 16), swapSpaceBytes: 0)
        config.freesSlidingWindowBlocks = frees
        let model = LayerWindows(windows)
        let engine = try LLMEngine(model: model, cache: MockModel.makeCache(numBlocks: 16, blockSize: Self.bs), tokenizer: nil,
                                   config: config)
        let manager = engine.scheduler.manager
        #expect(manager.groupWindows == groupWindows)
        #expect(manager.numBlocks == 16, "one layer per group here: the same bytes buy the same blocks")
        // Only windowed groups leave the length unbounded; [8, nil] holds 13 global blocks and
        // the sliding group's 3 (window 8 and one token, blocks of 4) in 16.
        let maxLen = groupWindows == [8] ? model.config.maxPositionEmbeddings : groupWindows == [8, nil] ? 13 * Self.bs : 16 * Self.bs
        #expect(engine.maxModelLen == maxLen)
        let prompt = Array(3..<13)
        let request = EngineSchedulingTests.Request(id: "a", prompt: prompt, params: .greedy(maxTokens: 40, ignoreEOS: true), arrivalStep: 0)
        let (outputs, mostUsed) = Self.run(engine, [request])
        #expect(outputs["a"]?.outputs[0].tokenIDs == Self.greedy(prompt: prompt, count: 40))
        #expect(model.inner.corruptions == 0)
        // Between steps a sequence holds at most prompt + 38 tokens' KV: the step that computes
        // the next one samples the last token and ends the request.
        let whole = (prompt.count + 38 + Self.bs - 1) / Self.bs
        #expect(mostUsed == groupWindows.reduce(0) { $0 + ($1 == nil ? whole : Self.bound) })
    }

    @Test func checkerFindsABlockKeptBehindTheWindow() throws {
        let (engine, _, _) = Self.makeEngine(blocks: 16, scheduler: SchedulerConfig())
        try engine.addRequest(id: "a", promptTokenIDs: Array(3..<23), params: .greedy(maxTokens: 8, ignoreEOS: true))
        _ = engine.step()
        #expect(engine.validate().isEmpty, "\(engine.validate())")
        let seq = engine.scheduler.running[0].sequences[0].id
        let freed = engine.scheduler.manager.freedEntries(seq)
        #expect(freed == engine.scheduler.manager.deadBlocks(computed: 20) && freed > 0)
        // Put a block back where the window freed one: the pool and the tables still agree.
        let allocated = engine.scheduler.manager.pool.allocate()
        let b = try #require(allocated)
        engine.scheduler.manager.entries[seq]!.table[freed - 1] = b
        #expect(engine.scheduler.manager.validate().isEmpty)
        #expect(engine.validate().first?.contains("blocks freed by the window") == true, "\(engine.validate())")
    }
}
