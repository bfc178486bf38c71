import Foundation
import Testing
import SwiftletKernels
@testable import SwiftletFormats
import SwiftletTestSupport

/// Reads the checkpoints written by scripts/make_safetensors_fixtures.py and compares them with the
/// values the script recorded in expected.json.
struct SafetensorsFileTests {
    struct Expected {
        let dtype: String
        let shape: [Int]
        let values: [Double]
    }

    static func expected(_ checkpoint: String) throws -> [String: Expected] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.safetensors("expected.json")))
        let root = try #require(JSONSerialization.jsonObject(with: data) as? [String: [String: [String: Any]]])
        let entries = try #require(root[checkpoint])
        return try entries.mapValues { e in
            Expected(dtype: try #require(e["dtype"] as? String), shape: try #require(e["shape"] as? [Int]),
                     values: try #require(e["values"] as? [NSNumber]).map(\.doubleValue))
        }
    }

    @Test func singleFileHeader() throws {
        let file = try SafetensorsFile(path: TestPaths.safetensors("single/model.safetensors"))
        #expect(file.metadata == ["format": "pt", "note": "ünïcode ✓"])
        let expected = try Self.expected("single")
        #expect(Set(file.tensorNames) == Set(expected.keys))
        for info in file.tensors {
            let e = try #require(expected[info.name])
            #expect(info.dtype.rawValue == e.dtype)
            #expect(info.shape == e.shape)
            #expect(info.byteCount == info.elementCount * info.dtype.byteSize)
            #expect(file.data(of: info).count == info.byteCount)
        }
        // Data order: each tensor starts where the previous one ended.
        for (a, b) in zip(file.tensors, file.tensors.dropFirst()) { #expect(a.dataRange.upperBound == b.dataRange.lowerBound) }
        #expect(file.tensorInfo("scalar")?.shape == [])
        #expect(file.tensorInfo("scalar")?.elementCount == 1)
        #expect(file.tensorInfo("empty")?.elementCount == 0)
        #expect(file.tensorInfo("missing") == nil)
    }

    @Test(arguments: ["single", "sharded"])
    func checkpointValues(_ name: String) throws {
        let checkpoint = try SafetensorsCheckpoint(directory: URL(fileURLWithPath: TestPaths.safetensors(name)))
        let expected = try Self.expected(name)
        #expect(checkpoint.tensorNames == expected.keys.sorted())
        for (tensorName, e) in expected {
            let t = try checkpoint.tensor(named: tensorName)
            #expect(t.dtype.rawValue == e.dtype)
            #expect(t.shape == e.shape)
            #expect(t.bytes.count == t.elementCount * t.dtype.byteSize)
            switch t.dtype {
            case .f32, .f16, .bf16:
                #expect(try t.floats().map(\.bitPattern) == e.values.map { Float($0).bitPattern }, "\(tensorName)")
            case .i64:
                let values = (0..<t.elementCount).map { Int64(littleEndian: t.bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
                #expect(values == e.values.map { Int64($0) })
                #expect(throws: ModelLoadError.self) { try t.floats() }
            case .f64:
                let values = (0..<t.elementCount).map { t.bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
                #expect(values == e.values)
                #expect(!t.dtype.isSupportedForWeights)
                let error = #expect(throws: ModelLoadError.self) { try t.floats() }
                #expect(error?.description.contains("only F32, F16 and BF16") == true)
            default:
                Issue.record("unexpected dtype \(t.dtype)")
            }
        }
    }

    @Test func shardedCheckpointOpensEveryShard() throws {
        let checkpoint = try SafetensorsCheckpoint(directory: URL(fileURLWithPath: TestPaths.safetensors("sharded")))
        #expect(checkpoint.files.map { URL(fileURLWithPath: $0.path).lastPathComponent } == [
            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        ])
        let t = try checkpoint.tensor(named: "model.norm.weight")
        #expect(t.path.hasSuffix("model-00002-of-00002.safetensors"))
        #expect(checkpoint.contains("model.layers.0.self_attn.q_proj.bias"))
        let error = #expect(throws: ModelLoadError.self) { try checkpoint.tensor(named: "lm_head.weight") }
        #expect(error?.description.contains("no tensor 'lm_head.weight'") == true)
    }

    @Test func checkpointFromFilePaths() throws {
        let single = try SafetensorsCheckpoint(directory: URL(fileURLWithPath: TestPaths.safetensors("single/model.safetensors")))
        #expect(single.tensorNames.contains("lm_head.weight"))
        let index = try SafetensorsCheckpoint(directory: URL(fileURLWithPath: TestPaths.safetensors("sharded/model.safetensors.index.json")))
        #expect(index.tensorNames.count == 4)
    }

    @Test func directoryWithoutWeights() throws {
        let error = #expect(throws: ModelLoadError.self) {
            try SafetensorsCheckpoint(directory: URL(fileURLWithPath: TestPaths.safetensors("")))
        }
        #expect(error?.description.contains("no model.safetensors or model.safetensors.index.json") == true)
        #expect(throws: ModelLoadError.self) {
            try SafetensorsCheckpoint(directory: URL(fileURLWithPath: TestPaths.safetensors("does-not-exist")))
        }
    }

    @Test func dtypeTable() {
        #expect(SafetensorsDType.bf16.byteSize == 2)
        #expect(SafetensorsDType.f64.byteSize == 8)
        #expect(SafetensorsDType.allCases.filter(\.isSupportedForWeights) == [.f16, .bf16, .f32])
        #expect(SafetensorsDType.f16.ggmlType == .f16)
    }
}
