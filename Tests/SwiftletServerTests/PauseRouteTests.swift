import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletServer

/// POST /pause and /resume (vLLM's names): paused, requests queue and wait; resumed, they run.
@Suite(.serialized) struct PauseRouteTests {
    @Test func pausedRequestsWaitAndResumeTogether() async throws {
        let key = "pause-key"
        let server = try await TestServer(model: TestPaths.stories260K, apiKey: key)
        let auth = ["Authorization": "Bearer \(key)"]
        // State-changing routes need the key when the server has one.
        let (refused, _) = try await server.send("POST", "/pause")
        #expect(refused == 401)
        let (status, body) = try await server.json("POST", "/pause", "", headers: auth)
        #expect(status == 200 && body["paused"] as? Bool == true)
        let requests = (0..<3).map { i in
            Task {
                try await server.json("POST", "/v1/completions",
                                      #"{"prompt": "Once upon a time \#(i)", "max_tokens": 8, "temperature": 0}"#, headers: auth)
            }
        }
        // All three wait in the queue, none runs, however long it takes them to arrive.
        var stats: [String: Any] = [:]
        while (stats["num_requests_waiting"] as? Int ?? 0) < 3 {
            try await Task.sleep(for: .milliseconds(10))
            (_, stats) = try await server.json("GET", "/engine/stats", "")
        }
        #expect(stats["generation_tokens"] as? Int == 0 && stats["steps"] as? Int == 0)
        let (resumed, state) = try await server.json("POST", "/resume", "", headers: auth)
        #expect(resumed == 200 && state["paused"] as? Bool == false)
        for r in requests {
            let (s, out) = try await r.value
            let usage = out["usage"] as? [String: Any]
            #expect(s == 200 && usage?["completion_tokens"] as? Int == 8)
        }
        await server.stop()
    }
}
