import CoreMetrics
import Foundation
import Prometheus
import SwiftletEngine

/// The server's Prometheus metrics, named like vLLM's (`swiftlet:` where vLLM has `vllm:`).
///
/// Metrics go through swift-metrics types backed by a registry of this server's own, rather
/// than the process-wide bootstrap, so several servers (as in tests) keep separate numbers.
/// Engine totals are counted in the engine; they are copied over on each scrape.
public final class ServerMetrics: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let running, waiting, swapped, kvUsage, kvTotal, kvUsed, kvFree, kvCached: CoreMetrics.Gauge
    private let promptTokens, generationTokens, prefixQueries, prefixHits, preemptions: CoreMetrics.Counter
    /// Structured outputs: constrained tokens, token masks computed, constraints compiled.
    private let structuredTokens, grammarMasks, grammarCompiles: CoreMetrics.Counter
    /// Seconds spent on constraints while sampling, and compiling them.
    private let grammarSeconds, grammarCompileSeconds: FloatingPointCounter
    /// Tensor parallelism on rank 0: collectives, bytes sent into them, seconds spent in them.
    private let collectives, collectiveBytes: CoreMetrics.Counter
    private let collectiveSeconds: FloatingPointCounter
    private let timeToFirstToken, interTokenLatency, endToEndLatency, promptLength, generationLength: Recorder
    private let lock = NSLock()
    private var exported = EngineStatistics()
    private var success: [String: CoreMetrics.Counter] = [:]

    public init(modelName: String) {
        var f = PrometheusMetricsFactory(registry: registry)
        let latencies = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]
        f.valueHistogramBuckets["swiftlet:time_to_first_token_seconds"] = latencies
        f.valueHistogramBuckets["swiftlet:inter_token_latency_seconds"] = latencies
        f.valueHistogramBuckets["swiftlet:e2e_request_latency_seconds"] = latencies
        let lengths: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]
        f.valueHistogramBuckets["swiftlet:request_prompt_tokens"] = lengths
        f.valueHistogramBuckets["swiftlet:request_generation_tokens"] = lengths
        factory = f
        let d = [("model_name", modelName)]
        func gauge(_ name: String) -> CoreMetrics.Gauge { CoreMetrics.Gauge(label: name, dimensions: d, factory: f) }
        func counter(_ name: String) -> CoreMetrics.Counter { CoreMetrics.Counter(label: name, dimensions: d, factory: f) }
        func histogram(_ name: String) -> Recorder { Recorder(label: name, dimensions: d, aggregate: true, factory: f) }
        running = gauge("swiftlet:num_requests_running")
        waiting = gauge("swiftlet:num_requests_waiting")
        swapped = gauge("swiftlet:num_requests_swapped")
        kvUsage = gauge("swiftlet:kv_cache_usage_perc")
        kvTotal = gauge("swiftlet:kv_cache_blocks_total")
        kvUsed = gauge("swiftlet:kv_cache_blocks_used")
        kvFree = gauge("swiftlet:kv_cache_blocks_free")
        kvCached = gauge("swiftlet:kv_cache_blocks_cached")
        promptTokens = counter("swiftlet:prompt_tokens_total")
        generationTokens = counter("swiftlet:generation_tokens_total")
        prefixQueries = counter("swiftlet:prefix_cache_queries_total")
        prefixHits = counter("swiftlet:prefix_cache_hits_total")
        preemptions = counter("swiftlet:num_preemptions_total")
        structuredTokens = counter("swiftlet:structured_output_tokens_total")
        grammarMasks = counter("swiftlet:structured_output_masks_total")
        grammarCompiles = counter("swiftlet:structured_output_compiles_total")
        grammarSeconds = FloatingPointCounter(label: "swiftlet:structured_output_seconds_total", dimensions: d, factory: f)
        grammarCompileSeconds = FloatingPointCounter(label: "swiftlet:structured_output_compile_seconds_total", dimensions: d, factory: f)
        collectives = counter("swiftlet:tensor_parallel_collectives_total")
        collectiveBytes = counter("swiftlet:tensor_parallel_collective_bytes_total")
        collectiveSeconds = FloatingPointCounter(label: "swiftlet:tensor_parallel_collective_seconds_total", dimensions: d, factory: f)
        timeToFirstToken = histogram("swiftlet:time_to_first_token_seconds")
        interTokenLatency = histogram("swiftlet:inter_token_latency_seconds")
        endToEndLatency = histogram("swiftlet:e2e_request_latency_seconds")
        promptLength = histogram("swiftlet:request_prompt_tokens")
        generationLength = histogram("swiftlet:request_generation_tokens")
    }

    /// Copies the engine's state and the growth of its totals since the previous call.
    public func update(from s: EngineStatistics) {
        lock.lock()
        defer { lock.unlock() }
        running.record(s.numRunning)
        waiting.record(s.numWaiting)
        swapped.record(s.numSwapped)
        kvUsage.record(s.kvUsage)
        kvTotal.record(s.kvBlocksTotal)
        kvUsed.record(s.kvBlocksUsed)
        kvFree.record(s.kvBlocksFree)
        kvCached.record(s.kvBlocksCached)
        let e = exported
        func grow(_ c: CoreMetrics.Counter, _ now: Int, _ before: Int) { if now > before { c.increment(by: now - before) } }
        grow(promptTokens, s.promptTokens, e.promptTokens)
        grow(generationTokens, s.generationTokens, e.generationTokens)
        grow(prefixQueries, s.prefixCacheQueries, e.prefixCacheQueries)
        grow(prefixHits, s.prefixCacheHits, e.prefixCacheHits)
        grow(preemptions, s.preemptions, e.preemptions)
        grow(structuredTokens, s.structuredTokens, e.structuredTokens)
        grow(grammarMasks, s.grammarMasks, e.grammarMasks)
        grow(grammarCompiles, s.grammarCompiles, e.grammarCompiles)
        grow(collectives, s.collectiveCalls, e.collectiveCalls)
        grow(collectiveBytes, s.collectiveBytes, e.collectiveBytes)
        if s.collectiveSeconds > e.collectiveSeconds { collectiveSeconds.increment(by: s.collectiveSeconds - e.collectiveSeconds) }
        if s.grammarSeconds > e.grammarSeconds { grammarSeconds.increment(by: s.grammarSeconds - e.grammarSeconds) }
        if s.grammarCompileSeconds > e.grammarCompileSeconds {
            grammarCompileSeconds.increment(by: s.grammarCompileSeconds - e.grammarCompileSeconds)
        }
        exported = s
    }

    func recordFirstToken(after seconds: Double) { timeToFirstToken.record(seconds) }
    func recordInterToken(_ seconds: Double) { interTokenLatency.record(seconds) }

    /// A finished request: its latency, lengths and why it finished.
    func recordFinished(seconds: Double, promptTokens: Int, generationTokens: Int, finishReason: String) {
        endToEndLatency.record(seconds)
        promptLength.record(promptTokens)
        generationLength.record(generationTokens)
        successCounter(finishReason).increment()
    }

    private func successCounter(_ reason: String) -> CoreMetrics.Counter {
        lock.lock()
        defer { lock.unlock() }
        let c = success[reason] ?? CoreMetrics.Counter(label: "swiftlet:request_success_total",
                                                        dimensions: [("finished_reason", reason)], factory: factory)
        success[reason] = c
        return c
    }

    /// A request given up because its client went away.
    func recordAborted() { successCounter("abort").increment() }

    /// The text exposition format.
    public func render() -> String { registry.emitToString() }
}
