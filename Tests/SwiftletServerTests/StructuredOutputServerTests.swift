import Foundation
import SwiftletAPI
import Testing
import SwiftletTestSupport
import SwiftletFormats
import SwiftletGrammar
@testable import SwiftletServer

/// Structured outputs through the HTTP API: how each form of a request reads (unit), and the real
/// `openai` client against SmolLM2 on loopback (Tests/ServerClients/openai_structured.py: 34
/// schemas and Pydantic models validated with `jsonschema`, vLLM's guided_* and
/// structured_outputs fields, the 400s).
@Suite(.serialized) struct StructuredOutputServerTests {
    static func read(_ body: String) throws -> StructuredOutputRequest? {
        try StructuredOutputRequest.read(RequestFields(body: Data(body.utf8)))
    }

    static func param(of body: String) -> String? {
        do {
            _ = try read(body)
            return nil
        } catch let e as OpenAIError {
            return e.status == 400 ? e.param ?? "(none)" : "status \(e.status)"
        } catch {
            return "\(error)"
        }
    }

    @Test func everyFormReadsToItsConstraint() throws {
        #expect(try Self.read(#"{"prompt": "x"}"#) == nil)
        #expect(try Self.read(#"{"response_format": {"type": "text"}}"#) == nil)
        #expect(try Self.read(#"{"response_format": {"type": "json_object"}}"#)?.spec == .jsonObject)
        // Keys keep the order sent (the order the output's keys are generated in); spacing goes.
        let schema = #"{"response_format": {"type": "json_schema", "json_schema": {"name": "p", "strict": true, "#
            + #""schema": {"type": "object", "properties": {"z": {"type": "integer"}, "a": {"type": "string"}}}}}}"#
        let canonical = #"{"type":"object","properties":{"z":{"type":"integer"},"a":{"type":"string"}}}"#
        #expect(try Self.read(schema) == StructuredOutputRequest(spec: .jsonSchema(canonical), param: "response_format"))
        // The same schema as text (vLLM accepts both) compiles to the same cache entry.
        let asText = #"{"guided_json": "{ \"type\": \"object\", \"properties\": {\"z\": {\"type\": \"integer\"}, \"a\": {\"type\": \"string\"}} }"}"#
        #expect(try Self.read(asText)?.spec == .jsonSchema(canonical))
        #expect(try Self.read(#"{"guided_regex": "a+b"}"#) == StructuredOutputRequest(spec: .regex("a+b"), param: "guided_regex"))
        #expect(try Self.read(#"{"guided_choice": ["x", "y"]}"#)?.spec == .choice(["x", "y"]))
        #expect(try Self.read(#"{"guided_grammar": "root ::= \"a\""}"#)?.spec == .gbnf(#"root ::= "a""#))
        #expect(try Self.read(#"{"structured_outputs": {"regex": "[0-9]+"}}"#)
                == StructuredOutputRequest(spec: .regex("[0-9]+"), param: "structured_outputs"))
        #expect(try Self.read(#"{"structured_outputs": {"json_object": true, "disable_fallback": true}}"#)?.spec == .jsonObject)
        #expect(try Self.read(#"{"structured_outputs": {"json": {"type": "string"}}}"#)?.spec == .jsonSchema(#"{"type":"string"}"#))
        #expect(try Self.read(#"{"guided_json": true}"#)?.spec == .jsonSchema("true"))
    }

    @Test func whatCannotBeEnforcedIsA400NamingTheField() {
        #expect(Self.param(of: #"{"guided_json": {"type": "object"}, "guided_regex": "a"}"#) == "guided_regex")
        #expect(Self.param(of: #"{"response_format": {"type": "json_object"}, "guided_choice": ["a"]}"#) == "guided_choice")
        #expect(Self.param(of: #"{"structured_outputs": {"regex": "a", "choice": ["b"]}}"#) == "structured_outputs.choice")
        #expect(Self.param(of: #"{"response_format": {"type": "yaml"}}"#) == "response_format")
        #expect(Self.param(of: #"{"response_format": {"type": "json_schema"}}"#) == "response_format")
        #expect(Self.param(of: #"{"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}"#) == "response_format")
        #expect(Self.param(of: #"{"response_format": "json"}"#) == "response_format")
        #expect(Self.param(of: #"{"guided_json": "{not json"}"#) == "guided_json")
        #expect(Self.param(of: #"{"guided_json": [1, 2]}"#) == "guided_json")
        #expect(Self.param(of: #"{"guided_choice": []}"#) == "guided_choice")
        #expect(Self.param(of: #"{"guided_choice": ["a", 1]}"#) == "guided_choice")
        #expect(Self.param(of: #"{"guided_regex": 5}"#) == "guided_regex")
        #expect(Self.param(of: #"{"guided_whitespace_pattern": "[ ]?"}"#) == "guided_whitespace_pattern")
        #expect(Self.param(of: #"{"structured_outputs": {"structural_tag": "{}"}}"#) == "structured_outputs")
    }

    @Test func generateCommandTakesEachConstraint() async throws {
        let binary = try #require(TestPaths.swiftletBinary, "build the swiftlet binary first")
        let base = [binary, "generate", "--model", TestPaths.stories260K, "--prompt", "Once upon a time", "--max-tokens", "40"]
        let (s1, choice) = try await runProcess("/usr/bin/env", base + ["--choice", "the red ball", "--choice", "a green frog"])
        #expect(s1 == 0, "\(choice)")
        #expect(choice.contains("the red ball\n") || choice.contains("a green frog\n"), "\(choice)")
        let grammar = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-test-\(UUID()).gbnf")
        try #"root ::= "[" [0-9]{1,3} ("," [0-9]{1,3}){2} "]""#.write(to: grammar, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: grammar) }
        let (s2, list) = try await runProcess("/usr/bin/env", base + ["--grammar", grammar.path])
        #expect(s2 == 0 && list.range(of: #"\[[0-9]{1,3}(,[0-9]{1,3}){2}\]\n"#, options: .regularExpression) != nil, "\(list)")
        let (s5, regex) = try await runProcess("/usr/bin/env", base + ["--regex", "[a-z]{3,6} [0-9]{2}"])
        #expect(s5 == 0 && regex.range(of: #"(^|\n)[a-z]{3,6} [0-9]{2}\n"#, options: .regularExpression) != nil, "\(regex)")
        let schema = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-test-\(UUID()).json")
        try #"{"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99}}, "required": ["n"], "additionalProperties": false}"#
            .write(to: schema, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: schema) }
        let (s6, json) = try await runProcess("/usr/bin/env", base + ["--json-schema", schema.path])
        #expect(s6 == 0 && json.range(of: #"\{\s*"n"\s*:\s*[0-9]{1,2}\s*\}\n"#, options: .regularExpression) != nil, "\(json)")
        let (s3, both) = try await runProcess("/usr/bin/env", base + ["--regex", "a+", "--choice", "b"])
        #expect(s3 != 0 && both.contains("at most one of"), "\(both)")
        let (s4, bad) = try await runProcess("/usr/bin/env", base + ["--grammar", "/no/such/file"])
        #expect(s4 != 0 && bad.contains("cannot read"), "\(bad)")
    }

    @Test func openAIClientGetsValidJSONForEverySchema() async throws {
        let model = try #require(TestPaths.smolLM2IfInstalled, "SmolLM2 is not installed (scripts/bootstrap.sh)")
        let server = try await TestServer(model: model, apiKey: "k", servedName: "smollm2")
        let start = Date()
        let (status, output) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("openai_structured.py"), server.baseURL + "/v1", "k", "smollm2",
        ])
        print(output)
        print(String(format: "openai_structured.py: %.1f s", Date().timeIntervalSince(start)))
        #expect(status == 0, "\(output)")
        #expect(output.contains("34 schemas, 0 failing"))
        let stats = server.server.generation!.engine.statistics
        #expect(stats.structuredTokens > 0 && stats.grammarCompiles >= 34 && stats.grammarSeconds > 0)
        let metrics = String(decoding: try await server.send("GET", "/metrics").1, as: UTF8.self)
        #expect(metricValue(metrics, "swiftlet:structured_output_tokens_total") == Double(stats.structuredTokens), "\(metrics)")
        #expect(metricValue(metrics, "swiftlet:structured_output_compiles_total") == Double(stats.grammarCompiles))
        #expect((metricValue(metrics, "swiftlet:structured_output_seconds_total") ?? 0) > 0)
        await server.stop()
    }
}
