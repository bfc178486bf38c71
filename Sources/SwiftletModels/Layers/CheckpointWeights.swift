import Foundation
import SwiftletKernels
import SwiftletFormats

/// Shape-checked access to the weights of a Hugging Face safetensors checkpoint or a GGUF file, in
/// the forms the models consume: `WeightSource` rows for `Linear`, and dequantized vectors for norms
/// and biases.
///
/// Shapes are outermost dimension first, as PyTorch writes them. A GGUF file lists GGML dimensions
/// innermost first, so its shapes are reversed here: an `nn.Linear` weight is `[out, in]` in both.
struct CheckpointWeights {
    private enum Storage {
        case safetensors(SafetensorsCheckpoint)
        case gguf(GGUFFile)
    }

    private let storage: Storage
    /// The stored name of a tensor asked for by another name (LLaMA-family checkpoints are read
    /// with GGUF tensor names).
    private let rename: (String) -> String

    init(_ checkpoint: SafetensorsCheckpoint, rename: @escaping (String) -> String = { $0 }) {
        storage = .safetensors(checkpoint)
        self.rename = rename
    }

    init(_ gguf: GGUFFile) {
        storage = .gguf(gguf)
        rename = { $0 }
    }

    /// The file or directory, for error messages.
    var path: String {
        switch storage {
        case .safetensors(let c): c.directory.path
        case .gguf(let g): g.path
        }
    }

    func has(_ name: String) -> Bool {
        switch storage {
        case .safetensors(let c): c.contains(rename(name))
        case .gguf(let g): g.tensorInfo(name) != nil
        }
    }

    /// The first of `prefixes` under which `probe` exists. Checkpoints saved by different
    /// transformers versions disagree on the wrapper prefix ("transformer." vs none for GPT-2).
    func prefix(among prefixes: [String], probe: String) throws -> String {
        guard let p = prefixes.first(where: { has($0 + probe) }) else {
            throw ModelLoadError.malformed(path: path, reason: "checkpoint has no tensor '\(prefixes[0] + probe)'")
        }
        return p
    }

    /// A stored tensor: its shape (outermost first), element type, bytes, and the file it is in.
    private func tensor(_ name: String) throws -> (shape: [Int], type: GGMLType, bytes: UnsafeRawBufferPointer, path: String) {
        switch storage {
        case .safetensors(let c):
            let t = try c.tensor(named: rename(name))
            guard let type = t.dtype.ggmlType else {
                throw ModelLoadError.unsupported(path: t.path, reason: "tensor '\(name)' has dtype \(t.dtype); only F32, F16 and BF16 weights are supported")
            }
            return (t.shape, type, t.bytes, t.path)
        case .gguf(let g):
            let (info, bytes) = try g.data(name)
            return (info.shape.reversed(), info.type, bytes, g.path)
        }
    }

    /// A matrix stored as `[rows, columns]` (an `nn.Linear` weight or an embedding table).
    func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightSource {
        let t = try tensor(name)
        guard t.shape == [rows, columns], let base = t.bytes.baseAddress else {
            throw ModelLoadError.malformed(path: t.path, reason: "tensor '\(name)' has shape \(t.shape), expected [\(rows), \(columns)]")
        }
        return WeightSource(type: t.type, data: base, rows: rows, columns: columns)
    }

    /// A matrix stored transposed, `[columns, rows]` (GPT-2's `Conv1D`), as fp32 `[rows, columns]`.
    func transposedMatrix(_ name: String, rows: Int, columns: Int) throws -> OwnedWeight {
        let t = try tensor(name)
        guard t.shape == [columns, rows] else {
            throw ModelLoadError.malformed(path: t.path, reason: "tensor '\(name)' has shape \(t.shape), expected [\(columns), \(rows)]")
        }
        let stored = try dequantize(t.type, t.bytes, count: rows * columns)
        let owned = OwnedWeight(rows: rows, columns: columns)
        for r in 0..<rows {
            for c in 0..<columns { owned.values[r * columns + c] = stored[c * rows + r] }
        }
        return owned
    }

    /// A vector of `count` values (norm scales, biases), in fp32.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try tensor(name)
        guard t.shape == [count] else {
            throw ModelLoadError.malformed(path: t.path, reason: "tensor '\(name)' has shape \(t.shape), expected [\(count)]")
        }
        return try dequantize(t.type, t.bytes, count: count)
    }

    func optionalVector(_ name: String, count: Int) throws -> [Float]? {
        has(name) ? try vector(name, count: count) : nil
    }

    /// One `Linear` over the `name.weight` matrices of `names` stacked row-wise (q, k and v fused, or a
    /// single projection), with their `name.bias` vectors. With `biasRequired` every bias must be
    /// there; otherwise a missing one counts as zeros, and a layer with none gets no bias at all.
    func linear(_ names: [String], rows: [Int], columns: Int, precision: ComputePrecision,
                biasRequired: Bool) throws -> Linear {
        let sources = try zip(names, rows).map { try matrix($0 + ".weight", rows: $1, columns: columns) }
        let biases = try zip(names, rows).map { name, count in
            biasRequired ? try vector(name + ".bias", count: count) : try optionalVector(name + ".bias", count: count)
        }
        let bias: [Float]? = biases.allSatisfy({ $0 == nil }) ? nil
            : zip(biases, rows).flatMap { $0 ?? [Float](repeating: 0, count: $1) }
        return try Linear(sources, bias: bias, precision: precision)
    }

    /// A whole matrix dequantized to fp32 rows (small tables such as learned positions).
    func floats(_ name: String, rows: Int, columns: Int) throws -> [Float] {
        let t = try tensor(name)
        guard t.shape == [rows, columns] else {
            throw ModelLoadError.malformed(path: t.path, reason: "tensor '\(name)' has shape \(t.shape), expected [\(rows), \(columns)]")
        }
        return try dequantize(t.type, t.bytes, count: rows * columns)
    }
}

/// An fp32 weight matrix built at load time (for example by transposing a stored one). It must
/// outlive the `Linear` initializers that read it; `Linear` copies or requantizes what it keeps.
final class OwnedWeight {
    let rows: Int, columns: Int
    let values: UnsafeMutablePointer<Float>

    init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        values = .allocate(capacity: rows * columns)
        values.initialize(repeating: 0, count: rows * columns)
    }

    var source: WeightSource { WeightSource(type: .f32, data: UnsafeRawPointer(values), rows: rows, columns: columns) }

    deinit { values.deallocate() }
}
