import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletModels
import SwiftletFormats

/// Damaged copies of real model files: every one must be rejected with a `ModelLoadError` whose
/// message names the problem, and none may crash the process.
struct DamagedFileTests {
    /// A fresh directory for one test's damaged copies, removed when the test ends.
    final class Scratch {
        let dir: URL
        var count = 0

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-damaged-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(at: dir) }

        func write(_ bytes: [UInt8], name: String = "damaged") throws -> String {
            count += 1
            let url = dir.appendingPathComponent("\(count)-\(name)")
            try Data(bytes).write(to: url)
            return url.path
        }
    }

    static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Asserts that opening `path` throws a `ModelLoadError` mentioning every one of `substrings`.
    static func expectRejected<T>(_ path: String, _ substrings: [String], _ open: (String) throws -> T,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try open(path)
            Issue.record("damaged file \(path) was accepted; expected an error mentioning \(substrings)", sourceLocation: sourceLocation)
        } catch let error as ModelLoadError {
            let message = error.description
            for s in substrings where !message.contains(s) {
                Issue.record("error for \(path) does not mention '\(s)': \(message)", sourceLocation: sourceLocation)
            }
            #expect(message.contains(path), "error does not name the file: \(message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("damaged file \(path) threw \(type(of: error)), not ModelLoadError: \(error)", sourceLocation: sourceLocation)
        }
    }

    static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }

    static func read<T: FixedWidthInteger>(_: T.Type, at offset: Int, in bytes: [UInt8]) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    // MARK: GGUF

    /// Byte offsets of one tensor-info record's fields, found by searching for the tensor's name.
    struct TensorInfoFields {
        let nDims: Int, dims: [Int], type: Int, offset: Int
    }

    static func tensorInfoFields(_ name: String, in bytes: [UInt8]) throws -> TensorInfoFields {
        var pattern = [UInt8](repeating: 0, count: 8)
        put(UInt64(name.utf8.count), at: 0, in: &pattern)
        pattern += Array(name.utf8)
        let start = try #require((0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) })
        let nDimsAt = start + pattern.count
        let n = Int(read(UInt32.self, at: nDimsAt, in: bytes))
        let dims = (0..<n).map { nDimsAt + 4 + 8 * $0 }
        let typeAt = nDimsAt + 4 + 8 * n
        return TensorInfoFields(nDims: nDimsAt, dims: dims, type: typeAt, offset: typeAt + 4)
    }

    static let ggufFiles = [TestPaths.gguf("types.gguf"), TestPaths.gguf("v2.gguf"), TestPaths.stories260K]

    @Test(arguments: ggufFiles)
    func ggufTruncatedAnywhere(_ source: String) throws {
        let original = try Self.bytes(source)
        let good = try GGUFFile(path: source)
        // Past the last tensor's bytes only alignment padding remains, which may be cut.
        let needed = good.dataOffset + (good.tensors.map { $0.offset + $0.byteCount }.max() ?? 0)
        var cuts = Set((0..<64).map { original.count * $0 / 64 })
        cuts.formUnion(stride(from: 0, to: good.dataOffset, by: max(1, good.dataOffset / 500)))
        cuts.formUnion([0, 1, 3, 4, 7, 8, 15, 16, 23, 24, good.dataOffset - 1, good.dataOffset, needed - 1, original.count - 1])
        let scratch = try Scratch()
        for cut in cuts.sorted() where cut < original.count {
            let path = try scratch.write(Array(original[0..<cut]), name: "truncated-\(cut).gguf")
            if cut >= needed {
                #expect(throws: Never.self) { try GGUFFile(path: path) }
            } else {
                Self.expectRejected(path, ["truncated"], GGUFFile.init(path:))
            }
            try FileManager.default.removeItem(atPath: path)
        }
    }

    @Test(arguments: ggufFiles)
    func ggufHeaderFields(_ source: String) throws {
        let original = try Self.bytes(source)
        let good = try GGUFFile(path: source)
        let scratch = try Scratch()
        func damaged(_ name: String, _ edit: (inout [UInt8]) throws -> Void) throws -> String {
            var b = original
            try edit(&b)
            return try scratch.write(b, name: name)
        }
        let open = GGUFFile.init(path:)

        Self.expectRejected(try damaged("magic") { $0[0] = UInt8(ascii: "X") }, ["bad magic", "not a GGUF file"], open)
        Self.expectRejected(try damaged("v1") { Self.put(UInt32(1), at: 4, in: &$0) }, ["GGUF version 1 ", "supported: 2, 3"], open)
        Self.expectRejected(try damaged("v99") { Self.put(UInt32(99), at: 4, in: &$0) }, ["GGUF version 99 "], open)
        Self.expectRejected(try damaged("bigendian") { Self.put(UInt32(3).byteSwapped, at: 4, in: &$0) }, ["big-endian"], open)
        Self.expectRejected(try damaged("tensor-count") { Self.put(UInt64.max / 2, at: 8, in: &$0) }, ["tensor count", "absurd"], open)
        Self.expectRejected(try damaged("kv-count") { Self.put(UInt64(1) << 40, at: 16, in: &$0) }, ["metadata count", "absurd"], open)
        Self.expectRejected(try damaged("key-length") { Self.put(UInt64(1) << 62, at: 24, in: &$0) }, ["string length", "absurd"], open)
        // The first key's value type follows its 8-byte length and the key itself.
        let firstKeyLength = Int(Self.read(UInt64.self, at: 24, in: original))
        let firstType = 32 + firstKeyLength
        Self.expectRejected(try damaged("value-type") { Self.put(UInt32(99), at: firstType, in: &$0) }, ["unknown value type 99"], open)
        Self.expectRejected(try damaged("value-type-max") { Self.put(UInt32.max, at: firstType, in: &$0) }, ["unknown value type"], open)

        let first = try #require(good.tensors.first)
        let last = try #require(good.tensors.last)
        let f = try Self.tensorInfoFields(first.name, in: original)
        let l = try Self.tensorInfoFields(last.name, in: original)
        Self.expectRejected(try damaged("offset-past-end") { Self.put(UInt64(original.count + 4096), at: l.offset, in: &$0) },
                            ["'\(last.name)'", "past the end"], open)
        Self.expectRejected(try damaged("offset-huge") { Self.put(UInt64.max, at: f.offset, in: &$0) }, ["past the end"], open)
        Self.expectRejected(try damaged("data-past-end") {
            Self.put(UInt64(original.count - good.dataOffset - good.alignment) / UInt64(good.alignment) * UInt64(good.alignment), at: l.offset, in: &$0)
            Self.put(UInt64(1 << 20), at: l.dims[0], in: &$0)
        }, ["extends past the end"], open)
        if good.alignment > 1 {
            Self.expectRejected(try damaged("misaligned") { Self.put(UInt64(last.offset + 1), at: l.offset, in: &$0) },
                                ["not aligned to \(good.alignment)"], open)
        }
        Self.expectRejected(try damaged("dimension") { Self.put(UInt64(1) << 50, at: f.dims[0], in: &$0) }, ["absurd dimension"], open)
        Self.expectRejected(try damaged("dimension-zero") { Self.put(UInt64(0), at: f.dims[0], in: &$0) }, ["absurd dimension 0"], open)
        if f.dims.count > 1 {
            Self.expectRejected(try damaged("shape-overflow") {
                Self.put(UInt64(1) << 39, at: f.dims[0], in: &$0)
                Self.put(UInt64(1) << 39, at: f.dims[1], in: &$0)
            }, ["absurd shape"], open)
        }
        Self.expectRejected(try damaged("ndims") { Self.put(UInt32(9), at: f.nDims, in: &$0) }, ["9 dimensions"], open)
        Self.expectRejected(try damaged("tensor-type") { Self.put(UInt32(77), at: f.type, in: &$0) }, ["unknown type 77"], open)
        Self.expectRejected(try damaged("tensor-type-max") { Self.put(UInt32.max, at: f.type, in: &$0) }, ["unknown type"], open)
        // Retyping a tensor to Q4_K breaks its row size unless the row happens to be whole 256-blocks.
        if first.shape[0] % 256 != 0 {
            Self.expectRejected(try damaged("block-size") { Self.put(GGMLTypeCode.q4_K, at: f.type, in: &$0) }, ["block size"], open)
        }
    }

    /// Damage to metadata values needs files whose keys are known: the fixture.
    @Test func ggufMetadataValues() throws {
        let source = TestPaths.gguf("types.gguf")
        let original = try Self.bytes(source)
        let scratch = try Scratch()
        func find(_ key: String) throws -> Int {
            let pattern = Array(key.utf8)
            let start = try #require((0...(original.count - pattern.count)).first { original[$0..<($0 + pattern.count)].elementsEqual(pattern) })
            return start + pattern.count // the value type field
        }
        func damaged(_ name: String, _ edit: (inout [UInt8]) throws -> Void) throws -> String {
            var b = original
            try edit(&b)
            return try scratch.write(b, name: name)
        }
        let reader = GGUFFile.init(path:)

        let boolAt = try find("test.bool_true")
        Self.expectRejected(try damaged("bool") { $0[boolAt + 4] = 2 }, ["'test.bool_true'", "bool value 2"], reader)
        let stringAt = try find("test.string")
        Self.expectRejected(try damaged("value-string-length") { Self.put(UInt64.max, at: stringAt + 4, in: &$0) }, ["string length", "absurd"], reader)
        let arrayAt = try find("test.array_int32")
        Self.expectRejected(try damaged("array-type") { Self.put(UInt32(13), at: arrayAt + 4, in: &$0) }, ["unknown array element type 13"], reader)
        Self.expectRejected(try damaged("array-length") { Self.put(UInt64(1) << 40, at: arrayAt + 8, in: &$0) }, ["array length of 'test.array_int32'", "absurd"], reader)
        let alignAt = try find("general.alignment")
        Self.expectRejected(try damaged("alignment") { Self.put(UInt32(48), at: alignAt + 4, in: &$0) }, ["power of two"], reader)
        Self.expectRejected(try damaged("alignment-zero") { Self.put(UInt32(0), at: alignAt + 4, in: &$0) }, ["power of two"], reader)
        Self.expectRejected(try damaged("alignment-type") { Self.put(UInt32(5), at: alignAt, in: &$0) }, ["general.alignment must be a uint32"], reader)
        // Renaming a key to an earlier one's name makes a duplicate.
        Self.expectRejected(try damaged("duplicate-key") {
            let at = try find("test.uint16") - "test.uint16".utf8.count
            $0.replaceSubrange(at..<(at + 11), with: Array("test.uint32".utf8))
        }, ["duplicate metadata key 'test.uint32'"], reader)
        Self.expectRejected(try damaged("duplicate-tensor") {
            let at = try find("tensor.q4_1") - "tensor.q4_1".utf8.count
            $0.replaceSubrange(at..<(at + 11), with: Array("tensor.q4_0".utf8))
        }, ["duplicate tensor name 'tensor.q4_0'"], reader)
    }

    @Test func ggufDeeplyNestedArray() throws {
        // Hand-built: one key whose value is an array of arrays nested 64 deep.
        var b: [UInt8] = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        u32(3); u64(0); u64(1)
        u64(4); b += Array("deep".utf8); u32(9)
        for _ in 0..<64 { u32(9); u64(1) }
        u32(0); u64(1); b.append(7)
        let scratch = try Scratch()
        Self.expectRejected(try scratch.write(b, name: "deep.gguf"), ["nested too deeply"], GGUFFile.init(path:))
    }

    @Test func ggufRandomCorruptionNeverCrashes() throws {
        let original = try Self.bytes(TestPaths.gguf("types.gguf"))
        let good = try GGUFFile(path: TestPaths.gguf("types.gguf"))
        let scratch = try Scratch()
        var rng = SplitMix64(seed: 0x5EED)
        var rejected = 0
        for i in 0..<300 {
            var b = original
            for _ in 0..<(1 + i % 4) {
                let at = Int(rng.next() % UInt64(good.dataOffset))
                b[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            let path = try scratch.write(b, name: "random.gguf")
            do {
                let f = try GGUFFile(path: path)
                for t in f.tensors { _ = f.data(of: t) }
            } catch is ModelLoadError {
                rejected += 1
            }
            try FileManager.default.removeItem(atPath: path)
        }
        #expect(rejected > 0)
    }

    @Test func notARegularFile() throws {
        let scratch = try Scratch()
        Self.expectRejected(scratch.dir.path, ["is a directory"], GGUFFile.init(path:))
        Self.expectRejected(scratch.dir.appendingPathComponent("missing.gguf").path, ["No such file"], GGUFFile.init(path:))
        Self.expectRejected(try scratch.write([], name: "empty.gguf"), ["truncated"], GGUFFile.init(path:))
        Self.expectRejected(try scratch.write([], name: "empty.safetensors"), ["truncated"], SafetensorsFile.init(path:))
    }

    // MARK: safetensors

    static let safetensorsFiles = [
        TestPaths.safetensors("single/model.safetensors"),
        TestPaths.safetensors("sharded/model-00001-of-00002.safetensors"),
    ]

    @Test(arguments: safetensorsFiles)
    func safetensorsTruncatedAnywhere(_ source: String) throws {
        let original = try Self.bytes(source)
        let good = try SafetensorsFile(path: source)
        let needed = good.dataOffset + (good.tensors.map(\.dataRange.upperBound).max() ?? 0)
        #expect(needed == original.count)
        let scratch = try Scratch()
        var cuts = Set((0..<64).map { original.count * $0 / 64 })
        cuts.formUnion(0..<min(original.count, good.dataOffset + 2))
        for cut in cuts.sorted() where cut < original.count {
            let path = try scratch.write(Array(original[0..<cut]), name: "truncated-\(cut).safetensors")
            // The header length points past the end while the header is cut; after that a tensor does.
            Self.expectRejected(path, ["truncated"], SafetensorsFile.init(path:))
            try FileManager.default.removeItem(atPath: path)
        }
    }

    /// Replaces the JSON header of a safetensors file, keeping its data section.
    static func withHeader(_ original: [UInt8], _ transform: (String) -> String) -> [UInt8] {
        let n = Int(read(UInt64.self, at: 0, in: original))
        let header = String(decoding: original[8..<(8 + n)], as: UTF8.self)
        let newHeader = Array(transform(header).utf8)
        var out = [UInt8](repeating: 0, count: 8)
        put(UInt64(newHeader.count), at: 0, in: &out)
        return out + newHeader + original[(8 + n)...]
    }

    @Test func safetensorsDamagedHeaders() throws {
        let source = TestPaths.safetensors("single/model.safetensors")
        let original = try Self.bytes(source)
        let scratch = try Scratch()
        let open = SafetensorsFile.init(path:)
        func header(_ name: String, _ from: String, _ to: String) throws -> String {
            let b = Self.withHeader(original) { h in
                #expect(h.contains(from), "fixture header lacks \(from)")
                return h.replacingOccurrences(of: from, with: to)
            }
            return try scratch.write(b, name: name + ".safetensors")
        }
        func raw(_ name: String, _ edit: (inout [UInt8]) -> Void) throws -> String {
            var b = original
            edit(&b)
            return try scratch.write(b, name: name + ".safetensors")
        }

        Self.expectRejected(try raw("header-length-huge") { Self.put(UInt64.max, at: 0, in: &$0) }, ["header length", "absurd"], open)
        Self.expectRejected(try raw("header-length-past-end") { Self.put(UInt64(original.count), at: 0, in: &$0) }, ["header length", "truncated"], open)
        Self.expectRejected(try raw("not-json") { $0[8] = UInt8(ascii: "[") }, ["does not start with '{'"], open)
        Self.expectRejected(try raw("bad-json") { $0[9] = UInt8(ascii: "{") }, ["not valid JSON"], open)
        Self.expectRejected(try header("metadata-type", #""note":"ünïcode ✓""#, #""note":5"#), ["__metadata__ entry 'note' is not a string"], open)
        Self.expectRejected(try header("metadata-object", #""__metadata__":{"format":"pt","note":"ünïcode ✓"}"#, #""__metadata__":[1]"#), ["__metadata__ is not an object"], open)
        Self.expectRejected(try header("dtype-unknown", #""scalar":{"dtype":"F32""#, #""scalar":{"dtype":"Q9""#), ["'scalar'", "unknown dtype 'Q9'"], open)
        Self.expectRejected(try header("dtype-missing", #""scalar":{"dtype":"F32","#, #""scalar":{"#), ["'scalar'", "missing dtype"], open)
        Self.expectRejected(try header("dtype-mismatch", #""scalar":{"dtype":"F32""#, #""scalar":{"dtype":"F64""#), ["'scalar'", "needs 8 bytes", "hold 4"], open)
        Self.expectRejected(try header("shape-size", #""shape":[4,3]"#, #""shape":[4,4]"#), ["'model.embed_tokens.weight'", "needs 64 bytes"], open)
        Self.expectRejected(try header("shape-negative", #""shape":[4,3]"#, #""shape":[-4,-3]"#), ["shape is not a list of non-negative integers"], open)
        Self.expectRejected(try header("shape-fraction", #""shape":[4,3]"#, #""shape":[4.5,3]"#), ["shape is not a list"], open)
        Self.expectRejected(try header("shape-string", #""shape":[4,3]"#, #""shape":"4x3""#), ["shape is not a list"], open)
        Self.expectRejected(try header("shape-absurd", #""shape":[4,3]"#, #""shape":[4000000000,4000000000,4000000000]"#), ["shape", "absurd"], open)
        Self.expectRejected(try header("offsets-reversed", #""data_offsets":[48,96]"#, #""data_offsets":[96,48]"#), ["not an increasing pair"], open)
        Self.expectRejected(try header("offsets-past-end", #""data_offsets":[48,96]"#, #""data_offsets":[1000048,1000096]"#), ["past the end of the data", "truncated"], open)
        Self.expectRejected(try header("offsets-overlap", #""data_offsets":[48,96]"#, #""data_offsets":[40,88]"#), ["overlap"], open)
        Self.expectRejected(try header("offsets-triple", #""data_offsets":[48,96]"#, #""data_offsets":[48,96,100]"#), ["data_offsets is not a pair"], open)
        Self.expectRejected(try header("offsets-missing", #","data_offsets":[48,96]"#, ""), ["data_offsets is not a pair"], open)
        Self.expectRejected(try header("entry-type", #""scalar":{"#, #""scalar":7,"x":{"#), ["'scalar': entry is not an object"], open)
    }

    @Test func safetensorsDamagedIndex() throws {
        let scratch = try Scratch()
        let sharded = URL(fileURLWithPath: TestPaths.safetensors("sharded"))
        func checkpoint(_ name: String, index: String, copyShards: Bool = true) throws -> String {
            let dir = scratch.dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            if copyShards {
                for shard in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
                    try FileManager.default.copyItem(at: sharded.appendingPathComponent(shard), to: dir.appendingPathComponent(shard))
                }
            }
            try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
            return dir.path
        }
        let open = { (p: String) in try SafetensorsCheckpoint(directory: URL(fileURLWithPath: p)) }
        let good = try String(contentsOf: sharded.appendingPathComponent("model.safetensors.index.json"), encoding: .utf8)

        Self.expectRejected(try checkpoint("missing-shard", index: good, copyShards: false), ["model-0000"], open)
        Self.expectRejected(try checkpoint("not-json", index: "weights"), ["index is not a JSON object"], open)
        Self.expectRejected(try checkpoint("no-map", index: #"{"metadata":{}}"#), ["no weight_map"], open)
        Self.expectRejected(try checkpoint("empty-map", index: #"{"weight_map":{}}"#), ["weight_map is empty"], open)
        Self.expectRejected(try checkpoint("traversal", index: #"{"weight_map":{"a":"../../etc/passwd"}}"#), ["not a plain file name"], open)
        Self.expectRejected(try checkpoint("wrong-shard", index: #"{"weight_map":{"model.norm.weight":"model-00001-of-00002.safetensors"}}"#),
                            ["'model.norm.weight'", "no such tensor"], open)
        Self.expectRejected(try checkpoint("bad-value", index: #"{"weight_map":{"model.norm.weight":3}}"#), ["is not a file name"], open)
        // A damaged shard is reported with the shard's own path.
        let dir = try checkpoint("damaged-shard", index: good)
        let shard = URL(fileURLWithPath: dir).appendingPathComponent("model-00002-of-00002.safetensors")
        let bytes = try Self.bytes(shard.path)
        try Data(bytes[0..<(bytes.count - 1)]).write(to: shard)
        Self.expectRejected(dir, ["model-00002-of-00002.safetensors", "truncated"], open)
    }
}

/// Raw GGML type codes, for writing into damaged headers.
enum GGMLTypeCode {
    static let q4_K: UInt32 = 12
}
