import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletModels

/// Options of the batching engine, shared by the commands that run it (vLLM's engine arguments).
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: "Tokens (prompt chunks plus decodes) run in one forward pass.")
    var maxNumBatchedTokens: Int = 2048

    @Option(name: .long, help: "Sequences that may run at once.")
    var maxNumSeqs: Int = 256

    @Option(name: .long, help: "Longest sequence, prompt plus output (default: the model's context, capped at what the KV cache holds).")
    var maxModelLen: Int?

    @Flag(name: .long, inversion: .prefixedNo, help: "Reuse the KV blocks of prompts that share a prefix.")
    var enablePrefixCaching = true

    @Flag(name: .long, inversion: .prefixedNo, help: "Split long prompts over several steps so running requests keep decoding.")
    var enableChunkedPrefill = true

    @OptionGroup var slidingWindow: SlidingWindowOptions

    @Option(name: .long, help: "Swap space for preempted requests, in GiB (a memory-mapped file; 0 = recompute only).")
    var swapSpace: Double = 4

    @Option(name: .long, help: "Preemption when the KV cache is full: auto (swap groups of several sequences, recompute single ones), swap or recompute.")
    var preemptionMode: PreemptionMode = .auto

    @Option(name: .long, help: "Request order: fcfs or priority (lower value first).")
    var schedulingPolicy: SchedulingPolicy = .fcfs

    @Option(name: .long, help: "Seconds between engine status lines on standard error (0 = none).")
    var logStatsInterval: Double = 0

    @Option(name: .long, help: "Seed for requests that bring none.")
    var seed: UInt64 = 0

    func validate() throws {
        guard maxNumBatchedTokens > 0 else { throw ValidationError("--max-num-batched-tokens must be positive") }
        guard maxNumSeqs > 0 else { throw ValidationError("--max-num-seqs must be positive") }
        guard swapSpace >= 0 else { throw ValidationError("--swap-space must not be negative") }
    }

    var config: EngineConfig {
        var config = EngineConfig(
            scheduler: SchedulerConfig(maxNumBatchedTokens: maxNumBatchedTokens, maxNumSeqs: maxNumSeqs, maxModelLen: maxModelLen,
                                       enableChunkedPrefill: enableChunkedPrefill, enablePrefixCaching: enablePrefixCaching,
                                       preemptionMode: preemptionMode, policy: schedulingPolicy),
            swapSpaceBytes: Int(swapSpace * Double(1 << 30)), seed: seed,
            logStatsInterval: logStatsInterval > 0 ? logStatsInterval : nil)
        config.freesSlidingWindowBlocks = !slidingWindow.swaFull
        return config
    }

    /// An engine over the loaded model with a cache sized by `model`'s options; logs to standard error.
    /// Under tensor parallelism `link` is rank 0's link to the other ranks.
    func makeEngine(loaded: LoadedModel, model: ModelOptions, quiet: Bool = false, link: TensorParallelLink? = nil) throws -> LLMEngine {
        let cache = try model.makeCache(for: loaded.config, kvHeads: loaded.model.cacheKVHeads,
                                        groups: config.kvCacheGroups(for: loaded.model), quiet: quiet)
        let engine = try LLMEngine(model: loaded.model, cache: cache, tokenizer: loaded.tokenizer, config: config, link: link)
        attach(to: engine, quiet: quiet)
        return engine
    }

    /// Sends the engine's status lines to standard error and describes its set-up there.
    func attach(to engine: LLMEngine, quiet: Bool = false) {
        engine.logHandler = { line in writeLogLine(line) }
        if !quiet {
            writeStandardError(
                "engine: max \(maxNumBatchedTokens) batched tokens, \(maxNumSeqs) sequences, prefix caching \(enablePrefixCaching ? "on" : "off"), preemption \(preemptionMode.rawValue); \(engine.summary)\n")
        }
    }
}

extension PreemptionMode: ExpressibleByArgument {}
extension SchedulingPolicy: ExpressibleByArgument {}

/// Writes to standard error without a newline.
func writeStandardError(_ s: String) {
    FileHandle.standardError.write(s.data(using: .utf8)!)
}

/// Writes a log line to standard error; on a terminal it first clears a progress bar being redrawn.
func writeLogLine(_ line: String) {
    writeStandardError((isatty(STDERR_FILENO) != 0 ? "\r\u{1B}[K" : "") + line + "\n")
}
