import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
import SwiftletTokenizers
@testable import SwiftletEngine

/// Gemma 3 270M (Q4_K_M GGUF) against transformers, on the prompts of
/// scripts/make_gemma3_reference.py: plain, chat, non-ASCII, code and two long ones, one past the
/// 512-token sliding window. Runs when `scripts/bootstrap.sh --with-gemma3` installed the file.
@Suite(.serialized, .enabled(if: TestPaths.gemma3IfInstalled != nil, "gemma-3-270m-q4_k_m.gguf not found; run scripts/bootstrap.sh --with-gemma3"))
struct Gemma3FidelityTests {
    static let fixture = "gemma3-270m-q4_k_m.json"

    /// fp32 compute: greedy tokens identical up to each prompt's first near-tie, top-5 logprobs within 1e-3.
    @Test func fp32MatchesTransformers() throws {
        let r = try FidelityTests.freeRunning(modelPath: TestPaths.gemma3, fixture: Self.fixture, tolerance: 1e-3)
        print("Gemma 3 fp32: \(r)")
        #expect(r.positions >= 10 * 8, "\(r)")
    }

    /// The default compute (quantized matmuls, bf16 KV cache), teacher-forced.
    @Test func fastPathAgreesOnTop1() throws {
        let r = try FidelityTests.teacherForced(modelPath: TestPaths.gemma3, fixture: Self.fixture, precision: .fast)
        print("Gemma 3 fast path (teacher-forced): \(r)")
        #expect(Double(r.top1Agree) >= 0.95 * Double(r.positions), "\(r)")
    }

    /// The file has no template: the built-in Gemma one renders the fixture's chat prompts, and
    /// `<end_of_turn>` ends generation beside `<eos>`.
    @Test func builtinTemplateAndStopTokens() throws {
        let path = TestPaths.gemma3
        let loaded = try loadModel(path: path, precision: .fast)
        let template = try #require(loaded.chatTemplate)
        let cases = try ReferenceFixture.load(Self.fixture).cases
        let conversations: [[ChatMessage]] = [
            [ChatMessage(role: "user", content: "What is the capital of France?")],
            [ChatMessage(role: "system", content: "You are a concise assistant. Answer in one sentence."),
             ChatMessage(role: "user", content: "Why is the sky blue?")],
            [ChatMessage(role: "user", content: "Hi! Can you help me with math?"),
             ChatMessage(role: "assistant", content: "Of course! What would you like to know?"),
             ChatMessage(role: "user", content: "What is 17 times 23?")],
        ]
        let chats = cases.filter { $0.prompt.hasPrefix("<start_of_turn>") }
        #expect(chats.count == conversations.count)
        for (messages, k) in zip(conversations, chats) {
            let text = try template.render(messages: messages, addGenerationPrompt: true)
            #expect(text == "<bos>" + k.prompt)
            #expect(loaded.tokenizer.encode(text, addSpecialTokens: false, parseSpecial: true) == k.prompt_ids)
        }
        let endOfTurn = try #require(loaded.tokenizer.tokenID("<end_of_turn>"))
        let c = loaded.config
        let cache = try PagedKVCache(numBlocks: 4, blockSize: 16, numLayers: c.numLayers, numKVHeads: c.numKVHeads, headDim: c.headDim, dtype: .bf16)
        let engine = try LLMEngine(model: loaded.model, cache: cache, tokenizer: loaded.tokenizer, config: EngineConfig(swapSpaceBytes: 0))
        #expect(engine.eosTokenIDs.isSuperset(of: [1, endOfTurn]))
    }
}
