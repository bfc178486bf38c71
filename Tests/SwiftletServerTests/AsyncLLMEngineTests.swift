import Foundation
import Testing
import SwiftletTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftletEngine
import SwiftletModels
@testable import SwiftletServer

/// The engine loop on its own thread: streams, aborts through cancellation, the block map.
@Suite(.serialized) struct AsyncLLMEngineTests {
    @Test func cancellingTheConsumerAbortsAndFreesBlocks() async throws {
        let (engine, loaded) = try makeEngine(model: TestPaths.smolLM2, blocks: 256)
        let prompt = loaded.tokenizer.encode("Once upon a time")
        let params = SamplingParams(maxTokens: 4000, temperature: 0, ignoreEOS: true)
        let stream = try await engine.generate(id: "a", promptTokenIDs: prompt, params: params)
        let consumer = Task {
            var seen = 0
            for await _ in stream { seen += 1 }
            return seen
        }
        // Once the request is generating, the engine is paused: then it cannot run to its end
        // however long this task is held up by the rest of the test run. The check and the pause
        // are adjacent with no suspension between them, so at most a step or two runs after it.
        var s = engine.statistics
        let deadline = ContinuousClock.now + .seconds(600)
        while s.generationTokens == 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
            s = engine.statistics
        }
        try #require(s.generationTokens > 0, "the request never started generating")
        engine.pause()
        let map = await engine.blockMap()
        #expect(map.requestIDs == ["a"])
        #expect(map.count(.owned) > 0 && map.owners.contains(0))
        // Every held block is attributed to the request, and no free or cached one is.
        #expect(map.states.count == 256)
        #expect(zip(map.states, map.owners).allSatisfy { ($0 == .owned || $0 == .shared) == ($1 == 0) })
        // Cancelling the consumer aborts the request (its stream's termination handler posts the
        // abort before the consumer ends), and an abort is handled while paused.
        consumer.cancel()
        _ = await consumer.value
        let after = await engine.blockMap()
        #expect(after.requestIDs.isEmpty && after.count(.owned) == 0 && after.count(.shared) == 0)
        #expect(engine.numOutstandingRequests == 0)
        s = engine.statistics
        #expect(s.generationTokens < 4000, "the request ran to the end instead of being aborted")
        // Resumed, the engine takes new work again.
        engine.resume()
        var tokens = 0
        for await out in try await engine.generate(id: "b", promptTokenIDs: prompt,
                                                   params: SamplingParams(maxTokens: 3, temperature: 0)) {
            tokens += out.outputs[0].newTokenIDs.count
        }
        #expect(tokens == 3)
        engine.shutdown()
    }

    @Test func streamsDeliverEveryTokenAndRefusalsThrow() async throws {
        let (engine, loaded) = try makeEngine(model: TestPaths.stories260K, blocks: 256)
        let prompt = loaded.tokenizer.encode("Once upon a time")
        let params = SamplingParams(n: 2, maxTokens: 20, temperature: 0.9, seed: 3, ignoreEOS: true)
        var counts = [0, 0]
        var texts = ["", ""]
        var finals: [CompletionOutput] = []
        for await out in try await engine.generate(id: "b", promptTokenIDs: prompt, params: params) {
            for c in out.outputs {
                counts[c.index] += c.newTokenIDs.count
                texts[c.index] += c.newText
            }
            if out.finished { finals = out.outputs }
        }
        #expect(counts == [20, 20])
        #expect(finals.map(\.text) == texts && finals.allSatisfy { $0.finishReason == .length })
        await #expect(throws: EngineError.self) {
            _ = try await engine.generate(id: "c", promptTokenIDs: [], params: params)
        }
        #expect(engine.numOutstandingRequests == 0)
        engine.shutdown()
        await #expect(throws: AsyncEngineError.shutDown) {
            _ = try await engine.generate(id: "d", promptTokenIDs: prompt, params: params)
        }
    }
}

/// `swiftlet serve` as a process (on the default model, as no --model is given): SIGTERM ends it
/// with status 0, cutting a running stream short.
@Suite struct ServeCommandTests {
    @Test func sigtermShutsDownGracefully() async throws {
        let (process, output, port) = try await launchServe(["--kv-cache-memory", "32000000", "--swap-space", "0"])
        defer { if process.isRunning { process.terminate() } }
        // The stream and the signal come from a client process of its own: this test's task can be
        // held up by other tests long enough for the stream to reach its length first.
        let (status, client) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("abort_on_sigterm.py"), "127.0.0.1", String(port),
            String(process.processIdentifier),
        ])
        #expect(status == 0 && client.contains("ok"), "\(client)\n\(output.text)")
        #expect(await output.waitForExit(process) == 0, "\(output.text)")
    }

    /// With --shutdown-timeout, SIGTERM lets a running (non-streaming) request finish while new
    /// requests get 503, then the server exits 0.
    @Test func sigtermDrainsRunningRequestsWithinTheShutdownTimeout() async throws {
        let (process, output, port) = try await launchServe(["--kv-cache-memory", "32000000", "--swap-space", "0",
                                                             "--shutdown-timeout", "1800"])
        defer { if process.isRunning { process.terminate() } }
        // The signal and the probes come from a client process of their own: this test's task
        // can be held up by other tests long enough for the running request to end first.
        let (status, client) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("drain_on_sigterm.py"), "127.0.0.1", String(port),
            String(process.processIdentifier), "300",
        ])
        #expect(status == 0 && client.contains("ok"), "\(client)\n\(output.text)")
        #expect(await output.waitForExit(process) == 0, "\(output.text)")
    }

    /// Bad serve options are refused with a message naming them, before anything loads.
    @Test func badServeOptionsAreRefused() async throws {
        let binary = try #require(TestPaths.swiftletBinary, "build the swiftlet binary first")
        let cases: [([String], String)] = [
            (["--shutdown-timeout=-1"], "--shutdown-timeout must be zero or more seconds"),
            (["--model", TestPaths.miniLM ?? "/nonexistent", "--embedding-model", "/nonexistent"],
             TestPaths.miniLM == nil ? "no such file" : "--embedding-model cannot go with an embedding --model"),
        ]
        for (arguments, message) in cases {
            let (status, output) = try await runProcess(binary, ["serve", "--port", "0"] + arguments)
            #expect(status != 0, "\(arguments)")
            #expect(output.contains(message), "\(arguments): \(output)")
        }
    }
}
