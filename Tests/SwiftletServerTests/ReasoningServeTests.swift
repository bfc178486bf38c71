import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import SwiftletTestSupport
import SwiftletFormats

/// `swiftlet serve --reasoning-parser qwen3` on the tiny Qwen2 fixture: a regex makes the model
/// write `<think>...</think>` and an answer; the message carries them apart as
/// `reasoning_content` and `content`, and a stream's `delta.reasoning_content` and
/// `delta.content` add up to the same.
@Suite(.serialized) struct ReasoningServeTests {
    static let model = TestPaths.fixtures.appendingPathComponent("families/qwen2").path

    func post(_ port: Int, _ body: JSONValue) async throws -> String {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/chat/completions")!)
        request.httpMethod = "POST"
        request.httpBody = body.data()
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.timeoutInterval = 600   // a hang guard, not a speed bound
        let (data, _) = try await URLSession.shared.data(for: request)
        return String(decoding: data, as: UTF8.self)
    }

    @Test func thinkingIsSplitFromTheAnswer() async throws {
        let (process, output, port) = try await launchServe(["--model", Self.model, "--reasoning-parser", "qwen3"])
        defer { if process.isRunning { process.terminate() } }
        func request(_ regex: String, stream: Bool) -> JSONValue {
            ["messages": [["role": "user", "content": "Hi"]], "guided_regex": .string(regex), "max_tokens": 40,
             "temperature": 0, "stream": .bool(stream)]
        }
        let thinking = "<think>[a-z]{3,8}</think>[a-z]{3,8}"

        let whole = try JSONValue.parse(try await post(port, request(thinking, stream: false)))
        let message = whole["choices"].array?.first?["message"] ?? .null
        let reasoning = try #require(message["reasoning_content"].string, "\(whole) \(output.text)")
        let content = try #require(message["content"].string)
        #expect(reasoning.count >= 3 && reasoning.allSatisfy(\.isLowercase), "\(reasoning)")
        #expect(content.count >= 3 && content.allSatisfy(\.isLowercase), "\(content)")

        var streamedReasoning = "", streamedContent = "", finish: String?
        for line in try await post(port, request(thinking, stream: true)).split(separator: "\n") where line.hasPrefix("data: {") {
            let choice = try JSONValue.parse(String(line.dropFirst(6)))["choices"].array?.first ?? .null
            streamedReasoning += choice["delta"]["reasoning_content"].string ?? ""
            streamedContent += choice["delta"]["content"].string ?? ""
            finish = choice["finish_reason"].string ?? finish
        }
        #expect(streamedReasoning == reasoning && streamedContent == content && finish == "stop")

        // An answer that does not open with <think> is all content (Qwen3 without thinking).
        let plain = try JSONValue.parse(try await post(port, request("[a-z]{3,8}", stream: false)))
        let plainMessage = plain["choices"].array?.first?["message"] ?? .null
        #expect(plainMessage["reasoning_content"] == .null && (plainMessage["content"].string?.count ?? 0) >= 3, "\(plain)")
        process.terminate()
    }
}
