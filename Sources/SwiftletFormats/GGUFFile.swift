import SwiftletKernels

/// A metadata value of a GGUF file.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    indirect case array([GGUFValue])

    /// The value as an integer, whatever its stored width.
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int64(let v): return Int(v)
        case .bool(let v): return v ? 1 : 0
        default: return nil
        }
    }

    /// The value as a floating-point number, whatever its stored type.
    public var double: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return int.map(Double.init)
        }
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return int.map { $0 != 0 } } }
    public var array: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
}

/// Where one tensor lives in a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions in GGML order: `shape[0]` is the innermost (contiguous) one.
    public let shape: [Int]
    public let type: GGMLType
    /// Offset from the start of the data section.
    public let offset: Int
    public let byteCount: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A GGUF model file (versions 2 and 3), memory-mapped.
///
/// Every count, length and offset read from the file is checked against the file's size before it
/// is used, so a truncated or damaged file raises `ModelLoadError` instead of crashing.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int
    private let file: MappedFile
    private let tensorIndex: [String: Int]

    public convenience init(path: String) throws {
        try self.init(mapped: MappedFile(path: path))
    }

    public init(mapped: MappedFile) throws {
        file = mapped
        path = mapped.path
        var r = ByteReader(bytes: mapped.bytes, path: mapped.path)
        let magic = try r.read(UInt32.self)
        guard magic == 0x4655_4747 else {
            throw ModelLoadError.malformed(path: path, reason: "bad magic 0x\(String(magic, radix: 16)) (not a GGUF file)")
        }
        version = try r.read(UInt32.self)
        guard version == 2 || version == 3 else {
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                throw ModelLoadError.unsupported(path: path, reason: "big-endian GGUF version \(version.byteSwapped) (only little-endian files are supported)")
            }
            let note = version == 1 ? "; version 1 files predate 64-bit counts, re-convert the model with a current llama.cpp" : ""
            throw ModelLoadError.unsupported(path: path, reason: "GGUF version \(version) (supported: 2, 3)\(note)")
        }
        let tensorCount = try r.count(minimumBytesEach: 8 + 4 + 8 + 4 + 8, what: "tensor count")
        let kvCount = try r.count(minimumBytesEach: 8 + 4 + 1, what: "metadata count")
        var meta: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(kvCount)
        for _ in 0..<kvCount {
            let key = try r.string()
            let typeCode = try r.read(UInt32.self)
            let value = try r.value(typeCode: typeCode, depth: 0, key: key)
            if meta.updateValue(value, forKey: key) != nil {
                throw ModelLoadError.malformed(path: path, reason: "duplicate metadata key '\(key)'")
            }
            keys.append(key)
        }
        metadata = meta
        metadataKeys = keys
        var align = 32
        if let value = meta["general.alignment"] {
            guard case .uint32(let a) = value else {
                throw ModelLoadError.malformed(path: path, reason: "general.alignment must be a uint32, found \(value)")
            }
            align = Int(a)
        }
        guard align > 0, align <= 1 << 20, align & (align - 1) == 0 else {
            throw ModelLoadError.malformed(path: path, reason: "general.alignment \(align) is not a power of two")
        }
        alignment = align

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(tensorCount)
        var rawOffsets: [(String, [Int], GGMLType, Int)] = []
        for _ in 0..<tensorCount {
            let name = try r.string()
            let nDims = Int(try r.read(UInt32.self))
            guard (1...4).contains(nDims) else {
                throw ModelLoadError.malformed(path: path, reason: "tensor '\(name)' has \(nDims) dimensions (1...4 allowed)")
            }
            var shape: [Int] = []
            var elements = 1
            for _ in 0..<nDims {
                let d = try r.read(UInt64.self)
                guard d > 0, d < 1 << 40 else {
                    throw ModelLoadError.malformed(path: path, reason: "tensor '\(name)' has absurd dimension \(d)")
                }
                shape.append(Int(d))
                let (e, o) = elements.multipliedReportingOverflow(by: Int(d))
                guard !o, e < 1 << 42 else {
                    throw ModelLoadError.malformed(path: path, reason: "tensor '\(name)' has absurd shape \(shape)")
                }
                elements = e
            }
            let code = try r.read(UInt32.self)
            guard let type = GGMLType(rawValue: code) else {
                throw ModelLoadError.unsupported(path: path, reason: "tensor '\(name)' has unknown type \(code)")
            }
            guard shape[0] % type.blockSize == 0 else {
                throw ModelLoadError.malformed(path: path, reason: "tensor '\(name)' row of \(shape[0]) is not a multiple of \(type)'s block size \(type.blockSize)")
            }
            let offset = try r.read(UInt64.self)
            guard offset < UInt64(mapped.bytes.count) else {
                throw ModelLoadError.malformed(path: path, reason: "tensor '\(name)' offset \(offset) is past the end of the file (\(mapped.bytes.count) bytes); the file is truncated or damaged")
            }
            rawOffsets.append((name, shape, type, Int(offset)))
        }
        let headerEnd = r.offset
        dataOffset = (headerEnd + align - 1) / align * align
        var index: [String: Int] = [:]
        for (name, shape, type, offset) in rawOffsets {
            let count = shape.reduce(1, *)
            guard let bytes = type.byteCount(elements: count) else {
                throw ModelLoadError.malformed(path: path, reason: "tensor '\(name)' size is not a whole number of blocks")
            }
            guard offset % align == 0 else {
                throw ModelLoadError.malformed(path: path, reason: "tensor '\(name)' offset \(offset) is not aligned to \(align)")
            }
            let (end, o) = (dataOffset + offset).addingReportingOverflow(bytes)
            guard !o, end <= mapped.bytes.count else {
                throw ModelLoadError.malformed(path: path, reason: "tensor '\(name)' (\(bytes) bytes at data offset \(offset)) extends past the end of the file (\(mapped.bytes.count) bytes); the file is truncated or damaged")
            }
            guard index.updateValue(infos.count, forKey: name) == nil else {
                throw ModelLoadError.malformed(path: path, reason: "duplicate tensor name '\(name)'")
            }
            infos.append(GGUFTensorInfo(name: name, shape: shape, type: type, offset: offset, byteCount: bytes))
        }
        tensors = infos
        tensorIndex = index
    }

    public func tensorInfo(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The stored bytes of a tensor; valid as long as this file object lives.
    public func data(of info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[(dataOffset + info.offset)..<(dataOffset + info.offset + info.byteCount)])
    }

    public func data(_ name: String) throws -> (GGUFTensorInfo, UnsafeRawBufferPointer) {
        guard let info = tensorInfo(name) else {
            throw ModelLoadError.malformed(path: path, reason: "missing tensor '\(name)'")
        }
        return (info, data(of: info))
    }

    /// Architecture-prefixed metadata lookup, e.g. `self[arch: "block_count"]` for `llama.block_count`.
    public subscript(arch key: String) -> GGUFValue? {
        guard let arch = metadata["general.architecture"]?.string else { return nil }
        return metadata["\(arch).\(key)"]
    }
}

/// A bounds-checked little-endian cursor over the file's bytes.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - offset }

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw ModelLoadError.malformed(path: path, reason: "file ends inside \(what()) at byte \(offset) (needs \(n) bytes, \(remaining) left); the file is truncated")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size, "a \(T.self)")
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    /// A 64-bit count that must fit in what is left of the file at `minimumBytesEach` bytes an item.
    mutating func count(minimumBytesEach: Int, what: String) throws -> Int {
        let n = try read(UInt64.self)
        guard n <= UInt64(remaining / max(minimumBytesEach, 1)) else {
            throw ModelLoadError.malformed(path: path, reason: "\(what) \(n) at byte \(offset - 8) is absurd: only \(remaining) bytes remain in the \(bytes.count)-byte file; the file is truncated or damaged")
        }
        return Int(n)
    }

    mutating func string() throws -> String {
        let n = try count(minimumBytesEach: 1, what: "string length")
        try need(n, "a string")
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]), as: UTF8.self)
        offset += n
        return s
    }

    mutating func value(typeCode: UInt32, depth: Int, key: String) throws -> GGUFValue {
        switch typeCode {
        case 0: return .uint8(try read(UInt8.self))
        case 1: return .int8(try read(Int8.self))
        case 2: return .uint16(try read(UInt16.self))
        case 3: return .int16(try read(Int16.self))
        case 4: return .uint32(try read(UInt32.self))
        case 5: return .int32(try read(Int32.self))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self)))
        case 7:
            let b = try read(UInt8.self)
            guard b <= 1 else { throw ModelLoadError.malformed(path: path, reason: "metadata '\(key)': bool value \(b)") }
            return .bool(b == 1)
        case 8: return .string(try string())
        case 9:
            guard depth < 8 else { throw ModelLoadError.malformed(path: path, reason: "metadata '\(key)': arrays nested too deeply") }
            let elementType = try read(UInt32.self)
            let minSize: Int
            switch elementType {
            case 0, 1, 7: minSize = 1
            case 2, 3: minSize = 2
            case 4, 5, 6: minSize = 4
            case 8, 10, 11, 12: minSize = 8
            case 9: minSize = 12
            default: throw ModelLoadError.malformed(path: path, reason: "metadata '\(key)': unknown array element type \(elementType)")
            }
            let n = try count(minimumBytesEach: minSize, what: "array length of '\(key)'")
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(typeCode: elementType, depth: depth + 1, key: key)) }
            return .array(items)
        case 10: return .uint64(try read(UInt64.self))
        case 11: return .int64(try read(Int64.self))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self)))
        default:
            throw ModelLoadError.malformed(path: path, reason: "metadata '\(key)' has unknown value type \(typeCode)")
        }
    }
}
