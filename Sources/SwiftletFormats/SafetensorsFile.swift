import Foundation
import SwiftletKernels

/// Element types of safetensors tensors, spelled as in the file's JSON header.
public enum SafetensorsDType: String, Sendable, CaseIterable, CustomStringConvertible {
    case bool = "BOOL", u8 = "U8", i8 = "I8", u16 = "U16", i16 = "I16", u32 = "U32", i32 = "I32"
    case u64 = "U64", i64 = "I64", f16 = "F16", bf16 = "BF16", f32 = "F32", f64 = "F64"
    case f8E4M3 = "F8_E4M3", f8E5M2 = "F8_E5M2"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8E4M3, .f8E5M2: return 1
        case .u16, .i16, .f16, .bf16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        }
    }

    /// The matching GGML type for the float formats the engine computes with; nil for types that
    /// can be read but not used as weights (integers, F64, FP8).
    public var ggmlType: GGMLType? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        default: return nil
        }
    }

    /// Whether tensors of this type can be loaded as model weights.
    public var isSupportedForWeights: Bool { ggmlType != nil }

    public var description: String { rawValue }
}

/// Where one tensor lives in a safetensors file.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Dimensions outermost first (PyTorch order); empty for a scalar.
    public let shape: [Int]
    /// Byte range relative to the start of the data section (the `data_offsets` of the header).
    public let dataRange: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { dataRange.count }
}

/// A safetensors file, memory-mapped.
///
/// Layout: an 8-byte little-endian header length, a JSON header mapping tensor names to dtype,
/// shape and data offsets (plus an optional `__metadata__` string map), then the tensor bytes.
/// Every offset is validated against the file and the declared shape before use, so a truncated
/// or tampered file raises `ModelLoadError` instead of crashing. Gaps between tensors are
/// tolerated (they cannot cause out-of-bounds reads); overlapping tensors are not.
public final class SafetensorsFile: @unchecked Sendable {
    /// Headers larger than this are refused, as in the reference implementation: a real header
    /// is a few megabytes at most, and the JSON parser would otherwise try to parse garbage.
    public static let maximumHeaderSize = 100_000_000

    public let path: String
    /// The free-form `__metadata__` entries.
    public let metadata: [String: String]
    /// Tensors in data order.
    public let tensors: [SafetensorsTensorInfo]
    /// File offset of the data section.
    public let dataOffset: Int
    private let file: MappedFile
    private let index: [String: Int]

    public convenience init(path: String) throws {
        try self.init(mapped: MappedFile(path: path))
    }

    public init(mapped: MappedFile) throws {
        file = mapped
        path = mapped.path
        let bytes = mapped.bytes
        func malformed(_ reason: String) -> ModelLoadError { .malformed(path: mapped.path, reason: reason) }

        guard bytes.count >= 8 else {
            throw malformed("file is \(bytes.count) bytes, too short for the 8-byte header length; the file is truncated")
        }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(Self.maximumHeaderSize) else {
            throw malformed("header length \(headerLength) is absurd (limit \(Self.maximumHeaderSize)); not a safetensors file or damaged")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw malformed("header length \(headerLength) exceeds the \(bytes.count - 8) bytes after it; the file is truncated")
        }
        let n = Int(headerLength)
        guard n >= 2, bytes[8] == UInt8(ascii: "{") else {
            throw malformed("header does not start with '{'; not a safetensors file")
        }
        dataOffset = 8 + n
        let dataSize = bytes.count - dataOffset

        let headerJSON: JSONValue
        do {
            headerJSON = try JSONValue.parse(UnsafeBufferPointer(
                start: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + 8, count: n))
        } catch let e as JSONError {
            throw malformed("header is not valid JSON (\(n) bytes): \(e)")
        }
        guard let header = headerJSON.object else { throw malformed("header is not a JSON object") }

        var meta: [String: String] = [:]
        if let m = header.last(where: { $0.0 == "__metadata__" })?.1 {
            guard let entries = m.object else { throw malformed("__metadata__ is not an object") }
            for (k, v) in entries {
                guard let s = v.string else { throw malformed("__metadata__ entry '\(k)' is not a string") }
                meta[k] = s
            }
        }
        metadata = meta

        var infos: [SafetensorsTensorInfo] = []
        var seen = Set<String>()
        for (name, e) in header where name != "__metadata__" {
            guard seen.insert(name).inserted else { throw malformed("tensor '\(name)' is listed twice") }
            guard e.object != nil else { throw malformed("tensor '\(name)': entry is not an object") }
            guard let dtypeName = e["dtype"].string else { throw malformed("tensor '\(name)': missing dtype") }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw ModelLoadError.unsupported(path: path, reason: "tensor '\(name)' has unknown dtype '\(dtypeName)'")
            }
            guard let rawShape = e["shape"].array, let shape = Self.integers(rawShape), shape.allSatisfy({ $0 >= 0 }) else {
                throw malformed("tensor '\(name)': shape is not a list of non-negative integers")
            }
            guard let rawOffsets = e["data_offsets"].array, let offsets = Self.integers(rawOffsets), offsets.count == 2 else {
                throw malformed("tensor '\(name)': data_offsets is not a pair of integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end else {
                throw malformed("tensor '\(name)': data_offsets [\(begin), \(end)] are not an increasing pair")
            }
            guard end <= dataSize else {
                throw malformed("tensor '\(name)': data_offsets [\(begin), \(end)] extend past the end of the data (\(dataSize) bytes); the file is truncated or damaged")
            }
            var size = dtype.byteSize
            for d in shape {
                let (p, o) = size.multipliedReportingOverflow(by: d)
                guard !o else { throw malformed("tensor '\(name)': shape \(shape) is absurd") }
                size = p
            }
            guard size == end - begin else {
                throw malformed("tensor '\(name)': shape \(shape) of \(dtype) needs \(size) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
            }
            infos.append(SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end))
        }
        infos.sort { ($0.dataRange.lowerBound, $0.dataRange.upperBound, $0.name) < ($1.dataRange.lowerBound, $1.dataRange.upperBound, $1.name) }
        for (a, b) in zip(infos, infos.dropFirst()) where b.dataRange.lowerBound < a.dataRange.upperBound {
            throw malformed("tensors '\(a.name)' \(a.dataRange) and '\(b.name)' \(b.dataRange) overlap")
        }
        tensors = infos
        index = Dictionary(uniqueKeysWithValues: infos.enumerated().map { ($1.name, $0) })
    }

    /// Tensor names in data order.
    public var tensorNames: [String] { tensors.map(\.name) }

    public func tensorInfo(_ name: String) -> SafetensorsTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The stored bytes of a tensor; valid as long as this file object lives.
    public func data(of info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        if info.dataRange.isEmpty { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: file.bytes[(dataOffset + info.dataRange.lowerBound)..<(dataOffset + info.dataRange.upperBound)])
    }

    /// JSON numbers as exact integers; nil if any is fractional, too large, or not a number.
    private static func integers(_ values: [JSONValue]) -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard let i = v.int else { return nil }
            out.append(i)
        }
        return out
    }
}

/// One tensor of a safetensors checkpoint, as stored.
public struct SafetensorsTensor: @unchecked Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Dimensions outermost first (PyTorch order); empty for a scalar.
    public let shape: [Int]
    /// The stored little-endian bytes; valid as long as the checkpoint lives.
    public let bytes: UnsafeRawBufferPointer
    /// The file the tensor is stored in.
    public let path: String

    public var elementCount: Int { shape.reduce(1, *) }

    /// The values converted to float32.
    ///
    /// - Throws: `ModelLoadError.unsupported` for dtypes that are not used as weights.
    public func floats() throws -> [Float] {
        guard let type = dtype.ggmlType else {
            throw ModelLoadError.unsupported(path: path, reason: "tensor '\(name)' has dtype \(dtype); only F32, F16 and BF16 weights are supported")
        }
        return try dequantize(type, bytes, count: elementCount)
    }
}

/// A Hugging Face model's weights: `model.safetensors`, or shards listed by
/// `model.safetensors.index.json`.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    public let directory: URL
    /// The opened files, shards in index order.
    public let files: [SafetensorsFile]
    /// All tensor names, sorted.
    public let tensorNames: [String]
    private let location: [String: (file: Int, info: SafetensorsTensorInfo)]

    public static let singleFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"

    /// Opens the checkpoint in `directory` (or a single `.safetensors` / `.index.json` file).
    ///
    /// Every shard the index names is opened and checked to contain the tensors mapped to it.
    public init(directory: URL) throws {
        var isDir: ObjCBool = false
        let fm = FileManager.default
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDir) else {
            throw ModelLoadError.io(path: directory.path, reason: "no such file or directory")
        }
        let dir = isDir.boolValue ? directory : directory.deletingLastPathComponent()
        self.directory = dir
        let indexURL = isDir.boolValue ? dir.appendingPathComponent(Self.indexFileName) : directory
        let singleURL = isDir.boolValue ? dir.appendingPathComponent(Self.singleFileName) : directory

        if (isDir.boolValue && fm.fileExists(atPath: indexURL.path)) || (!isDir.boolValue && directory.lastPathComponent.hasSuffix(".json")) {
            let weightMap = try Self.readWeightMap(indexURL)
            let shardNames = Array(Set(weightMap.values)).sorted()
            var files: [SafetensorsFile] = []
            var shardIndex: [String: Int] = [:]
            for shard in shardNames {
                shardIndex[shard] = files.count
                files.append(try SafetensorsFile(path: dir.appendingPathComponent(shard).path))
            }
            var location: [String: (Int, SafetensorsTensorInfo)] = [:]
            for (name, shard) in weightMap {
                let i = shardIndex[shard]!
                guard let info = files[i].tensorInfo(name) else {
                    throw ModelLoadError.malformed(path: indexURL.path, reason: "weight_map puts '\(name)' in \(shard), which has no such tensor")
                }
                location[name] = (i, info)
            }
            self.files = files
            self.location = location
        } else if fm.fileExists(atPath: singleURL.path) {
            let file = try SafetensorsFile(path: singleURL.path)
            files = [file]
            location = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, (0, $0)) })
        } else {
            throw ModelLoadError.io(path: dir.path, reason: "no \(Self.singleFileName) or \(Self.indexFileName) in the directory")
        }
        tensorNames = location.keys.sorted()
    }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// Dtype, shape and stored bytes of a tensor.
    ///
    /// - Throws: `ModelLoadError.malformed` naming the tensor when the checkpoint lacks it.
    public func tensor(named name: String) throws -> SafetensorsTensor {
        guard let (i, info) = location[name] else {
            throw ModelLoadError.malformed(path: directory.path, reason: "checkpoint has no tensor '\(name)'")
        }
        let file = files[i]
        return SafetensorsTensor(name: name, dtype: info.dtype, shape: info.shape, bytes: file.data(of: info), path: file.path)
    }

    /// The `weight_map` of an index file, with every shard name checked to be a plain file name so
    /// that an index cannot point outside the model directory.
    private static func readWeightMap(_ url: URL) throws -> [String: String] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelLoadError.io(path: url.path, reason: error.localizedDescription)
        }
        guard let root = try? JSONValue.parse(data), root.object != nil else {
            throw ModelLoadError.malformed(path: url.path, reason: "index is not a JSON object")
        }
        guard let map = root["weight_map"].object else {
            throw ModelLoadError.malformed(path: url.path, reason: "index has no weight_map object")
        }
        var out: [String: String] = [:]
        for (name, value) in map {
            guard let shard = value.string else {
                throw ModelLoadError.malformed(path: url.path, reason: "weight_map entry '\(name)' is not a file name")
            }
            guard !shard.isEmpty, !shard.contains("/"), !shard.contains("\\"), shard != ".", shard != ".." else {
                throw ModelLoadError.malformed(path: url.path, reason: "weight_map entry '\(name)' names '\(shard)', which is not a plain file name")
            }
            out[name] = shard
        }
        guard !out.isEmpty else { throw ModelLoadError.malformed(path: url.path, reason: "weight_map is empty") }
        return out
    }
}
