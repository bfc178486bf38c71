import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
import SwiftletModels
@testable import SwiftletEngine

/// Beam search recorded from Hugging Face transformers by scripts/make_sampling_fixtures.py --beam.
struct BeamFixture: Decodable {
    struct Beam: Decodable {
        let tokens: [Int]
        let score: Double
    }
    enum EarlyStopping: Decodable {
        case flag(Bool), never
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .flag(b) } else { self = .never }
        }
        var engine: BeamEarlyStopping {
            switch self {
            case .flag(true): return .always
            case .flag(false): return .heuristic
            case .never: return .never
            }
        }
    }
    struct Case: Decodable {
        let prompt: String
        let prompt_ids: [Int]
        let width: Int
        let length_penalty: Double
        let early_stopping: EarlyStopping
        let max_new_tokens: Int
        let eos: Int
        let ends_at_model_eos: Bool
        let beams: [Beam]
    }
    let cases: [Case]

    static func load() throws -> BeamFixture {
        try JSONDecoder().decode(BeamFixture.self, from: Data(contentsOf: TestPaths.reference("beam_search.json")))
    }
}

/// Beam search on the engine's shared blocks against transformers (sequences and scores), and its
/// block bookkeeping under preemption on the mock model.
@Suite(.serialized) struct BeamSearchTests {
    static func params(_ c: BeamFixture.Case) -> SamplingParams {
        var p = SamplingParams(n: c.width, bestOf: c.width, maxTokens: c.max_new_tokens, temperature: 0,
                               detokenize: false, useBeamSearch: true, lengthPenalty: c.length_penalty,
                               earlyStopping: c.early_stopping.engine)
        if !c.ends_at_model_eos {
            // The fixture ends sequences at another token; the model's own EOS is then an ordinary token.
            p.ignoreEOS = true
            p.stopTokenIDs = [c.eos]
        }
        return p
    }

    /// Its own copy: a model's scratch buffers serve one forward pass at a time, and suites run in parallel.
    static let loaded = try! loadModel(path: TestPaths.stories260K, precision: .fp32)

    @Test func beamSearchMatchesTransformers() throws {
        let loaded = Self.loaded
        let fixture = try BeamFixture.load()
        // Every case at once: the batch must not change any of them.
        let engine = try LLMEngine(model: loaded.model, cache: EngineModelTests.makeCache(blocks: 4096, blockSize: 16),
                                   tokenizer: loaded.tokenizer, config: EngineConfig(swapSpaceBytes: 0))
        for (i, c) in fixture.cases.enumerated() {
            try engine.addRequest(id: "\(i)", promptTokenIDs: c.prompt_ids, params: Self.params(c))
        }
        let results = SamplingEngineTests.run(engine)
        #expect(engine.statistics.kvBlocksUsed == 0)
        var widths = Set<Int>(), prompts = Set<String>(), finishedEarly = 0
        for (i, c) in fixture.cases.enumerated() {
            let out = try #require(results["\(i)"])
            let label = "case \(i): width \(c.width), length_penalty \(c.length_penalty), \(c.early_stopping), \(c.prompt)"
            #expect(out.outputs.map(\.tokenIDs) == c.beams.map(\.tokens), "\(label)")
            for (o, b) in zip(out.outputs, c.beams) {
                let score = BeamSearch.score(logprob: o.cumulativeLogprob, length: o.tokenIDs.count, lengthPenalty: c.length_penalty)
                #expect(abs(score - b.score) < 2e-4 * max(1, abs(b.score)), "\(label): score \(score) vs \(b.score)")
            }
            widths.insert(c.width)
            prompts.insert(c.prompt)
            if out.outputs.contains(where: { $0.finishReason == .stop }) { finishedEarly += 1 }
        }
        #expect(widths == [2, 4, 6] && prompts.count >= 5)
        #expect(finishedEarly > fixture.cases.count / 3) // hypotheses of different lengths were compared
    }

    @Test func beamsShareBlocksAndFreeDroppedOnes() throws {
        let (engine, model) = EngineSchedulingTests.makeEngine(blocks: 256, blockSize: 4, scheduler: SchedulerConfig())
        let p = SamplingParams(n: 2, bestOf: 4, maxTokens: 16, temperature: 0, ignoreEOS: true, useBeamSearch: true)
        try engine.addRequest(id: "b", promptTokenIDs: Array(3..<23), params: p)
        var sawSharing = false
        var final: RequestOutput?
        while engine.hasUnfinishedRequests {
            for o in engine.step() where o.finished { final = o }
            let m = engine.scheduler.manager
            #expect(m.validate().isEmpty)
            if m.pool.usedCount < m.logicalBlocks { sawSharing = true }
            // Never more live beams than the width.
            #expect(m.sequenceIDs.count <= 4)
        }
        #expect(sawSharing)
        #expect(model.corruptions == 0)
        #expect(engine.statistics.kvBlocksUsed == 0)
        let outs = try #require(final?.outputs)
        #expect(outs.count == 2 && outs.allSatisfy { $0.tokenIDs.count == 16 && $0.finishReason == .length })
        #expect(outs[0].cumulativeLogprob >= outs[1].cumulativeLogprob)
        // Compare with a brute-force search over the mock model's distribution: the best beam's
        // score must be at least the greedy path's.
        var context = Array(3..<23)
        var greedy = 0.0
        for _ in 0..<16 {
            let t = MockModel.greedyNext(context: context)
            greedy += SamplingEngineTests.mockLogprob(context: context, token: t)
            context.append(t)
        }
        #expect(outs[0].cumulativeLogprob >= greedy - 1e-4)
    }
}
