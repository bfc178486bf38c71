import Testing
import SwiftletKernels

/// fp32 linear layers (`--precision fp32`, the embedding model): below AVX-512 they run a kernel
/// with one fixed fused-multiply-add order per output, which must give a row the same bits alone,
/// in any batch and at every level that runs it, and stay close to a float64 reference.
struct FP32LinearTests {
    /// A deterministic pseudo-random float in [-0.5, 0.5).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 24) - 0.5
        }
    }

    /// y = x W^T for m rows through a Linear built (and run) at `level`.
    static func run(level: KernelLevel, w: [Float], n: Int, k: Int, x: [Float], m: Int) throws -> [Float] {
        try KernelLevel.with(level) {
            try w.withUnsafeBytes { wb in
                let linear = try Linear([WeightSource(type: .f32, data: wb.baseAddress!, rows: n, columns: k)], precision: .fp32)
                var y = [Float](repeating: .nan, count: m * n)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        linear.forward(xp.baseAddress!, ldx: k, m: m, yp.baseAddress!, ldy: n, workspace: Workspace())
                    }
                }
                return y
            }
        }
    }

    @Test(arguments: [(n: 70, k: 45), (n: 64, k: 576), (n: 33, k: 1)])
    func rowsMatchTheReferenceAloneAndInBatches(_ shape: (n: Int, k: Int)) throws {
        let (n, k) = shape
        let w = Self.values(n * k, seed: 11), x = Self.values(40 * k, seed: 12)
        var exact = [Double](repeating: 0, count: 40 * n)
        for i in 0..<40 {
            for j in 0..<n {
                var s = 0.0
                for c in 0..<k { s += Double(x[i * k + c]) * Double(w[j * k + c]) }
                exact[i * n + j] = s
            }
        }
        var belowAVX512: [KernelLevel: [Float]] = [:]
        for level in KernelLevel.upToCurrent {
            let all = try Self.run(level: level, w: w, n: n, k: k, x: x, m: 40)
            let worst = zip(all, exact).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(worst < 1e-5 * Double(k).squareRoot() + 1e-6, "\(level): error \(worst)")
            for (start, m) in [(0, 1), (5, 1), (3, 2), (7, 7), (1, 33)] {
                let part = try Self.run(level: level, w: w, n: n, k: k, x: Array(x[(start * k)..<((start + m) * k)]), m: m)
                #expect(part == Array(all[(start * n)..<((start + m) * n)]), "\(level): rows \(start)..<\(start + m) differ from the same rows at m = 40")
            }
            if level != .avx512 { belowAVX512[level] = all }
        }
        // The fixed-order kernel gives every level the same bits.
        if let scalar = belowAVX512[.scalar] {
            for (level, y) in belowAVX512 { #expect(y == scalar, "\(level) differs from scalar") }
        }
    }
}
