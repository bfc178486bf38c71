import Foundation
import Testing
import SwiftletTestSupport
import CSwiftletMatmul
@testable import SwiftletKernels

// Shared by the quantized matmul tests: GGUF blocks of the legacy formats (Q8_0, Q4_0, Q4_1) made
// from random numbers, an independent double-precision reference, and the error measures.

typealias QMRandom = SplitMix64

func halfBits(_ x: Float) -> (UInt8, UInt8) {
    let b = Float16(x).bitPattern
    return (UInt8(b & 0xFF), UInt8(b >> 8))
}

func halfValue(_ lo: UInt8, _ hi: UInt8) -> Double {
    Double(Float(Float16(bitPattern: UInt16(lo) | UInt16(hi) << 8)))
}

/// Random weights in GGUF block layout, with realistic scales (and Q4_1 mins).
func makeWeights(_ f: QuantizedWeightFormat, n: Int, k: Int, rng: inout QMRandom) -> [UInt8] {
    let bb = f.blockBytes
    var w = [UInt8](repeating: 0, count: n * f.rowBytes(k: k))
    for b in 0..<(n * k / 32) {
        let base = b * bb
        let (d0, d1) = halfBits(0.002 + 0.02 * abs(rng.unit()))
        w[base] = d0
        w[base + 1] = d1
        var off = 2
        if f == .q4_1 {
            let (m0, m1) = halfBits(-0.15 * abs(rng.unit()))
            w[base + 2] = m0
            w[base + 3] = m1
            off = 4
        }
        // Q8_0 bytes deliberately include -128, which GGML never writes but the kernels handle.
        for j in off..<bb { w[base + j] = rng.byte() }
    }
    return w
}

/// Independent dequantization straight from the format definitions.
func dequantize(_ f: QuantizedWeightFormat, _ w: [UInt8], n: Int, k: Int) -> [Double] {
    let bb = f.blockBytes
    var out = [Double](repeating: 0, count: n * k)
    for b in 0..<(n * k / 32) {
        let base = b * bb
        let d = halfValue(w[base], w[base + 1])
        for j in 0..<32 {
            let v: Double
            switch f {
            case .q8_0:
                v = d * Double(Int8(bitPattern: w[base + 2 + j]))
            case .q4_0:
                let q = j < 16 ? w[base + 2 + j] & 0xF : w[base + 2 + j - 16] >> 4
                v = d * Double(Int(q) - 8)
            case .q4_1:
                let q = j < 16 ? w[base + 4 + j] & 0xF : w[base + 4 + j - 16] >> 4
                v = d * Double(q) + halfValue(w[base + 2], w[base + 3])
            }
            out[b * 32 + j] = v
        }
    }
    return out
}

func makeActivations(m: Int, k: Int, rng: inout QMRandom, outliers: Bool = true) -> [Float] {
    var x = [Float](repeating: 0, count: m * k)
    for i in 0..<(m * k) { x[i] = rng.unit() }
    // A few outliers, as in real hidden states, so per-block scales vary a lot.
    if outliers && m * k >= 64 {
        for _ in 0..<max(1, m * k / 97) { x[Int(rng.next() % UInt64(m * k))] *= 12 }
    }
    return x
}

/// Y = X · Wᵀ in double precision, from dequantized weights and unquantized activations.
func referenceGemm(_ wd: [Double], _ x: [Float], n: Int, k: Int, m: Int) -> [Double] {
    var y = [Double](repeating: 0, count: m * n)
    wd.withUnsafeBufferPointer { w in
        x.withUnsafeBufferPointer { xs in
            for i in 0..<m {
                for j in 0..<n {
                    var acc = 0.0
                    let wr = j * k, xr = i * k
                    for t in 0..<k { acc += w[wr + t] * Double(xs[xr + t]) }
                    y[i * n + j] = acc
                }
            }
        }
    }
    return y
}

/// The same from float weights (a dequantized K-quant matrix); widening to double is exact.
func referenceGemm(_ w: [Float], _ x: [Float], n: Int, k: Int, m: Int) -> [Double] {
    referenceGemm(w.map { Double($0) }, x, n: n, k: k, m: m)
}

/// ‖a − b‖ / ‖b‖ (Frobenius).
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for i in 0..<b.count {
        let e = Double(a[i]) - b[i]
        num += e * e
        den += b[i] * b[i]
    }
    return (num / max(den, 1e-300)).squareRoot()
}

func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    relativeError(a, b.map { Double($0) })
}

/// Runs the kernel through the public Swift API.
func runGemm(_ f: QuantizedWeightFormat, _ w: [UInt8], n: Int, k: Int, _ xq: [UInt8], m: Int,
                     pool: ThreadPool?) -> [Float] {
    var y = [Float](repeating: .nan, count: m * n)
    w.withUnsafeBytes { wp in
        xq.withUnsafeBytes { xp in
            y.withUnsafeMutableBufferPointer { yp in
                quantizedGemm(format: f, weights: wp.baseAddress!, n: n, k: k, x: xp.baseAddress!, m: m,
                              y: yp.baseAddress!, ldy: n, pool: pool)
            }
        }
    }
    return y
}

func quantize(_ x: [Float], m: Int, k: Int) -> [UInt8] {
    var xq = [UInt8](repeating: 0, count: m * QuantizedActivations.rowBytes(k: k))
    x.withUnsafeBufferPointer { xp in
        xq.withUnsafeMutableBytes { QuantizedActivations.quantize(xp.baseAddress!, ldx: k, m: m, k: k, into: $0.baseAddress!) }
    }
    return xq
}

/// The activations the kernels multiply: d · q of every q8a block.
func dequantizedActivations(_ xq: [UInt8], m: Int, k: Int) -> [Float] {
    let rb = QuantizedActivations.rowBytes(k: k)
    var out = [Float](repeating: 0, count: m * k)
    xq.withUnsafeBytes { raw in
        for i in 0..<m {
            for b in 0..<(k / 32) {
                let blk = raw.baseAddress! + i * rb + b * 40
                let d = blk.loadUnaligned(as: Float.self)
                for j in 0..<32 { out[i * k + b * 32 + j] = d * Float(blk.load(fromByteOffset: 8 + j, as: Int8.self)) }
            }
        }
    }
    return out
}
