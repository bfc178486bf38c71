import Foundation
import SwiftletKernels
import SwiftletModels
import SwiftletTokenizers

/// Why `AsyncLLMEngine` turned a request away before the engine saw it.
public enum AsyncEngineError: Error, Equatable, CustomStringConvertible {
    /// The waiting queue already holds as many requests as it may.
    case queueFull(limit: Int)
    /// The engine is stopping or has stopped.
    case shutDown

    public var description: String {
        switch self {
        case .queueFull(let limit): return "the waiting queue is full (\(limit) requests)"
        case .shutDown: return "the engine is shutting down"
        }
    }
}

/// Runs an `LLMEngine` on a thread of its own and hands each request's outputs to an `AsyncStream`.
///
/// The engine is not thread-safe, so everything that touches it (adding, aborting, stepping,
/// snapshots) happens on the loop thread; other threads only post commands. The loop sleeps when
/// there is nothing to do and wakes on the next command. Dropping or cancelling a request's stream
/// aborts the request, so its blocks are free by the next step: that is how a vanished HTTP
/// client stops costing anything.
public final class AsyncLLMEngine: @unchecked Sendable {
    private enum Command {
        case add(id: String, prompt: [Int], params: SamplingParams, priority: Int, cacheSalt: String?, arrival: Date,
                 continuation: AsyncStream<RequestOutput>.Continuation,
                 accepted: CheckedContinuation<Void, any Error>)
        case abort(String)
        case blockMap(CheckedContinuation<KVBlockMap, Never>)
        case pause(Bool)
    }

    /// Longest prompt plus output the engine accepts.
    public let maxModelLen: Int
    public let vocabSize: Int
    public let tokenizer: (any Tokenizer)?
    /// Most requests that may wait for admission (queued or preempted) before new ones are refused.
    public let maxWaitingRequests: Int
    /// The engine's constraint compiler (thread-safe): compiling a request's constraint here,
    /// before `generate`, reports a bad one to the caller and keeps compile time off the engine
    /// thread, which then finds it in the cache.
    public let structuredOutputCompiler: StructuredOutputCompiler?

    private let engine: LLMEngine
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var inbox: [Command] = []
    private var stopping = false
    /// Set by `drain`: new requests are refused while the running ones finish.
    private var draining = false
    private var outstanding = 0
    private var latest: EngineStatistics
    private var latestFailure: String?
    /// Set when the loop thread has ended; `waitUntilStopped` callers wait on `stopWaiters`.
    private var loopEnded = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    // Touched only by the loop thread.
    /// Set by `pause()`: no steps run, commands are still handled.
    private var paused = false
    private var streams: [String: AsyncStream<RequestOutput>.Continuation] = [:]
    /// Steps run since the heap's free pages were last handed back (`HeapRelease`): they are
    /// released when the engine goes idle, and under unbroken load every `heapReleaseInterval`.
    private var stepsSinceHeapRelease = 0
    private var lastHeapRelease = ContinuousClock.now
    private static let heapReleaseInterval = Duration.seconds(10)

    /// Takes ownership of `engine`: nothing else may use it afterwards.
    public init(engine: LLMEngine, maxWaitingRequests: Int = 1024) {
        self.engine = engine
        maxModelLen = engine.maxModelLen
        vocabSize = engine.modelConfig.vocabSize
        tokenizer = engine.tokenizer
        structuredOutputCompiler = engine.structuredOutputCompiler
        self.maxWaitingRequests = maxWaitingRequests
        latest = engine.statistics
        // The thread keeps the engine alive until `shutdown()` ends the loop.
        let thread = Thread { self.loop() }
        thread.name = "swiftlet-engine"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The statistics as of the latest step.
    public var statistics: EngineStatistics {
        condition.lock()
        defer { condition.unlock() }
        return latest
    }

    /// Why the engine cannot run anything any more (a tensor-parallel rank died or stopped
    /// answering); nil while it can. Every request was ended with finish reason `error`.
    public var failure: String? {
        condition.lock()
        defer { condition.unlock() }
        return latestFailure
    }

    /// Requests accepted and not yet finished.
    public var numOutstandingRequests: Int {
        condition.lock()
        defer { condition.unlock() }
        return outstanding
    }

    /// Queues a request. Returns once the engine accepted it; the stream then yields an output per
    /// step that advanced it and finishes after the final one. Throws the engine's `EngineError`
    /// for a request it refuses, or `AsyncEngineError`.
    public func generate(id: String, promptTokenIDs: [Int], params: SamplingParams, priority: Int = 0,
                         cacheSalt: String? = nil) async throws -> AsyncStream<RequestOutput> {
        let (stream, continuation) = AsyncStream.makeStream(of: RequestOutput.self, bufferingPolicy: .unbounded)
        continuation.onTermination = { [weak self] reason in
            if case .cancelled = reason { self?.abort(id) }
        }
        try await withCheckedThrowingContinuation { (accepted: CheckedContinuation<Void, any Error>) in
            condition.lock()
            defer { condition.unlock() }
            if stopping || draining {
                accepted.resume(throwing: AsyncEngineError.shutDown)
                return
            }
            if outstanding - latest.numRunning >= maxWaitingRequests {
                accepted.resume(throwing: AsyncEngineError.queueFull(limit: maxWaitingRequests))
                return
            }
            outstanding += 1
            inbox.append(.add(id: id, prompt: promptTokenIDs, params: params, priority: priority, cacheSalt: cacheSalt,
                              arrival: Date(), continuation: continuation, accepted: accepted))
            condition.signal()
        }
        return stream
    }

    /// Aborts a request wherever it is; its stream ends with an output whose finish reason is `abort`.
    public func abort(_ id: String) {
        post(.abort(id))
    }

    /// Stops running steps once the current one ends, until `resume()`. Commands are still handled
    /// while paused: requests are queued, aborted ones free their blocks at once, and block maps
    /// are taken. Requests in flight keep their state and go on from where they were on `resume()`
    /// (vLLM's `pause_generation`); this is also how a test holds a request mid-flight without
    /// depending on how fast the machine is. Commands are handled in the order they are posted, so
    /// anything posted after this call sees the engine paused.
    public func pause() {
        post(.pause(true))
    }

    /// Runs steps again after `pause()`.
    public func resume() {
        post(.pause(false))
    }

    /// The KV block map, taken between two steps.
    public func blockMap() async -> KVBlockMap {
        await withCheckedContinuation { post(.blockMap($0)) }
    }

    /// Refuses new requests and waits until the accepted ones have finished, or until `timeout`
    /// has passed; `shutdown()` then aborts whatever is left.
    public func drain(upTo timeout: Duration) async {
        condition.lock()
        draining = true
        condition.unlock()
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        // Checked every few milliseconds: the engine thread would otherwise have to signal the
        // async side at every finished request.
        while numOutstandingRequests > 0 && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Aborts everything still running, refuses new requests and ends the loop thread.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// Returns once the loop thread has ended after `shutdown()` (and, under tensor
    /// parallelism, has told the other ranks to stop).
    public func waitUntilStopped() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            condition.lock()
            defer { condition.unlock() }
            if loopEnded { c.resume() } else { stopWaiters.append(c) }
        }
    }

    private func post(_ command: Command) {
        condition.lock()
        inbox.append(command)
        condition.signal()
        condition.unlock()
    }

    // MARK: The loop

    private func loop() {
        while true {
            condition.lock()
            if inbox.isEmpty && !stopping && !hasWork && stepsSinceHeapRelease > 0 {
                // About to sleep: what the finished requests freed goes back to the system, so
                // the resident set does not keep whatever the busiest moment touched.
                condition.unlock()
                releaseHeap()
                condition.lock()
            }
            // Under tensor parallelism an idle engine still pings the other ranks about once a
            // second, so that one that died is noticed (and reported) without a request.
            var idle = false
            while inbox.isEmpty && !stopping && !hasWork {
                if engine.isTensorParallel && engine.failure == nil {
                    if !condition.wait(until: Date().addingTimeInterval(1)) && inbox.isEmpty && !stopping && !hasWork {
                        idle = true
                        break
                    }
                } else {
                    condition.wait()
                }
            }
            let commands = inbox
            inbox = []
            let stop = stopping
            condition.unlock()

            if idle { engine.heartbeat() }
            for c in commands { handle(c) }
            if stop {
                for id in Array(streams.keys) { if let out = engine.abort(id) { deliver(out) } }
                engine.stopWorkers()
                condition.lock()
                for c in inbox { refuseAfterStop(c) }
                inbox = []
                latest = engine.statistics
                loopEnded = true
                let waiters = stopWaiters
                stopWaiters = []
                condition.unlock()
                for w in waiters { w.resume() }
                return
            }
            if hasWork {
                let outputs = engine.step()
                // A failure is visible (to /health) before the streams it ended are: a client
                // that sees its stream end with an error and asks at once finds it.
                if let f = engine.failure?.description {
                    condition.lock()
                    latestFailure = f
                    condition.unlock()
                }
                for out in outputs { deliver(out) }
                stepsSinceHeapRelease += 1
                if lastHeapRelease.duration(to: .now) >= Self.heapReleaseInterval { releaseHeap() }
            }
            let s = engine.statistics
            let failure = engine.failure?.description
            condition.lock()
            latest = s
            latestFailure = failure
            condition.unlock()
        }
    }

    /// Whether a step has anything to do (loop thread only).
    private var hasWork: Bool { !paused && engine.hasUnfinishedRequests }

    private func releaseHeap() {
        HeapRelease.releaseFreeMemory()
        stepsSinceHeapRelease = 0
        lastHeapRelease = .now
    }

    private func handle(_ command: Command) {
        switch command {
        case let .add(id, prompt, params, priority, salt, arrival, continuation, accepted):
            do {
                try engine.addRequest(id: id, promptTokenIDs: prompt, params: params, priority: priority, cacheSalt: salt,
                                      arrival: arrival)
                streams[id] = continuation
                accepted.resume()
            } catch {
                finishOutstanding()
                continuation.finish()
                accepted.resume(throwing: error)
            }
        case .abort(let id):
            if let out = engine.abort(id) { deliver(out) }
        case .blockMap(let reply):
            reply.resume(returning: engine.blockMap())
        case .pause(let on):
            paused = on
        }
    }

    private func refuseAfterStop(_ command: Command) {
        switch command {
        case let .add(_, _, _, _, _, _, continuation, accepted):
            outstanding -= 1
            continuation.finish()
            accepted.resume(throwing: AsyncEngineError.shutDown)
        case .abort, .pause: break
        case .blockMap(let reply): reply.resume(returning: engine.blockMap())
        }
    }

    private func deliver(_ out: RequestOutput) {
        guard let c = streams[out.requestID] else { return }
        c.yield(out)
        if out.finished {
            streams[out.requestID] = nil
            finishOutstanding()
            c.finish()
        }
    }

    private func finishOutstanding() {
        condition.lock()
        outstanding -= 1
        condition.unlock()
    }
}
