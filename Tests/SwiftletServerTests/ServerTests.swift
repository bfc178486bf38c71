import Foundation
import Testing
import SwiftletTestSupport
import SwiftletEngine
@testable import SwiftletServer

/// A real server on loopback, driven by the official `openai` Python package, by raw HTTP for
/// every error case, and by 200 concurrent streaming clients. Serialized: each test starts its own
/// server and the machine has few cores.
@Suite(.serialized) struct ServerTests {
    static let apiKey = "test-key-123"

    @Test func openAIPythonClientAgainstSmolLM2() async throws {
        let server = try await TestServer(model: TestPaths.smolLM2, apiKey: Self.apiKey, servedName: "smollm2")
        defer { Task { await server.stop() } }
        let (status, output) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("openai_client.py"), server.baseURL + "/v1", Self.apiKey, "smollm2",
        ])
        print(output)
        #expect(status == 0, "\(output)")
        #expect(output.contains("failing") && output.contains(" 0 failing"))
        await server.stop()
    }

    @Test func everyErrorCaseHasItsStatusAndOpenAIShape() async throws {
        let server = try await TestServer(model: TestPaths.stories260K, apiKey: Self.apiKey, maxBodyBytes: 64 << 10)
        let auth = ["Authorization": "Bearer \(Self.apiKey)"]
        let (_, models) = try await server.json("GET", "/v1/models", "", headers: auth)
        let maxLen = try #require(((models["data"] as? [[String: Any]])?.first?["max_model_len"]) as? Int)

        // A long request runs through the whole barrage of bad ones and must come out intact.
        let good = Task {
            try await server.json("POST", "/v1/completions",
                                  #"{"prompt": "Once upon a time", "max_tokens": 200, "ignore_eos": true, "temperature": 0}"#,
                                  headers: auth)
        }

        func expectError(_ method: String, _ path: String, _ body: String?, status: Int, param: String? = nil,
                         headers: [String: String]? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let (s, data) = try await server.send(method, path, body: body.map { Data($0.utf8) }, headers: headers ?? auth)
            #expect(s == status, "\(method) \(path) \(body ?? "") -> \(s) \(String(decoding: data, as: UTF8.self))",
                    sourceLocation: sourceLocation)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            let error = try #require(object?["error"] as? [String: Any], "no error object for \(path) \(body ?? "")",
                                     sourceLocation: sourceLocation)
            #expect(Set(error.keys) == ["message", "type", "param", "code"], sourceLocation: sourceLocation)
            #expect((error["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
            if let param { #expect(error["param"] as? String == param, "\(error)", sourceLocation: sourceLocation) }
        }
        let c = "/v1/completions"
        // 401: missing or wrong key; the open routes need none.
        try await expectError("GET", "/v1/models", nil, status: 401, headers: [:])
        try await expectError("POST", c, #"{"prompt": "x"}"#, status: 401, headers: ["Authorization": "Bearer nope"])
        #expect(try await server.send("GET", "/health").0 == 200)
        // 404: no such route.
        try await expectError("GET", "/v1/no-such-thing", nil, status: 404)
        // 400: malformed bodies and wrong types.
        try await expectError("POST", c, "{not json", status: 400)
        try await expectError("POST", c, "[1, 2]", status: 400)
        try await expectError("POST", c, #"{"prompt": 5}"#, status: 400, param: "prompt")
        try await expectError("POST", c, #"{"max_tokens": 4}"#, status: 400, param: "prompt")
        try await expectError("POST", c, #"{"prompt": "x", "max_tokens": "ten"}"#, status: 400, param: "max_tokens")
        try await expectError("POST", c, #"{"prompt": "x", "temperature": "hot"}"#, status: 400, param: "temperature")
        try await expectError("POST", c, #"{"prompt": "x", "stream": "yes"}"#, status: 400, param: "stream")
        try await expectError("POST", c, #"{"prompt": [1, "a"]}"#, status: 400, param: "prompt")
        try await expectError("POST", c, #"{"prompt": [1, 99999999]}"#, status: 400, param: "prompt")
        // 400: unknown model.
        try await expectError("POST", c, #"{"model": "gpt-17", "prompt": "x"}"#, status: 400, param: "model")
        // 400: max_tokens <= 0.
        try await expectError("POST", c, #"{"prompt": "x", "max_tokens": 0}"#, status: 400, param: "max_tokens")
        try await expectError("POST", c, #"{"prompt": "x", "max_tokens": -3}"#, status: 400, param: "max_tokens")
        // 400: prompt (plus max_tokens) longer than max_model_len.
        let longPrompt = "[" + Array(repeating: "1", count: maxLen + 5).joined(separator: ",") + "]"
        try await expectError("POST", c, #"{"prompt": \#(longPrompt), "max_tokens": 1}"#, status: 400, param: "prompt")
        try await expectError("POST", c, #"{"prompt": "x", "max_tokens": \#(maxLen * 2)}"#, status: 400, param: "prompt")
        // 400: parameters out of range.
        for (name, value) in [("temperature", "-1"), ("top_p", "1.5"), ("top_p", "0"), ("n", "0"), ("logprobs", "21"),
                              ("presence_penalty", "3"), ("frequency_penalty", "-2.5"), ("top_k", "-5"), ("min_p", "2"),
                              ("repetition_penalty", "0")] {
            try await expectError("POST", c, #"{"prompt": "x", "\#(name)": \#(value)}"#, status: 400, param: name)
        }
        try await expectError("POST", c, #"{"prompt": "x", "n": 2, "best_of": 1}"#, status: 400, param: "best_of")
        try await expectError("POST", c, #"{"prompt": "x", "logit_bias": {"abc": 1}}"#, status: 400, param: "logit_bias")
        // Chat: bad messages, and this model has no chat template.
        try await expectError("POST", "/v1/chat/completions", #"{"messages": []}"#, status: 400, param: "messages")
        try await expectError("POST", "/v1/chat/completions", #"{"messages": "hi"}"#, status: 400, param: "messages")
        try await expectError("POST", "/v1/chat/completions", #"{"messages": [{"role": "user", "content": "hi"}]}"#, status: 400)
        try await expectError("POST", "/detokenize", #"{"tokens": [-1]}"#, status: 400, param: "tokens")
        // 413: a body over the limit (64 KiB here), by its declared length and by its real one.
        let big = #"{"prompt": ""# + String(repeating: "a", count: 100 << 10) + #""}"#
        try await expectError("POST", c, big, status: 413)

        let (goodStatus, goodBody) = try await good.value
        #expect(goodStatus == 200)
        let usage = goodBody["usage"] as? [String: Any]
        #expect(usage?["completion_tokens"] as? Int == 200, "\(goodBody)")
        await server.stop()
    }

    @Test func fullWaitingQueueAnswers503AndOthersComplete() async throws {
        // One running sequence and room for one waiting request: a burst must overflow.
        let server = try await TestServer(model: TestPaths.stories260K, maxNumSeqs: 1, maxWaiting: 1)
        let body = #"{"prompt": "Once upon a time", "max_tokens": 300, "ignore_eos": true}"#
        let results = try await withThrowingTaskGroup(of: (Int, [String: Any]).self) { group in
            for _ in 0..<6 { group.addTask { try await server.json("POST", "/v1/completions", body) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let refused = results.filter { $0.0 == 503 }
        let served = results.filter { $0.0 == 200 }
        #expect(!refused.isEmpty && !served.isEmpty && refused.count + served.count == 6, "\(results.map(\.0))")
        for (_, r) in refused { #expect((r["error"] as? [String: Any])?["type"] as? String == "server_overloaded") }
        for (_, r) in served { #expect(((r["usage"] as? [String: Any])?["completion_tokens"]) as? Int == 300) }
        // Once the burst is over the queue takes requests again.
        #expect(try await server.json("POST", "/v1/completions", #"{"prompt": "Hi", "max_tokens": 2}"#).0 == 200)
        await server.stop()
    }

    /// Clients of non-streaming requests that hang up are aborted at once, not run to the end.
    @Test func nonStreamingClientsThatHangUpAreAborted() async throws {
        let server = try await TestServer(model: TestPaths.smolLM2, blocks: 1024)
        let (status, output) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("nonstreaming_disconnects.py"), "127.0.0.1", String(server.port), "8", "1000",
        ])
        print(output)
        #expect(status == 0 && output.contains("ok"), "\(output)")
        await server.stop()
    }

    @Test func twoHundredStreamsHalfDisconnecting() async throws {
        let server = try await TestServer(model: TestPaths.stories260K, blocks: 2048)
        let (status, output) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("disconnecting_clients.py"), "127.0.0.1", String(server.port), "test-model", "200", "48",
        ])
        print(output)
        #expect(status == 0, "\(output)")
        // The same check from this side: nothing holds a block, and the server still answers.
        let metrics = String(decoding: try await server.send("GET", "/metrics").1, as: UTF8.self)
        #expect(metricValue(metrics, "swiftlet:kv_cache_blocks_used") == 0)
        #expect(metricValue(metrics, "swiftlet:kv_cache_blocks_total") == 2048)
        #expect((metricValue(metrics, "swiftlet:request_success_total{finished_reason=\"abort\"}") ?? 0) >= 1)
        let (s, r) = try await server.json("POST", "/v1/completions", #"{"prompt": "Hi", "max_tokens": 3}"#)
        #expect(s == 200 && (r["choices"] as? [Any])?.count == 1)
        await server.stop()
    }

    @Test func metricsEndpointHasVLLMLikeNames() async throws {
        let server = try await TestServer(model: TestPaths.stories260K)
        _ = try await server.json("POST", "/v1/completions", #"{"prompt": "Once upon", "max_tokens": 5, "ignore_eos": true}"#)
        let text = String(decoding: try await server.send("GET", "/metrics").1, as: UTF8.self)
        for name in ["swiftlet:num_requests_running", "swiftlet:num_requests_waiting", "swiftlet:kv_cache_usage_perc",
                     "swiftlet:prefix_cache_queries_total", "swiftlet:prefix_cache_hits_total", "swiftlet:num_preemptions_total",
                     "swiftlet:prompt_tokens_total", "swiftlet:generation_tokens_total",
                     "swiftlet:time_to_first_token_seconds_count", "swiftlet:inter_token_latency_seconds_count",
                     "swiftlet:e2e_request_latency_seconds_count"] {
            #expect(text.contains(name), "\(name) missing")
        }
        #expect(metricValue(text, "swiftlet:generation_tokens_total") == 5)
        #expect(metricValue(text, "swiftlet:e2e_request_latency_seconds_count") == 1)
        #expect(metricValue(text, "swiftlet:inter_token_latency_seconds_count") ?? 0 >= 1)
        let (s, version) = try await server.json("GET", "/version", "")
        #expect(s == 200 && version["version"] as? String == OpenAIServer.version)
        let (ts, tokens) = try await server.json("POST", "/tokenize", #"{"prompt": "Once upon a time"}"#)
        let ids = try #require(tokens["tokens"] as? [Int])
        #expect(ts == 200 && tokens["count"] as? Int == ids.count && !ids.isEmpty)
        let (_, text2) = try await server.json("POST", "/detokenize", #"{"tokens": \#(ids)}"#)
        #expect((text2["prompt"] as? String)?.contains("Once upon a time") == true)
        let page = String(decoding: try await server.send("GET", "/").1, as: UTF8.self)
        #expect(page.contains("<canvas id=\"map\"") && !page.contains("http://") && !page.contains("https://"))
        await server.stop()
    }
}
