import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SwiftletTestSupport
import SwiftletEngine
import SwiftletModels
@testable import SwiftletServer


/// POST /v1/embeddings on a real server: stories260K generates, all-MiniLM-L6-v2 embeds.
@Suite(.serialized, .enabled(if: TestPaths.miniLM != nil, "all-MiniLM-L6-v2 not installed; run scripts/bootstrap.sh"))
struct EmbeddingsRouteTests {
    static let apiKey = "embed-key"
    static let fixture = TestPaths.repoRoot.appendingPathComponent("Tests/Fixtures/embeddings/all-MiniLM-L6-v2.json").path

    static func startServer() async throws -> TestServer {
        let service = EmbeddingService(engine: try EmbeddingEngine(model: TestPaths.miniLM!), modelName: "minilm")
        return try await TestServer(model: TestPaths.stories260K, apiKey: apiKey, embeddings: service)
    }

    @Test func officialPythonClient() async throws {
        let server = try await Self.startServer()
        let (status, output) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("openai_embeddings.py"), server.baseURL + "/v1", Self.apiKey, "minilm", Self.fixture,
        ])
        print(output)
        await server.stop()
        #expect(status == 0, "\(output)")
        #expect(output.contains(" 0 failing"))
    }

    /// An embedding model given as the model is served alone, as vLLM serves a pooling model.
    @Test func embeddingModelServedAloneByTheCLI() async throws {
        let (process, output, port) = try await launchServe(["--model", TestPaths.miniLM!, "--api-key", Self.apiKey,
                                                             "--served-model-name", "minilm"])
        defer { if process.isRunning { process.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        let (status, client) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("openai_embeddings.py"), base + "/v1", Self.apiKey, "minilm", Self.fixture,
        ])
        #expect(status == 0 && client.contains(" 0 failing"), "\(client)\n\(output.text)")
        var request = URLRequest(url: URL(string: base + "/v1/completions")!)
        request.httpMethod = "POST"
        request.httpBody = Data(#"{"prompt": "Hello"}"#.utf8)
        request.setValue("Bearer \(Self.apiKey)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (body, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 400)
        #expect(String(decoding: body, as: UTF8.self).contains("does not support text generation"))
        var models = URLRequest(url: URL(string: base + "/v1/models")!)
        models.setValue("Bearer \(Self.apiKey)", forHTTPHeaderField: "Authorization")
        let (list, _) = try await URLSession.shared.data(for: models)
        let ids = ((try JSONSerialization.jsonObject(with: list) as? [String: Any])?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(ids == ["minilm"])
        kill(process.processIdentifier, SIGTERM)
        #expect(await output.waitForExit(process) == 0, "\(output.text)")
    }

    @Test func shapesEncodingsAndErrors() async throws {
        let server = try await Self.startServer()
        let auth = ["Authorization": "Bearer \(Self.apiKey)"]
        let path = "/v1/embeddings"

        let (status, body) = try await server.json("POST", path, #"{"model": "minilm", "input": ["Hello", "Bonjour"], "dimensions": 384}"#, headers: auth)
        #expect(status == 200)
        #expect(body["object"] as? String == "list" && body["model"] as? String == "minilm")
        let data = try #require(body["data"] as? [[String: Any]])
        #expect(data.map { $0["index"] as? Int } == [0, 1])
        let floats = try #require(data.first?["embedding"] as? [Double])
        #expect(floats.count == 384)
        let usage = try #require(body["usage"] as? [String: Any])
        let model = try #require(server.server.embeddingService).engine.model
        let tokens = model.tokenize("Hello").count + model.tokenize("Bonjour").count
        #expect(usage["prompt_tokens"] as? Int == tokens && usage["total_tokens"] as? Int == tokens)

        // base64 carries the same float32 values bit for bit.
        let (_, b64) = try await server.json("POST", path, #"{"input": "Hello", "encoding_format": "base64"}"#, headers: auth)
        let text = try #require(((b64["data"] as? [[String: Any]])?.first?["embedding"]) as? String)
        let decoded = Data(base64Encoded: text)!.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        #expect(decoded == floats.map { Float($0) })

        let (_, models) = try await server.json("GET", "/v1/models", "", headers: auth)
        #expect((models["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["test-model", "minilm"])

        func expectError(_ json: String, status: Int = 400, param: String?, headers: [String: String]? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let (s, data) = try await server.send("POST", path, body: Data(json.utf8), headers: headers ?? auth)
            #expect(s == status, "\(json) -> \(s) \(String(decoding: data, as: UTF8.self))", sourceLocation: sourceLocation)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            let error = try #require(object?["error"] as? [String: Any], "\(json)", sourceLocation: sourceLocation)
            #expect(Set(error.keys) == ["message", "type", "param", "code"], sourceLocation: sourceLocation)
            if let param { #expect(error["param"] as? String == param, "\(json): \(error)", sourceLocation: sourceLocation) }
        }
        try await expectError(#"{"input": "x"}"#, status: 401, param: nil, headers: [:])
        try await expectError(#"{"model": "minilm"}"#, param: "input")
        try await expectError(#"{"input": 5}"#, param: "input")
        try await expectError(#"{"input": []}"#, param: "input")
        try await expectError(#"{"input": ["a", 1]}"#, param: "input")
        try await expectError(#"{"input": [[101, 102], "a"]}"#, param: "input")
        try await expectError(#"{"input": [1.5]}"#, param: "input")
        try await expectError(#"{"input": [[]]}"#, param: "input")
        try await expectError(#"{"input": [101, 30522, 102]}"#, param: "input")
        try await expectError(#"{"input": [\#(Array(repeating: "1000", count: 257).joined(separator: ","))]}"#, param: "input")
        try await expectError(#"{"input": [\#(Array(repeating: "\"a\"", count: 2049).joined(separator: ","))]}"#, param: "input")
        try await expectError(#"{"input": "x", "encoding_format": "hex"}"#, param: "encoding_format")
        try await expectError(#"{"input": "x", "dimensions": 128}"#, param: "dimensions")
        try await expectError(#"{"input": "x", "model": "test-model"}"#, param: "model")
        await server.stop()

        // A server without an embedding model says so in the same shape.
        let plain = try await TestServer(model: TestPaths.stories260K)
        let (plainStatus, plainBody) = try await plain.send("POST", path, body: Data(#"{"input": "x"}"#.utf8))
        #expect(plainStatus == 400 && String(decoding: plainBody, as: UTF8.self).contains("does not support embeddings"))
        await plain.stop()
    }
}
