import Foundation
import Testing
import SwiftletTestSupport
import SwiftletKernels
@testable import SwiftletModels
import SwiftletFormats

/// Compares the dequantizers with the Python `gguf` package's output stored next to the fixture.
///
/// The comparison is on bit patterns, with no tolerance: the Swift loops perform the same float32
/// operations in the same order as numpy (no fused multiply-add), so every value must match to the
/// last bit, including the sign of zero.
struct DequantizeFixtureTests {
    static let tensorNames = [
        "tensor.f32", "tensor.f16", "tensor.bf16", "tensor.q4_0", "tensor.q4_1", "tensor.q5_0", "tensor.q5_1",
        "tensor.q8_0", "tensor.q2_k", "tensor.q3_k", "tensor.q4_k", "tensor.q5_k", "tensor.q6_k", "tensor.cube",
    ]

    @Test(arguments: tensorNames)
    func matchesPythonBitForBit(_ name: String) throws {
        let file = try GGUFFile(path: TestPaths.gguf("types.gguf"))
        let (info, bytes) = try file.data(name)
        let expected = try TestPaths.expectedFloats(name)
        #expect(expected.count == info.elementCount)
        let got = try dequantize(info.type, bytes, count: info.elementCount)
        #expect(got.count == expected.count)
        let mismatches = zip(got, expected).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
        #expect(mismatches.isEmpty, "\(name) (\(info.type)): \(mismatches.count) values differ, first at \(mismatches.first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")")
    }

    @Test func everyDequantizableTypeIsCovered() throws {
        let file = try GGUFFile(path: TestPaths.gguf("types.gguf"))
        #expect(Set(file.tensors.map(\.type)) == Set(supportedDequantizeTypes))
    }

    @Test func pointerAPIWritesExactlyCountFloats() throws {
        let file = try GGUFFile(path: TestPaths.gguf("types.gguf"))
        let (info, bytes) = try file.data("tensor.q4_k")
        let n = info.elementCount
        var out = [Float](repeating: .nan, count: n + 1)
        try out.withUnsafeMutableBufferPointer { try dequantize(.q4_K, bytes.baseAddress!, count: n, into: $0.baseAddress!) }
        #expect(out[n].isNaN)
        // Dequantizing one block at a time gives the same values as the whole tensor at once.
        let first = try dequantize(.q4_K, UnsafeRawBufferPointer(rebasing: bytes[0..<144]), count: 256)
        #expect(first.map(\.bitPattern) == out[0..<256].map(\.bitPattern))
    }

    @Test func unsupportedTypesThrow() {
        let bytes = [UInt8](repeating: 0, count: 1024)
        for type in [GGMLType.q8_1, .q8_K, .i8, .i16, .i32, .i64, .f64] {
            #expect(!type.canDequantize)
            bytes.withUnsafeBytes { raw in
                #expect(throws: DequantizeError.unsupportedType(type)) { try dequantize(type, raw, count: type.blockSize) }
                #expect(throws: DequantizeError.unsupportedType(type)) {
                    var out = [Float](repeating: 0, count: type.blockSize)
                    try dequantize(type, raw.baseAddress!, count: type.blockSize, into: &out)
                }
            }
        }
        let message = DequantizeError.unsupportedType(.q8_K).description
        #expect(message.contains("Q8_K") && message.contains("unsupported"))
    }

    @Test func partialBlocksAndShortSourcesThrow() {
        let bytes = [UInt8](repeating: 0, count: 64)
        bytes.withUnsafeBytes { raw in
            #expect(throws: DequantizeError.partialBlock(type: .q4_0, count: 31)) { try dequantize(.q4_0, raw, count: 31) }
            #expect(throws: DequantizeError.partialBlock(type: .f32, count: -1)) { try dequantize(.f32, raw, count: -1) }
            #expect(throws: DequantizeError.sourceTooSmall(type: .q8_0, count: 64, needed: 68, available: 64)) {
                try dequantize(.q8_0, raw, count: 64)
            }
            #expect((try? dequantize(.q8_0, raw, count: 0)) == [])
        }
        #expect(DequantizeError.partialBlock(type: .q4_K, count: 100).description.contains("256-element blocks"))
    }

    @Test func halfConversionIsExactForEveryBitPattern() {
        for bits in 0...UInt16.max {
            let mine = halfBitsToFloat(bits)
            let reference = Float(Float16(bitPattern: bits))
            if reference.isNaN {
                #expect(mine.isNaN)
            } else if mine.bitPattern != reference.bitPattern {
                Issue.record("half 0x\(String(bits, radix: 16)): \(mine) != \(reference)")
                return
            }
        }
    }

    @Test func stories260KDequantizesAsStored() throws {
        let file = try GGUFFile(path: TestPaths.stories260K)
        for info in file.tensors {
            let bytes = file.data(of: info)
            let values = try dequantize(info.type, bytes, count: info.elementCount)
            let raw = (0..<info.elementCount).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) }
            #expect(values.map(\.bitPattern) == raw)
        }
    }

    /// Optional real-model check against per-tensor checksums of SmolLM2's tensors as the Python
    /// package dequantizes them (written by scripts/make_gguf_fixtures.py when the model is present).
    /// Runs only when the model file is available locally. Debug builds are slow, so it checks the
    /// non-layer tensors (the Q8_0 embedding, the final norm) and the first and last layers, which
    /// cover every type in the file.
    @Test(.enabled(if: TestPaths.smolLM2IfInstalled != nil, "SmolLM2-135M-Instruct.Q4_1.gguf not found; set SWIFTLET_MODEL_DIR"))
    func smolLM2MatchesPythonChecksums() throws {
        let file = try GGUFFile(path: TestPaths.smolLM2IfInstalled!)
        let url = TestPaths.fixtures.appendingPathComponent("gguf/expected/smollm2-q4_1-checksums.json")
        let json = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [String]])
        #expect(json.count == file.tensors.count)
        let checked = file.tensors.filter { !$0.name.hasPrefix("blk.") || $0.name.hasPrefix("blk.0.") || $0.name.hasPrefix("blk.29.") }
        #expect(Set(checked.map(\.type)) == [.f32, .q4_1, .q8_0])
        for info in checked {
            let values = try dequantize(info.type, file.data(of: info), count: info.elementCount)
            let sums = bitChecksums(values)
            #expect(json[info.name] == [String(sums.0), String(sums.1)], "\(info.name) (\(info.type))")
        }
    }

    /// The wrapping sums of the bit patterns, plain and weighted by position (1-based), which the
    /// fixture script computes the same way with numpy's uint64 arithmetic.
    private func bitChecksums(_ values: [Float]) -> (UInt64, UInt64) {
        values.withUnsafeBufferPointer { v in
            var plain: UInt64 = 0, weighted: UInt64 = 0
            var i = 0
            while i < v.count {
                let b = UInt64(v[i].bitPattern)
                plain &+= b
                i += 1
                weighted &+= b &* UInt64(i)
            }
            return (plain, weighted)
        }
    }
}
