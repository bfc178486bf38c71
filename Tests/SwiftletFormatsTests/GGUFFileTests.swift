import Foundation
import Testing
import SwiftletKernels
@testable import SwiftletFormats
import SwiftletTestSupport

struct GGUFFileTests {
    let file: GGUFFile

    init() throws {
        file = try GGUFFile(path: TestPaths.gguf("types.gguf"))
    }

    @Test func header() {
        #expect(file.version == 3)
        #expect(file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        #expect(file.metadata["general.architecture"] == .string("fixture"))
        #expect(file.metadata["general.alignment"] == .uint32(64))
    }

    @Test func scalarValuesOfEveryType() {
        let m = file.metadata
        #expect(m["test.uint8"] == .uint8(255))
        #expect(m["test.int8"] == .int8(-128))
        #expect(m["test.uint16"] == .uint16(65535))
        #expect(m["test.int16"] == .int16(-32768))
        #expect(m["test.uint32"] == .uint32(.max))
        #expect(m["test.int32"] == .int32(.min))
        #expect(m["test.float32"] == .float32(0.1))
        #expect(m["test.uint64"] == .uint64(.max))
        #expect(m["test.int64"] == .int64(.min))
        #expect(m["test.float64"] == .float64(-1e300))
        #expect(m["test.bool_true"] == .bool(true))
        #expect(m["test.bool_false"] == .bool(false))
        #expect(m["test.string"] == .string("plain ascii"))
        #expect(m["test.unicode"] == .string("héllo wörld — 日本語 🦙"))
        #expect(m["test.empty_string"] == .string(""))
    }

    @Test func accessorsConvertWidths() {
        let m = file.metadata
        #expect(m["test.uint8"]?.int == 255)
        #expect(m["test.int64"]?.int == Int.min)
        // UInt64.max does not fit an Int, so it must not wrap to -1.
        #expect(m["test.uint64"]?.int == nil)
        #expect(m["test.float32"]?.double == Double(Float(0.1)))
        #expect(m["test.uint32"]?.double == 4294967295)
        #expect(m["test.bool_true"]?.bool == true)
        #expect(m["test.string"]?.int == nil)
        #expect(m["test.unicode"]?.string == "héllo wörld — 日本語 🦙")
    }

    @Test func arrays() {
        let m = file.metadata
        #expect(m["test.array_int32"] == .array([.int32(1), .int32(-2), .int32(3)]))
        #expect(m["test.array_uint8"] == .array([.uint8(0), .uint8(1), .uint8(255)]))
        #expect(m["test.array_float32"] == .array([.float32(0.5), .float32(-1.25)]))
        #expect(m["test.array_string"] == .array([.string("a"), .string("ü"), .string("")]))
        #expect(m["test.array_bool"] == .array([.bool(true), .bool(false), .bool(true)]))
    }

    @Test func nestedArrays() {
        let expected: GGUFValue = .array([
            .array([.int32(1), .int32(2)]),
            .array([.string("x"), .string("yz"), .string("ñ")]),
            .array([.array([.bool(true)]), .array([.bool(false), .bool(true)])]),
        ])
        #expect(file.metadata["test.array_nested"] == expected)
    }

    @Test func keysKeepFileOrder() throws {
        #expect(file.metadataKeys.count == 23)
        #expect(Set(file.metadataKeys) == Set(file.metadata.keys))
        let json = try metadataJSON()
        #expect(file.metadataKeys == (json["keys"] as? [String])?.filter { !$0.hasPrefix("GGUF.") })
    }

    @Test func tensorInfosMatchThePythonReader() throws {
        let json = try metadataJSON()
        let expected = try #require(json["tensors"] as? [[String: Any]])
        #expect(file.tensors.count == expected.count)
        for (info, e) in zip(file.tensors, expected) {
            #expect(info.name == e["name"] as? String)
            #expect(info.type.description == e["type"] as? String)
            #expect(info.shape == e["shape"] as? [Int])
            #expect(file.dataOffset + info.offset == e["offset"] as? Int)
            #expect(info.offset % 64 == 0)
            #expect(info.byteCount == info.type.byteCount(elements: info.elementCount))
            #expect(file.data(of: info).count == info.byteCount)
        }
    }

    @Test func tensorLookupAndData() throws {
        let q8 = try #require(file.tensorInfo("tensor.q8_0"))
        #expect(q8.type == .q8_0)
        #expect(q8.shape == [256, 2])
        #expect(q8.byteCount == 2 * 8 * 34)
        #expect(file.tensorInfo("no.such.tensor") == nil)
        #expect(throws: ModelLoadError.self) { try file.data("no.such.tensor") }

        // The 3-D tensor was numpy shape (4, 3, 2) of 0..<24: GGML lists dimensions innermost first.
        let (cube, bytes) = try file.data("tensor.cube")
        #expect(cube.shape == [2, 3, 4])
        #expect(cube.elementCount == 24)
        let values = (0..<24).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        #expect(values == (0..<24).map(Float.init))
    }

    @Test func archSubscript() {
        #expect(file[arch: "anything"] == nil)
        #expect(file.metadata["general.architecture"]?.string == "fixture")
    }

    @Test func version2File() throws {
        let v2 = try GGUFFile(path: TestPaths.gguf("v2.gguf"))
        #expect(v2.version == 2)
        #expect(v2.alignment == 32)
        #expect(v2.dataOffset % 32 == 0)
        #expect(v2.metadata["test.array_nested"] == file.metadata["test.array_nested"])
        #expect(v2.tensors.map(\.type) == [.f32, .q8_0, .f32])
        let values = try dequantize(.q8_0, v2.data("tensor.q8_0").1, count: 512)
        #expect(values == (try TestPaths.expectedFloatsV2("tensor.q8_0")))
    }

    @Test func stories260KHeader() throws {
        let f = try GGUFFile(path: TestPaths.stories260K)
        #expect(f.version == 3)
        #expect(f[arch: "block_count"]?.int == 5)
        #expect(f.metadata["tokenizer.ggml.tokens"]?.array?.count == 512)
        #expect(f.tensorInfo("token_embd.weight")?.shape == [64, 512])
        for info in f.tensors { #expect(f.data(of: info).count == info.byteCount) }
    }

    private func metadataJSON() throws -> [String: Any] {
        let data = try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("gguf/expected/metadata.json"))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

extension TestPaths {
    /// Expected values for the v2 file, which has its own random data.
    static func expectedFloatsV2(_ tensor: String) throws -> [Float] {
        try expectedFloats("v2/\(tensor)")
    }
}
