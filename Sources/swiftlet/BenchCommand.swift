import ArgumentParser
import Foundation
import SwiftletDistributed
import SwiftletEngine
import SwiftletKernels
import SwiftletModels

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure speed (release builds only give meaningful figures).",
        subcommands: [BenchKernelsCommand.self, BenchTokenizerCommand.self, BenchThroughputCommand.self, BenchMemoryCommand.self, BenchSharingCommand.self, BenchGrammarCommand.self])
}

/// Forward-pass figures comparable to llama.cpp's llama-bench (pp, tg) and batched-bench.
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Prefill, single-stream decode and batched decode rates of the model forward pass.")

    @OptionGroup var options: ModelOptions

    @OptionGroup(title: "Tensor parallelism") var parallel: TensorParallelOptions

    @OptionGroup var slidingWindow: SlidingWindowOptions

    @Option(help: "Prompt tokens processed in one pass (like llama-bench -p).")
    var prefill: Int = 512

    @Option(help: "Tokens decoded one at a time from an empty context (like llama-bench -n).")
    var decode: Int = 128

    @Option(help: "Sequences in the batched decode step.")
    var batch: Int = 32

    @Option(help: "Context tokens of each sequence in the batched decode step.")
    var context: Int = 256

    @Option(help: "Repetitions; the median is reported.")
    var repetitions: Int = 3

    @Option(help: "Which measurements to run (comma-separated: prefill, decode, batch).")
    var only: String = "prefill,decode,batch"

    func run() throws {
        let tensorParallel = try TensorParallelRun.start(parallel)
        if let tensorParallel, !tensorParallel.isRankZero { tensorParallel.runWorker(model: options) }
        let loaded = try options.load(shard: tensorParallel?.shard)
        let c = loaded.config
        let model = loaded.model
        // The cache laid out as the engine lays it out: in KV cache groups by window (Gemma 3's
        // sliding and global layers), blocks behind a window freed as sequences grow.
        let groups = slidingWindow.kvCacheGroups(for: model)
        let cache = try options.makeCache(for: c, kvHeads: model.cacheKVHeads, groups: groups)
        let bs = cache.blockSize
        var layout = BenchCacheLayout(cache: cache)
        // Under tensor parallelism every pass goes to the other ranks first, as the engine sends it.
        let link = tensorParallel?.link
        link?.send(.setup(numBlocks: cache.numBlocks, blockSize: bs, numSwapBlocks: 0, groups: groups))
        // The logits go back to the model as the engine gives them back, so that passes reuse them.
        // Returns the argmax of the logits when asked (single-stream decode feeds it back).
        @discardableResult
        func forward(_ tokens: [Int32], _ meta: AttentionMetadata, argmax: Bool = false) throws -> Int32 {
            link?.send(.step(swapOut: [], swapIn: [], copies: [], tokens: tokens, metadata: meta))
            let logits = model.forward(tokens: tokens, metadata: meta, cache: cache)
            if let f = link?.failure { throw ValidationError("\(f)") }
            let best = argmax && !logits.isEmpty ? Int32(logits.indices.max { logits[$0] < logits[$1] }!) : 0
            model.recycleLogits(logits)
            return best
        }
        let collectives = { link?.group.statistics ?? CollectiveStatistics() }
        // Rank 0's collectives over `passes` forward passes that took `total` seconds.
        func collectiveShare(since before: CollectiveStatistics, passes: Int, of total: Double) -> String {
            guard let link else { return "" }
            let now = collectives()
            return String(format: "; tensor parallel over %d ranks: %.1f%% of the time in collectives (%.0f a pass, %.1f KiB sent a pass)",
                          link.group.size, 100 * (now.seconds - before.seconds) / total, Double(now.calls - before.calls) / Double(passes),
                          Double(now.bytes - before.bytes) / 1024 / Double(passes))
        }
        let parts = Set(only.split(separator: ",").map(String.init))
        var rng = SystemRandomNumberGenerator()
        func randomTokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32.random(in: 100..<Int32(c.vocabSize), using: &rng) } }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        print("\(KernelLevel.banner)")
        print("threads: \(ThreadPool.shared.size), precision: \(options.precision.rawValue), kv: \(options.kvCacheDtype.rawValue), block size: \(bs)")

        if parts.contains("prefill") {
            guard layout.grow(0, computed: 0, newTokens: prefill) else { throw ValidationError("KV cache too small for \(prefill) tokens") }
            let toks = randomTokens(prefill)
            let meta = layout.metadata([(0, prefill, 0)])
            defer { layout.free(0) }
            try forward(toks, meta) // warm-up: primitives, pages
            (model as? LlamaModel)?.profiler?.reset()
            var times: [Double] = []
            let c0 = collectives()
            for _ in 0..<repetitions {
                let s = Date()
                try forward(toks, meta)
                times.append(Date().timeIntervalSince(s))
            }
            print(String(format: "pp%d: %.1f tok/s (median of %d, %.1f ms)", prefill, Double(prefill) / median(times), repetitions, median(times) * 1000)
                  + collectiveShare(since: c0, passes: repetitions, of: times.reduce(0, +)))
            if let p = (model as? LlamaModel)?.profiler { print("  time per kind over \(times.count) passes: \(p.summary)") }
        }
        if parts.contains("decode") {
            // Each position's batch, with the blocks the engine would hold then (the same every
            // repetition: a block freed behind a window is rewritten before it is read again).
            var metas: [AttentionMetadata] = []
            for p in 0..<decode {
                guard layout.grow(1, computed: p, newTokens: 1) else { throw ValidationError("KV cache too small for \(decode) tokens") }
                metas.append(layout.metadata([(1, 1, p)]))
                layout.computed(1, p + 1)
            }
            defer { layout.free(1) }
            var times: [Double] = []
            var c0 = collectives()
            for r in 0...repetitions {
                var tok: Int32 = Int32(loaded.tokenizer.bosTokenID ?? 1)
                if r == 1 { c0 = collectives() } // the first run warms up
                let s = Date()
                for meta in metas { tok = try forward([tok], meta, argmax: true) }
                if r > 0 { times.append(Date().timeIntervalSince(s)) }
            }
            print(String(format: "tg%d: %.1f tok/s (median of %d, %.2f ms per token)", decode, Double(decode) / median(times), repetitions,
                         median(times) * 1000 / Double(decode))
                  + collectiveShare(since: c0, passes: decode * repetitions, of: times.reduce(0, +)))
        }
        if parts.contains("batch") {
            let tooSmall = ValidationError("KV cache too small for \(batch) x \(context) tokens; raise --kv-cache-memory")
            let ids = (0..<batch).map { 2 + $0 }
            // Fill every sequence's context (not timed), in chunks that fit the prefill path.
            for s in ids {
                guard layout.grow(s, computed: 0, newTokens: context) else { throw tooSmall }
                try forward(randomTokens(context), layout.metadata([(s, context, 0)]))
                layout.computed(s, context)
            }
            for s in ids { guard layout.grow(s, computed: context, newTokens: 1) else { throw tooSmall } }
            let meta = layout.metadata(ids.map { ($0, 1, context) })
            let toks = randomTokens(batch)
            try forward(toks, meta)
            var times: [Double] = [], cpu: [Double] = []
            (model as? LlamaModel)?.profiler?.reset()
            let c0 = collectives()
            for _ in 0..<max(repetitions, 5) {
                let s = Date(), c = processCPUSeconds()
                try forward(toks, meta)
                times.append(Date().timeIntervalSince(s))
                cpu.append(processCPUSeconds() - c)
            }
            let m = median(times)
            // CPU time counts the pool's spinning too, but on a shared machine it moves less than
            // wall time; with one thread it is the work itself.
            print(String(format: "batched decode step: %d sequences x %d context: %.1f ms, %.1f tok/s (CPU time %.1f ms per step)",
                         batch, context, m * 1000, Double(batch) / m, median(cpu) * 1000)
                  + collectiveShare(since: c0, passes: times.count, of: times.reduce(0, +)))
            if let p = (model as? LlamaModel)?.profiler { print("  time per kind over \(times.count) steps: \(p.summary)") }
        }
        if let tensorParallel {
            link?.send(.stop)
            tensorParallel.finish(status: 0)
        }
    }
}

/// User plus system CPU time of the whole process so far.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
