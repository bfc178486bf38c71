import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SwiftletTestSupport
@testable import SwiftletServer

/// Clients that vanish at scale, and the HTTP front's bounds (connections, head and body sizes,
/// idle connections), against a real server on stories260K.
@Suite(.serialized) struct HangUpAndLimitsTests {
    /// 200 non-streaming and 200 streaming clients hanging up at seeded random points (mid-body,
    /// queued, generating; reset or clean close) under a KV cache they contend for: within 1 s
    /// of the last hang-up no block and no request is left, and the server still answers. The
    /// server is a process of its own: in this one, other tests' work held up its accepts for
    /// minutes on a loaded machine (connections timed out in the listen backlog).
    @Test func fourHundredClientsHangingUpLeaveNothingHeld() async throws {
        // 48 blocks of 16 tokens (495,000 bytes at stories260K's 10,309 per block): about four of
        // these requests (up to 200 prompt and 200 output tokens) fit at once, so most of them
        // wait in the queue when their client leaves.
        let (process, output, port) = try await launchServe(["--model", TestPaths.stories260K, "--kv-cache-memory", "495000",
                                                             "--swap-space", "0"])
        defer { if process.isRunning { process.terminate() } }
        #expect(output.text.contains("48 blocks of 16 tokens"), "\(output.text)")
        let (status, client) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("hangups_at_scale.py"), "127.0.0.1", String(port), "200", "200", "15",
        ])
        print(client)
        #expect(status == 0 && client.contains("ok"), "\(client)")
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        let metrics = String(decoding: data, as: UTF8.self)
        #expect(metricValue(metrics, "swiftlet:kv_cache_blocks_used") == 0)
        #expect((metricValue(metrics, "swiftlet:request_success_total{finished_reason=\"abort\"}") ?? 0) >= 100)
    }

    @Test func connectionHeaderAndBodyLimits() async throws {
        let server = try await TestServer(model: TestPaths.stories260K, maxBodyBytes: 16 << 10, maxConnections: 3,
                                          maxHeaderBytes: 4 << 10, idleTimeout: nil)
        let (status, output) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("http_limits.py"), "127.0.0.1", String(server.port), "connections",
            "3", String(4 << 10), String(16 << 10),
        ])
        print(output)
        #expect(status == 0 && output.contains("ok"), "\(output)")
        await server.stop()
    }

    @Test func idleConnectionsAreClosed() async throws {
        let server = try await TestServer(model: TestPaths.stories260K, idleTimeout: .milliseconds(500))
        let (status, output) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("http_limits.py"), "127.0.0.1", String(server.port), "idle", "0.5",
        ])
        print(output)
        #expect(status == 0 && output.contains("ok"), "\(output)")
        await server.stop()
    }
}

/// Queued requests whose clients leave, on a model slow enough (SmolLM2) that a long request
/// keeps the only sequence slot for the whole check. The server is a process of its own: in this
/// one, other tests can hold up its request handlers for as long as the long request takes.
@Suite(.serialized) struct QueuedHangUpTests {
    @Test func queuedClientsThatHangUpAreAbortedWhileQueued() async throws {
        let (process, output, port) = try await launchServe(["--model", TestPaths.smolLM2, "--max-num-seqs", "1",
                                                             "--swap-space", "0"])
        defer { if process.isRunning { process.terminate() } }
        let (status, client) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("queued_hangups.py"), "127.0.0.1", String(port), "8",
        ])
        print(client)
        #expect(status == 0 && client.contains("ok"), "\(client)\n\(output.text)")
    }
}
