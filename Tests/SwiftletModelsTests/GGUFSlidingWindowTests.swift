import Foundation
import Testing
@testable import SwiftletFormats
@testable import SwiftletModels

/// `{arch}.attention.sliding_window_pattern` read for every architecture, as llama.cpp reads it:
/// a Qwen2 or Qwen3 file converted with its sliding layers marked slides only those, and a file
/// with a window but no pattern slides every layer (Mistral).
@Suite struct GGUFSlidingWindowTests {
    static func qwen2(_ extra: [(String, GGUFValue)]) throws -> GGUFFile {
        try ModelConfigTests.gguf(ModelConfigTests.minimalKVs(architecture: "qwen2", layers: 4) + extra)
    }

    @Test func patternFlagsPickTheSlidingLayers() throws {
        // The qwen2-swa fixture's layout: two full layers, then two sliding ones of window 6.
        let flags = [false, false, true, true]
        let c = try ModelConfig(gguf: Self.qwen2([
            ("qwen2.attention.sliding_window", .uint32(6)),
            ("qwen2.attention.sliding_window_pattern", .array(flags.map { .bool($0) })),
        ]))
        #expect(c.slidingLayers == flags)
        #expect((0..<4).map { c.slidingWindow(layer: $0) } == [nil, nil, 6, 6])
    }

    @Test func aPeriodMakesEveryPeriodthLayerGlobal() throws {
        let c = try ModelConfig(gguf: Self.qwen2([
            ("qwen2.attention.sliding_window", .uint32(6)), ("qwen2.attention.sliding_window_pattern", .uint32(2)),
        ]))
        #expect((0..<4).map { c.slidingWindow(layer: $0) } == [6, nil, 6, nil])
        // llama.cpp's own model saver writes the flags as integers 0 and 1.
        let ints = try ModelConfig(gguf: Self.qwen2([
            ("qwen2.attention.sliding_window", .uint32(6)),
            ("qwen2.attention.sliding_window_pattern", .array([.uint32(0), .uint32(0), .uint32(1), .uint32(1)])),
        ]))
        #expect(ints.slidingLayers == [false, false, true, true])
    }

    @Test func noPatternSlidesEveryLayerAndNoWindowIgnoresThePattern() throws {
        let all = try ModelConfig(gguf: Self.qwen2([("qwen2.attention.sliding_window", .uint32(6))]))
        #expect(all.slidingLayers == nil && (0..<4).map { all.slidingWindow(layer: $0) } == [6, 6, 6, 6])
        // A pattern without a window has nothing to apply (llama.cpp reads neither then).
        let none = try ModelConfig(gguf: Self.qwen2([("qwen2.attention.sliding_window_pattern", .uint32(2))]))
        #expect(none.slidingWindow == nil && none.slidingLayers == nil)
    }

    @Test func malformedPatternsAreRefused() throws {
        for bad: GGUFValue in [.uint32(0), .array([.bool(true)]), .array((0..<4).map { .string("s\($0)") })] {
            let error = #expect(throws: ModelLoadError.self) {
                try ModelConfig(gguf: Self.qwen2([("qwen2.attention.sliding_window", .uint32(6)),
                                                  ("qwen2.attention.sliding_window_pattern", bad)]))
            }
            #expect(error?.description.contains("sliding_window_pattern") == true)
        }
    }
}
