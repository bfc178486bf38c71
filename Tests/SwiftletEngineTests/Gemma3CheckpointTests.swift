import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
@testable import SwiftletModels
@testable import SwiftletEngine

/// The tiny random-weight `Gemma3ForCausalLM` of scripts/make_gemma3_family_fixture.py: a global
/// layer between two sliding ones with a 6-token window, linear rope scaling on the global layer,
/// query_pre_attn_scalar 24 for 16-wide heads, final soft-capping, norms stored without the +1.
@Suite struct Gemma3CheckpointTests {
    static let family = "gemma3"

    /// fp32, whole-prompt prefill and 5-token chunks (shorter than the window): every greedy token
    /// and top-5 logprob as transformers gives them.
    @Test func greedyTokensAndLogprobsMatchTransformers() throws {
        try FamilyFidelityTests.expectGreedyMatch(path: FamilyFidelityTests.directory(Self.family), family: Self.family)
    }

    @Test func fastPathAgreesOnTop1() throws {
        try FamilyFidelityTests.expectFastPathAgreement(path: FamilyFidelityTests.directory(Self.family), family: Self.family)
    }

    @Test func directoryIsReadAsGemma3() throws {
        let loaded = try loadModel(path: FamilyFidelityTests.directory(Self.family), precision: .fp32)
        let model = try #require(loaded.model as? Gemma3Model)
        #expect(loaded.config.slidingLayers == [true, false, true] && loaded.config.slidingWindow == 6)
        #expect(loaded.config.ropeScaling == RopeScaling(kind: .linear, factor: 2))
        #expect(abs(model.options.queryScale - 1 / Float(24).squareRoot()) < 1e-7 && model.options.finalLogitSoftcap == 8)
        #expect(model.options.normWeightOffset == 1)
        // The global layer reads the whole context: the engine must not free blocks behind the
        // window for it (it frees only when every layer has the same window).
        #expect(model.layerSlidingWindows == [6, nil, 6])
        // The directory has no template: Gemma's built-in one stands in.
        let text = try #require(loaded.chatTemplate).render(messages: [.init(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(text == "<s><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n")
        let longest = try FamilyFidelityTests.reference(Self.family).cases.map(\.prompt_ids.count).max() ?? 0
        #expect(6 < longest)
    }
}
