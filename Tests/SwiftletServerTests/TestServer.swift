import Foundation
import Testing
import SwiftletTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftletEngine
import SwiftletKernels
import SwiftletModels
@testable import SwiftletServer
import SwiftletTokenizers

/// An engine on a real model with a KV cache of `blocks` blocks.
func makeEngine(model path: String, blocks: Int, blockSize: Int = 16, maxNumSeqs: Int = 256, maxWaiting: Int = 1024,
                precision: ComputePrecision = .fast) throws -> (AsyncLLMEngine, LoadedModel) {
    let loaded = try loadModel(path: path, precision: precision)
    let c = loaded.config
    let cache = try PagedKVCache(numBlocks: blocks, blockSize: blockSize, numLayers: c.numLayers, numKVHeads: c.numKVHeads,
                                 headDim: c.headDim, dtype: .bf16)
    let config = EngineConfig(scheduler: SchedulerConfig(maxNumSeqs: maxNumSeqs), swapSpaceBytes: 0)
    let engine = try LLMEngine(model: loaded.model, cache: cache, tokenizer: loaded.tokenizer, config: config)
    return (AsyncLLMEngine(engine: engine, maxWaitingRequests: maxWaiting), loaded)
}

/// A real server on a free loopback port, run in-process until `stop()`.
final class TestServer: @unchecked Sendable {
    let server: OpenAIServer
    let port: Int
    private let task: Task<Void, any Error>

    init(model path: String, blocks: Int = 512, maxNumSeqs: Int = 256, maxWaiting: Int = 1024, apiKey: String? = nil,
         maxBodyBytes: Int = 8 << 20, servedName: String = "test-model", embeddings: EmbeddingService? = nil,
         maxConnections: Int = 1024, maxHeaderBytes: Int = 64 << 10, idleTimeout: Duration? = .seconds(60)) async throws {
        let (engine, loaded) = try makeEngine(model: path, blocks: blocks, maxNumSeqs: maxNumSeqs, maxWaiting: maxWaiting)
        let server = OpenAIServer(
            generation: GenerationService(engine: engine, tokenizer: loaded.tokenizer, chatTemplate: loaded.chatTemplate),
            embeddingService: embeddings,
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0, apiKey: apiKey, servedModelName: servedName,
                                               maxRequestBodyBytes: maxBodyBytes, maxConnections: maxConnections,
                                               maxHeaderBytes: maxHeaderBytes, idleTimeout: idleTimeout))
        self.server = server
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        task = Task { try await server.run(gracefulShutdownSignals: []) { portContinuation.yield($0) } }
        var bound = 0
        for await p in ports {
            bound = p
            break
        }
        port = bound
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func stop() async {
        server.shutdown()
        _ = await task.result
    }

    /// One request; returns the status and the body.
    func send(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        request.httpBody = body
        // A hang guard, not a speed bound: at the scalar kernel level a generation takes minutes.
        request.timeoutInterval = 1800
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, data)
    }

    func json(_ method: String, _ path: String, _ text: String, headers: [String: String] = [:]) async throws -> (Int, [String: Any]) {
        let (status, data) = try await send(method, path, body: Data(text.utf8), headers: headers)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return (status, object)
    }
}

/// `swiftlet serve` as a child process on a free port: the process, its output and the port, once
/// it says it is serving (however long loading takes).
func launchServe(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Process, OutputCollector, Int) {
    let binary = try #require(TestPaths.swiftletBinary, "build the swiftlet binary first")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["serve", "--port", "0"] + arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let output = OutputCollector()
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    output.attach(to: process) { text in
        if let r = text.range(of: #"on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
            portContinuation.yield(Int(text[r].split(separator: ":").last!)!)
        }
    } onEnd: { portContinuation.finish() }
    try process.run()
    var port = 0
    for await p in ports {
        port = p
        break
    }
    try #require(port > 0, "the server did not start: \(output.text)")
    return (process, output, port)
}

/// Starts `process` and blocks until it exits, without Foundation's polling `waitUntilExit` (see
/// `OutputCollector.attach`).
func runToExit(_ process: Process) throws {
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    exited.wait()
}

/// Runs a command to completion; returns its exit status and everything it printed.
func runProcess(_ executable: String, _ arguments: [String]) async throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = OutputCollector()
    output.attach(to: process)
    try process.run()
    let status = await output.waitForExit(process)
    return (status, output.text)
}

/// Collects a child process's standard output and error on a thread of its own (blocking reads:
/// Foundation's readability handlers are not dependable on Linux).
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    /// Left when the output has closed.
    private let done = DispatchGroup()
    /// Left when the process has exited.
    private let exited = DispatchGroup()
    private var onText: ((String) -> Void)?

    /// Routes the process's output here; `onText` sees the whole output so far after each read,
    /// `onEnd` runs when the output closes.
    func attach(to process: Process, onText: ((String) -> Void)? = nil, onEnd: (@Sendable () -> Void)? = nil) {
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        self.onText = onText
        let handle = pipe.fileHandleForReading
        // Foundation's waitUntilExit polls its run loop, which on any thread but the main one
        // has no sources and returns at once: waiting that way took over a third of the test
        // suite's CPU time. The handler is set before the process starts, so it cannot be missed.
        exited.enter()
        process.terminationHandler = { [exited] _ in exited.leave() }
        done.enter()
        Thread.detachNewThread {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                self.append(chunk)
                self.onText?(self.text)
            }
            onEnd?()
            self.done.leave()
        }
    }

    /// Waits for the process to end and its output to be read.
    func waitForExit(_ process: Process) async -> Int32 {
        await withCheckedContinuation { c in
            Thread.detachNewThread {
                self.exited.wait()
                self.done.wait()
                c.resume(returning: process.terminationStatus)
            }
        }
    }

    func append(_ d: Data) {
        lock.lock()
        data.append(d)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The value of one sample in a Prometheus text exposition.
func metricValue(_ text: String, _ name: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
        if let v = line.split(separator: " ").last.flatMap({ Double($0) }) { return v }
    }
    return nil
}
