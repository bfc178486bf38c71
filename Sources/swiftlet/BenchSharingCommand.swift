import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletKernels
import SwiftletModels

/// The paper's Fig. 15 on this engine: KV blocks that block sharing saves for parallel sampling and
/// beam search, and what it does to throughput.
///
/// For each decoding mode and width, the same requests (ShareGPT-like log-normal lengths, random
/// prompt tokens, EOS ignored) run twice from a fresh cache of the same size: with forks sharing
/// their parent's blocks (copy-on-write), and with sharing off, where every fork copies the blocks it
/// shares before it next writes (what a system without block sharing has to do). Memory saved is
/// measured on the sharing run after every step as 1 - (distinct blocks in use) / (blocks the
/// sequences' tables name), summed over steps (a time average weighted by memory), as the paper
/// reports it. Throughput is generated tokens (every sample or beam) over wall time.
struct BenchSharingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sharing",
        abstract: "KV memory saved by block sharing for parallel sampling and beam search, and the throughput with sharing on and off.")

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case parallel, beam
    }

    @OptionGroup var options: ModelOptions
    @OptionGroup(title: "Engine") var engineOptions: EngineOptions

    @Option(name: .long, help: "Decoding modes to run (comma-separated: parallel, beam).")
    var modes: String = "parallel,beam"

    @Option(name: .long, help: "Widths to run: parallel samples n, or beam width (comma-separated).")
    var widths: String = "2,4,6"

    @Option(name: .long, help: "Requests per run.")
    var numPrompts: Int = 8

    @Option(name: .long, help: "Mean prompt length (ShareGPT in the paper's Fig. 11: 161).")
    var inputMean: Double = 161

    @Option(name: .long, help: "Mean output length (ShareGPT in the paper's Fig. 11: 338).")
    var outputMean: Double = 338

    @Option(name: .long, help: "Seed of the lengths, prompts and samples.")
    var datasetSeed: UInt64 = 0

    @Flag(name: .long, help: "Only the sharing runs (memory figures, no throughput comparison).")
    var sharingOnly = false

    struct Run {
        var seconds = 0.0
        var generated = 0
        var physical = 0
        var logical = 0
        var peakPhysical = 0
        var peakLogical = 0
        var steps = 0
        var preemptions = 0
        var saved: Double { logical > 0 ? 1 - Double(physical) / Double(logical) : 0 }
        var throughput: Double { seconds > 0 ? Double(generated) / seconds : 0 }
    }

    func validate() throws {
        guard numPrompts > 0 else { throw ValidationError("--num-prompts must be positive") }
        for m in modes.split(separator: ",") where Mode(rawValue: String(m)) == nil {
            throw ValidationError("unknown mode '\(m)' (parallel or beam)")
        }
        for w in widths.split(separator: ",") where (Int(w) ?? 0) < 1 { throw ValidationError("widths must be positive integers") }
    }

    func run() throws {
        let loaded = try options.load()
        var rng = SeededGenerator(seed: datasetSeed)
        let inputs = BenchMemoryCommand.lengths(count: numPrompts, mean: inputMean, sigma: 0.9, range: 4...1024, rng: &rng)
        let outputs = BenchMemoryCommand.lengths(count: numPrompts, mean: outputMean, sigma: 0.8, range: 4...1024, rng: &rng)
        let vocab = loaded.config.vocabSize
        let prompts = inputs.map { n in (0..<n).map { _ in Int.random(in: 100..<vocab, using: &rng) } }
        print("threads: \(ThreadPool.shared.size), precision: \(options.precision.rawValue), kv: \(options.kvCacheDtype.rawValue), block size: \(options.blockSize)")
        print(String(format: "requests: %d, prompt mean %.1f (max %d), output mean %.1f (max %d)", numPrompts,
                     Double(inputs.reduce(0, +)) / Double(numPrompts), inputs.max()!,
                     Double(outputs.reduce(0, +)) / Double(numPrompts), outputs.max()!))
        var rows: [String] = []
        for m in modes.split(separator: ",").compactMap({ Mode(rawValue: String($0)) }) {
            for w in widths.split(separator: ",").compactMap({ Int($0) }) {
                var params: [SamplingParams] = []
                for i in 0..<numPrompts {
                    switch m {
                    case .parallel:
                        params.append(SamplingParams(n: w, maxTokens: outputs[i], temperature: 1.0, seed: datasetSeed &+ UInt64(i),
                                                     ignoreEOS: true, detokenize: false))
                    case .beam:
                        params.append(SamplingParams(n: 1, bestOf: w, maxTokens: outputs[i], temperature: 0, ignoreEOS: true,
                                                     detokenize: false, useBeamSearch: true))
                    }
                }
                let shared = try measure(loaded: loaded, prompts: prompts, params: params, sharing: true, label: "\(m.rawValue) \(w) sharing")
                let label = "\(m == .parallel ? "parallel sampling n" : "beam search width") = \(w)"
                var row = String(format: "| %@ | %.1f%% | %d / %d | %.1f", label, 100 * shared.saved, shared.peakPhysical,
                                 shared.peakLogical, shared.throughput)
                if !sharingOnly {
                    let copied = try measure(loaded: loaded, prompts: prompts, params: params, sharing: false, label: "\(m.rawValue) \(w) no sharing")
                    row += String(format: " | %.1f | %+.1f%% | %d / %d |", copied.throughput,
                                  100 * (shared.throughput / max(copied.throughput, 1e-9) - 1), shared.preemptions, copied.preemptions)
                } else {
                    row += " | | | |"
                }
                rows.append(row)
            }
        }
        print("")
        print("| decoding | KV blocks saved by sharing (time average) | peak blocks in use / named by tables | tok/s sharing | tok/s no sharing | throughput change | preemptions sharing / no sharing |")
        print("|---|---|---|---|---|---|---|")
        for r in rows { print(r) }
        print("(paper, Fig. 15: parallel sampling saves 6.1-9.8%, beam search 37.6-55.2%)")
    }

    /// One run from an empty cache.
    private func measure(loaded: LoadedModel, prompts: [[Int]], params: [SamplingParams], sharing: Bool, label: String) throws -> Run {
        let engine = try engineOptions.makeEngine(loaded: loaded, model: options, quiet: true)
        engine.sharesForkedBlocks = sharing
        // An untimed short request first: kernel set-up and page faults.
        try engine.addRequest(id: "warmup", promptTokenIDs: Array(prompts[0].prefix(16)),
                              params: SamplingParams(maxTokens: 2, temperature: 0, ignoreEOS: true, detokenize: false))
        while engine.hasUnfinishedRequests { _ = engine.step() }
        let base = engine.statistics
        var run = Run()
        let start = Date()
        for (i, p) in prompts.enumerated() { try engine.addRequest(id: "s\(i)", promptTokenIDs: p, params: params[i]) }
        var bar = ProgressBar()
        var done = 0
        while engine.hasUnfinishedRequests {
            for o in engine.step() where o.finished { done += 1 }
            let m = engine.scheduler.manager
            run.physical += m.pool.usedCount
            run.logical += m.logicalBlocks
            run.peakPhysical = max(run.peakPhysical, m.pool.usedCount)
            run.peakLogical = max(run.peakLogical, m.logicalBlocks)
            run.steps += 1
            let s = engine.statistics
            bar.update(GenerationProgress(finishedRequests: done, totalRequests: prompts.count, promptTokens: s.promptTokens - base.promptTokens,
                                          generatedTokens: s.generationTokens - base.generationTokens,
                                          elapsed: Date().timeIntervalSince(start), statistics: s), force: done == prompts.count)
        }
        bar.finish()
        run.seconds = Date().timeIntervalSince(start)
        let s = engine.statistics
        run.generated = s.generationTokens - base.generationTokens
        run.preemptions = s.preemptions - base.preemptions
        print(String(format: "%@: %d steps, %.1f s, %d tokens generated, %.1f tok/s, blocks in use %.1f%% of those named (time average), preemptions %d",
                     label, run.steps, run.seconds, run.generated, run.throughput, 100 * (1 - run.saved), run.preemptions))
        return run
    }
}
