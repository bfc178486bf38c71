import SwiftletTestSupport
import Foundation
import SwiftletKernels
import SwiftletModels

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
        try JSONDecoder().decode(ReferenceFixture.self, from: Data(contentsOf: TestPaths.reference(name)))
    }
}
