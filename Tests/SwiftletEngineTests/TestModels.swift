import Foundation
import SwiftletKernels
import SwiftletModels

/// Locations of the real model files the tests run.
enum TestModels {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// stories260K from `../shared/models` beside the repository (always present in CI).
    static var stories260K: String { repoRoot.deletingLastPathComponent().appendingPathComponent("shared/models/stories260K.gguf").path }

    /// SmolLM2-135M-Instruct Q4_1, installed by scripts/bootstrap.sh.
    static var smolLM2: String {
        if let p = ProcessInfo.processInfo.environment["SWIFTLET_MODEL_PATH"], !p.isEmpty { return p }
        return DefaultModel.path
    }

    static func fixture(_ name: String) -> URL {
        repoRoot.appendingPathComponent("Tests/Fixtures/reference/\(name)")
    }
}

/// Reference outputs recorded from Hugging Face transformers by scripts/make_reference_fixtures.py.
struct ReferenceFixture: Decodable {
    struct Case: Decodable {
        let prompt: String
        let prompt_ids: [Int]
        let greedy_ids: [Int]
        /// For every generated position, the five best (token, logprob) pairs.
        let top5: [[[Double]]]
    }
    let model: String
    let cases: [Case]

    static func load(_ name: String) throws -> ReferenceFixture {
        try JSONDecoder().decode(ReferenceFixture.self, from: Data(contentsOf: TestModels.fixture(name)))
    }
}
