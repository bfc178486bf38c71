import Foundation
import Testing
import SwiftletTestSupport
import SwiftletEngine
import SwiftletFormats
@testable import SwiftletServer

/// GET /openapi.json: the document lists what this server serves, with the served model's limits,
/// and a property-based test (schemathesis) generated from it finds no server errors.
@Suite(.serialized) struct OpenAPITests {
    /// The schema at a `#/components/schemas/...` reference or inline.
    static func schema(_ doc: JSONValue, _ s: JSONValue) -> JSONValue {
        guard let ref = s["$ref"].string else { return s }
        return doc["components"]["schemas"][String(ref.split(separator: "/").last!)]
    }

    @Test func documentOfAGenerativeServer() async throws {
        let server = try await TestServer(model: TestPaths.stories260K, apiKey: "k")
        defer { Task { await server.stop() } }
        let (status, data) = try await server.send("GET", "/openapi.json")
        #expect(status == 200)
        let doc = try JSONValue.parse(data)
        #expect(doc["openapi"].string == "3.0.3")
        let paths = Set(try #require(doc["paths"].object).map(\.0))
        #expect(paths.isSuperset(of: ["/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize", "/v1/models",
                                      "/health", "/version", "/metrics", "/openapi.json"]))
        #expect(!paths.contains("/v1/embeddings"), "no embedding model, no embeddings route")

        // The limits are the served model's.
        let engine = try #require(server.server.generation).engine
        let completion = Self.schema(doc, doc["paths"]["/v1/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"])
        #expect(completion["required"] == ["prompt"])
        let props = completion["properties"]
        #expect(props["max_tokens"]["maximum"].int == engine.maxModelLen - 1)
        #expect(props["stop_token_ids"]["items"]["maximum"].int == engine.vocabSize - 1)
        #expect(props["logprobs"]["maximum"].int == SamplingParams.maxLogprobs)
        #expect(props["top_p"]["exclusiveMinimum"] == true)
        let chat = Self.schema(doc, doc["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"])
        #expect(chat["properties"]["logprobs"]["type"].string == "boolean")
        #expect(chat["properties"]["messages"]["minItems"].int == 1)

        // Errors are OpenAI's shape; /v1 routes need the key, the open ones do not.
        let error = doc["components"]["schemas"]["Error"]["properties"]["error"]
        #expect(error["required"] == ["message", "type", "param", "code"])
        let post = doc["paths"]["/v1/completions"]["post"]
        #expect(Self.schema(doc, post["responses"]["400"]["content"]["application/json"]["schema"])["required"] == ["error"])
        #expect(!post["responses"]["401"].isNull && !post["security"].isNull)
        #expect(doc["paths"]["/health"]["get"]["security"].isNull)
        #expect(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"].string == "bearer")
        await server.stop()
    }

    @Test func documentOfAnEmbeddingOnlyServer() throws {
        let engine = try EmbeddingEngine(model: TestPaths.fixtures.appendingPathComponent("embeddings/bert-mlm-tiny").path)
        let server = OpenAIServer(generation: nil, embeddingService: EmbeddingService(engine: engine, modelName: "tiny"),
                                  configuration: ServerConfiguration(servedModelName: "tiny"))
        let doc = server.openAPIDocument()
        let paths = Set(try #require(doc["paths"].object).map(\.0))
        #expect(paths.contains("/v1/embeddings"))
        #expect(paths.isDisjoint(with: ["/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize", "/engine/stats"]))
        let input = Self.schema(doc, doc["paths"]["/v1/embeddings"]["post"]["requestBody"]["content"]["application/json"]["schema"])
        #expect(input["properties"]["encoding_format"]["enum"] == ["float", "base64", .null])
        #expect(doc["components"]["securitySchemes"].isNull, "no API key, no security scheme")
    }

    /// schemathesis against `swiftlet serve` (stories260K with a ChatML template, so chat requests
    /// render): valid and invalid requests from the document, checked for no 5xx, documented
    /// statuses and content types, bodies matching the schemas and OpenAI-shaped errors. A
    /// context of 96 tokens keeps every generation short, `max_tokens` given or not (about 1,100
    /// cases in 20 s).
    @Test(.enabled(if: OpenAPITests.schemathesisInstalled, "schemathesis not installed; run scripts/bootstrap.sh"))
    func propertyBasedAPITestFindsNoServerErrors() async throws {
        let template = TestPaths.fixtures.appendingPathComponent("templates/chatml.jinja").path
        let (process, _, port) = try await launchServe(["--model", TestPaths.stories260K, "--chat-template", template,
                                                             "--max-model-len", "96"])
        defer { if process.isRunning { process.terminate() } }
        let (status, output) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("api_property_test.py"), "http://127.0.0.1:\(port)", "\(Self.maxExamples)", "20261202",
        ])
        print(output)
        #expect(status == 0, "\(output)")
        #expect(output.contains(" generated"), "schemathesis ran no cases: \(output)")
        process.terminate()
    }

    /// Cases per operation in schemathesis's fuzzing phase (its coverage phase adds its own).
    static let maxExamples = 50

    static let schemathesisInstalled: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import schemathesis"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? runToExit(p)) != nil else { return false }
        return p.terminationStatus == 0
    }()
}
