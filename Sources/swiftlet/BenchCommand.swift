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
        let cache = try options.makeCache(for: c, kvHeads: model.cacheKVHeads)
        let bs = cache.blockSize
        // Under tensor parallelism every pass goes to the other ranks first, as the engine sends it.
        let link = tensorParallel?.link
        link?.send(.setup(numBlocks: cache.numBlocks, blockSize: bs, numSwapBlocks: 0))
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
        func table(_ first: Int, _ tokens: Int) -> [Int32] { (0..<((tokens + bs - 1) / bs)).map { Int32(first + $0) } }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        print("\(KernelLevel.banner)")
        print("threads: \(ThreadPool.shared.size), precision: \(options.precision.rawValue), kv: \(options.kvCacheDtype.rawValue), block size: \(bs)")

        if parts.contains("prefill") {
            let t = table(0, prefill)
            guard t.count <= cache.numBlocks else { throw ValidationError("KV cache too small for \(prefill) tokens") }
            let toks = randomTokens(prefill)
            let meta = AttentionMetadata.build(sequences: [(prefill, 0, t)], blockSize: bs)
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
            let t = table(0, decode + 1)
            guard t.count <= cache.numBlocks else { throw ValidationError("KV cache too small for \(decode) tokens") }
            var times: [Double] = []
            var c0 = collectives()
            for r in 0...repetitions {
                var tok: Int32 = Int32(loaded.tokenizer.bosTokenID ?? 1)
                if r == 1 { c0 = collectives() } // the first run warms up
                let s = Date()
                for p in 0..<decode {
                    let meta = AttentionMetadata.build(sequences: [(1, p, t)], blockSize: bs)
                    tok = try forward([tok], meta, argmax: true)
                }
                if r > 0 { times.append(Date().timeIntervalSince(s)) }
            }
            print(String(format: "tg%d: %.1f tok/s (median of %d, %.2f ms per token)", decode, Double(decode) / median(times), repetitions,
                         median(times) * 1000 / Double(decode))
                  + collectiveShare(since: c0, passes: decode * repetitions, of: times.reduce(0, +)))
        }
        if parts.contains("batch") {
            let per = (context + 1 + bs - 1) / bs
            guard per * batch <= cache.numBlocks else { throw ValidationError("KV cache too small for \(batch) x \(context) tokens; raise --kv-cache-memory") }
            let tables = (0..<batch).map { table($0 * per, context + 1) }
            // Fill every sequence's context (not timed), in chunks that fit the prefill path.
            for s in 0..<batch {
                let meta = AttentionMetadata.build(sequences: [(context, 0, tables[s])], blockSize: bs)
                try forward(randomTokens(context), meta)
            }
            let meta = AttentionMetadata.build(sequences: tables.map { (1, context, $0) }, blockSize: bs)
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
