import Foundation
import Testing
import SwiftletTestSupport
import SwiftletTokenizers

/// Inputs the fuzz targets (Fuzz/, scripts/fuzz.sh) crashed on, kept under Tests/Fixtures/fuzz/<target>:
/// each must now be rejected with an error.
struct TokenizerFuzzRegressionTests {
    static func inputs(_ target: String) -> [URL] {
        let dir = TestPaths.fixtures.appendingPathComponent("fuzz/\(target)")
        return ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
            .sorted { $0.path < $1.path }
    }

    @Test func tokenizerJSONCrashersAreRejected() throws {
        let files = Self.inputs("tokenizer-json")
        #expect(!files.isEmpty)
        for file in files {
            #expect(throws: TokenizerError.self, "\(file.lastPathComponent)") {
                try loadTokenizer(tokenizerJSON: file, config: nil)
            }
        }
    }

    /// The smallest form of the first crasher: a vocabulary id far beyond the entries.
    @Test func vocabularyIDBeyondTheEntriesIsMalformed() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("huge-id-\(getpid()).json")
        try Data(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 4000000000000}, "merges": []}}"#.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: TokenizerError.self) { try loadTokenizer(tokenizerJSON: url, config: nil) }
    }
}
