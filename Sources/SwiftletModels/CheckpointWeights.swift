import Foundation
import SwiftletKernels

/// Shape-checked access to the weights of a Hugging Face safetensors checkpoint, in the forms the
/// models consume: `WeightSource` rows for `Linear`, and dequantized vectors for norms and biases.
struct CheckpointWeights {
    let checkpoint: SafetensorsCheckpoint

    init(_ checkpoint: SafetensorsCheckpoint) {
        self.checkpoint = checkpoint
    }

    private var path: String { checkpoint.directory.path }

    func has(_ name: String) -> Bool { checkpoint.contains(name) }

    /// The first of `prefixes` under which `probe` exists. Checkpoints saved by different
    /// transformers versions disagree on the wrapper prefix ("transformer." vs none for GPT-2).
    func prefix(among prefixes: [String], probe: String) throws -> String {
        guard let p = prefixes.first(where: { has($0 + probe) }) else {
            throw ModelLoadError.malformed(path: path, reason: "checkpoint has no tensor '\(prefixes[0] + probe)'")
        }
        return p
    }

    private func tensor(_ name: String) throws -> (SafetensorsTensor, GGMLType) {
        let t = try checkpoint.tensor(named: name)
        guard let type = t.dtype.ggmlType else {
            throw ModelLoadError.unsupported(path: t.path, reason: "tensor '\(name)' has dtype \(t.dtype); only F32, F16 and BF16 weights are supported")
        }
        return (t, type)
    }

    /// A matrix stored as PyTorch `[rows, columns]` (an `nn.Linear` weight or an embedding table).
    func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightSource {
        let (t, type) = try tensor(name)
        guard t.shape == [rows, columns], let base = t.bytes.baseAddress else {
            throw ModelLoadError.malformed(path: t.path, reason: "tensor '\(name)' has shape \(t.shape), expected [\(rows), \(columns)]")
        }
        return WeightSource(type: type, data: base, rows: rows, columns: columns)
    }

    /// A matrix stored transposed, `[columns, rows]` (GPT-2's `Conv1D`), as fp32 `[rows, columns]`.
    func transposedMatrix(_ name: String, rows: Int, columns: Int) throws -> OwnedWeight {
        let t = try checkpoint.tensor(named: name)
        guard t.shape == [columns, rows] else {
            throw ModelLoadError.malformed(path: t.path, reason: "tensor '\(name)' has shape \(t.shape), expected [\(columns), \(rows)]")
        }
        let stored = try t.floats()
        let owned = OwnedWeight(rows: rows, columns: columns)
        for r in 0..<rows {
            for c in 0..<columns { owned.values[r * columns + c] = stored[c * rows + r] }
        }
        return owned
    }

    /// A vector of `count` values (norm scales, biases), in fp32.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try checkpoint.tensor(named: name)
        guard t.shape == [count] else {
            throw ModelLoadError.malformed(path: t.path, reason: "tensor '\(name)' has shape \(t.shape), expected [\(count)]")
        }
        return try t.floats()
    }

    func optionalVector(_ name: String, count: Int) throws -> [Float]? {
        has(name) ? try vector(name, count: count) : nil
    }

    /// A whole matrix dequantized to fp32 rows (small tables such as learned positions).
    func floats(_ name: String, rows: Int, columns: Int) throws -> [Float] {
        let s = try matrix(name, rows: rows, columns: columns)
        var out = [Float](repeating: 0, count: rows * columns)
        try out.withUnsafeMutableBufferPointer { try dequantize(s.type, s.data, count: rows * columns, into: $0.baseAddress!) }
        return out
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
