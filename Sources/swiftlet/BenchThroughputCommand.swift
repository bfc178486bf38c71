import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletKernels
import SwiftletModels

/// Offline throughput of the whole engine (like vLLM's benchmark_throughput with its random
/// dataset): all requests are queued at once and the wall time runs from the first step to the
/// last, prefill included.
struct BenchThroughputCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "Output tokens per second of the batching engine on random prompts (ignore-EOS, fixed lengths).")

    @OptionGroup var options: ModelOptions
    @OptionGroup(title: "Engine") var engineOptions: EngineOptions

    @Option(name: .long, help: "Number of requests.")
    var numPrompts: Int = 256

    @Option(name: .long, help: "Prompt tokens of each request (after the shared prefix, if any).")
    var inputLen: Int = 128

    @Option(name: .long, help: "Tokens generated per request (EOS ignored).")
    var outputLen: Int = 128

    @Option(name: .long, help: "Tokens of a prefix shared by every prompt (a system prompt or few-shot examples).")
    var prefixLen: Int = 0

    @Option(name: .long, help: "Seed of the random prompts.")
    var datasetSeed: UInt64 = 0

    @Flag(name: .long, inversion: .prefixedNo, help: "Run one short request first, untimed (kernel set-up, page faults).")
    var warmup = true

    func validate() throws {
        guard numPrompts > 0, inputLen > 0, outputLen > 0, prefixLen >= 0 else { throw ValidationError("counts must be positive") }
    }

    func run() throws {
        let loaded = try options.load()
        let engine = try engineOptions.makeEngine(loaded: loaded, model: options)
        let vocab = loaded.config.vocabSize
        var rng = SeededGenerator(seed: datasetSeed)
        // Ids from 100 up avoid the special tokens at the start of most vocabularies.
        func randomTokens(_ n: Int) -> [Int] { (0..<n).map { _ in Int.random(in: 100..<vocab, using: &rng) } }
        let prefix = randomTokens(prefixLen)
        let prompts = (0..<numPrompts).map { _ in prefix + randomTokens(inputLen) }
        let params = SamplingParams(maxTokens: outputLen, temperature: 0, ignoreEOS: true, detokenize: false)

        if warmup {
            try engine.addRequest(id: "warmup", promptTokenIDs: randomTokens(min(inputLen, 32)), params: SamplingParams(maxTokens: 4, temperature: 0, ignoreEOS: true, detokenize: false))
            while engine.hasUnfinishedRequests { _ = engine.step() }
        }
        let base = engine.statistics
        (loaded.model as? LlamaModel)?.profiler?.reset()
        print("\(KernelLevel.banner)")
        print("threads: \(ThreadPool.shared.size), precision: \(options.precision.rawValue), kv: \(options.kvCacheDtype.rawValue), block size: \(options.blockSize)")
        print("requests: \(numPrompts) x (\(prefixLen > 0 ? "\(prefixLen) shared + " : "")\(inputLen) prompt, \(outputLen) output tokens)")

        let start = Date()
        for (i, p) in prompts.enumerated() { try engine.addRequest(id: "b\(i)", promptTokenIDs: p, params: params) }
        var bar = ProgressBar()
        var done = 0
        var outputTokens = 0
        var firstTokens: [TimeInterval] = []
        var batchSeqs = 0
        var stepCount = 0
        while engine.hasUnfinishedRequests {
            let outs = engine.step()
            stepCount += 1
            batchSeqs += engine.scheduler.running.count
            for o in outs where o.finished {
                done += 1
                outputTokens += o.outputs.reduce(0) { $0 + $1.tokenIDs.count }
                if let f = o.metrics.firstToken { firstTokens.append(f.timeIntervalSince(start)) }
            }
            let s = engine.statistics
            bar.update(GenerationProgress(finishedRequests: done, totalRequests: numPrompts, promptTokens: s.promptTokens - base.promptTokens,
                                          generatedTokens: s.generationTokens - base.generationTokens,
                                          elapsed: Date().timeIntervalSince(start), statistics: s), force: done == numPrompts)
        }
        bar.finish()
        let elapsed = Date().timeIntervalSince(start)
        let s = engine.statistics
        let promptTokens = numPrompts * (prefixLen + inputLen)
        let hitRate = s.prefixCacheQueries - base.prefixCacheQueries == 0 ? 0 :
            Double(s.prefixCacheHits - base.prefixCacheHits) / Double(s.prefixCacheQueries - base.prefixCacheQueries)
        firstTokens.sort()
        print(String(format: "Throughput: %.2f requests/s, %.1f total tokens/s, %.1f output tokens/s",
                     Double(numPrompts) / elapsed, Double(promptTokens + outputTokens) / elapsed, Double(outputTokens) / elapsed))
        print(String(format: "elapsed %.2f s, %d steps, %.1f running requests per step on average, first token p50 %.2f s",
                     elapsed, stepCount, Double(batchSeqs) / Double(max(stepCount, 1)), firstTokens.isEmpty ? 0 : firstTokens[firstTokens.count / 2]))
        print(String(format: "time in steps %.2f s, of which forward passes (with block moves) %.2f s",
                     s.stepSeconds - base.stepSeconds, s.forwardSeconds - base.forwardSeconds))
        if let p = (loaded.model as? LlamaModel)?.profiler { print("forward time per kind: \(p.summary)") }
        print(String(format: "prompt tokens computed %d of %d, prefix cache hit rate %.1f%%, preemptions %d recompute / %d swap",
                     s.promptTokens - base.promptTokens, promptTokens, 100 * hitRate,
                     s.preemptionsRecompute - base.preemptionsRecompute, s.preemptionsSwap - base.preemptionsSwap))
    }
}
