import Testing
import Foundation
@testable import SwiftletModels
import SwiftletFormats

@Test func readsStories260K() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let f = try GGUFFile(path: root.deletingLastPathComponent().appendingPathComponent("shared/models/stories260K.gguf").path)
    #expect(f.version == 3)
    #expect(f[arch: "block_count"]?.int == 5)
    #expect(f.metadata["tokenizer.ggml.tokens"]?.array?.count == 512)
    #expect(f.tensorInfo("token_embd.weight")?.shape == [64, 512])
}
