import SwiftletAPI
import Testing
import SwiftletEngine
@testable import SwiftletServer

/// The request limits `finalize` and `samplingParams` enforce before a request reaches the engine.
struct SamplingRequestTests {
    /// A `max_tokens` near Int.max overflowed the context check (prompt + max_tokens) and was
    /// accepted; found probing the limits the OpenAPI document states.
    @Test func maxTokensNearIntMaxExceedsTheContext() throws {
        for maxTokens in [Int.max, Int.max - 1, Int.max - 4] {
            #expect {
                _ = try finalize(SamplingParams(maxTokens: maxTokens), promptLength: 5, maxModelLen: 96, vocabSize: 512, promptParam: "prompt")
            } throws: { error in
                (error as? OpenAIError)?.code == "context_length_exceeded" && (error as? OpenAIError)?.status == 400
            }
        }
        let fits = try finalize(SamplingParams(maxTokens: 91), promptLength: 5, maxModelLen: 96, vocabSize: 512, promptParam: "prompt")
        #expect(fits.maxTokens == 91)
        #expect(throws: OpenAIError.self) {
            try finalize(SamplingParams(maxTokens: 92), promptLength: 5, maxModelLen: 96, vocabSize: 512, promptParam: "prompt")
        }
    }

    @Test func choicesAreCappedAt128() throws {
        for (field, value) in [("n", 129), ("best_of", 1000)] {
            let fields = RequestFields(object: .object([(field, .int(value))]))
            #expect { _ = try samplingParams(fields, chat: false) } throws: { ($0 as? OpenAIError)?.param == field }
        }
        let ok = try samplingParams(RequestFields(object: ["n": 128, "best_of": 128]), chat: false)
        #expect(ok.n == 128 && ok.bestOf == 128)
    }
}
