import Foundation
import Testing
import SwiftletTestSupport
import CSwiftletMatmul
@testable import SwiftletKernels

private let batchSizes = [1, 2, 3, 5, 8, 17, 32]
private let outputSizes = [16, 40, 48, 592]  // 40 and 592 leave partial 32-row tiles
private let depths = [32, 64, 576, 1536]

/// The Q8_0, Q4_0 and Q4_1 matmuls and the activation quantizer against independent references.
struct QuantizedMatmulTests {
    @Test func layoutSizes() {
        #expect(QuantizedWeightFormat.q8_0.blockBytes == 34)
        #expect(QuantizedWeightFormat.q4_0.blockBytes == 18)
        #expect(QuantizedWeightFormat.q4_1.blockBytes == 20)
        #expect(QuantizedWeightFormat.q4_1.rowBytes(k: 576) == 360)
        #expect(QuantizedActivations.rowBytes(k: 64) >= 2 * 40)
    }

    /// The activation quantizer follows its documented arithmetic bit for bit.
    @Test func activationQuantizationIsExact() {
        var rng = QMRandom(seed: 7)
        let m = 3, k = 256
        var x = makeActivations(m: m, k: k, rng: &rng)
        for j in 32..<64 { x[j] = 0 }  // an all-zero block
        let xq = quantize(x, m: m, k: k)
        let rb = QuantizedActivations.rowBytes(k: k), nb = k / 32
        xq.withUnsafeBytes { raw in
            for i in 0..<m {
                for b in 0..<nb {
                    let blk = raw.baseAddress! + i * rb + b * 40
                    let d = blk.loadUnaligned(as: Float.self)
                    let s = blk.loadUnaligned(fromByteOffset: 4, as: Float.self)
                    let sum = raw.baseAddress!.loadUnaligned(fromByteOffset: i * rb + nb * 40 + b * 4, as: Int32.self)
                    let xs = x[(i * k + b * 32)..<(i * k + b * 32 + 32)]
                    let amax = xs.map { abs($0) }.max()!
                    let ed = amax / 127
                    let id: Float = ed != 0 ? 1 / ed : 0
                    var esum: Int32 = 0
                    for (j, v) in xs.enumerated() {
                        let q = Int32((v * id).rounded(.toNearestOrEven))
                        esum += q
                        let got = Int8(bitPattern: blk.load(fromByteOffset: 8 + j, as: UInt8.self))
                        if Int32(got) != q { Issue.record("row \(i) block \(b) elt \(j): \(got) vs \(q)") }
                    }
                    #expect(d.bitPattern == ed.bitPattern)
                    #expect(sum == esum)
                    #expect(s.bitPattern == (ed * Float(esum)).bitPattern)
                }
            }
        }
    }

    /// The kernels (any thread count) against the scalar evaluation of the same quantized math,
    /// and against a double-precision product of the dequantized weights with the unquantized
    /// activations.
    @Test(arguments: QuantizedWeightFormat.allCases)
    func gemmMatchesReferences(format: QuantizedWeightFormat) {
        var rng = QMRandom(seed: 0x5157_0000 + UInt64(format.rawValue))
        let pool2 = ThreadPool(threads: 2)
        for k in depths {
            for n in outputSizes {
                let w = makeWeights(format, n: n, k: k, rng: &rng)
                let wd = dequantize(format, w, n: n, k: k)
                for m in batchSizes {
                    // An outlier coarsens its whole block's activation scale, so error against the
                    // unquantized product roughly triples (≈1.5 % instead of ≈0.5 %); odd batch
                    // sizes get outliers and the looser bound.
                    let outliers = m % 2 == 1
                    let x = makeActivations(m: m, k: k, rng: &rng, outliers: outliers)
                    let xq = quantize(x, m: m, k: k)
                    var exact = [Float](repeating: 0, count: m * n)
                    w.withUnsafeBytes { wp in
                        xq.withUnsafeBytes { xp in
                            quantizedGemmReference(format: format, weights: wp.baseAddress!, n: n, k: k,
                                                   x: xp.baseAddress!, m: m, y: &exact, ldy: n)
                        }
                    }
                    let single = runGemm(format, w, n: n, k: k, xq, m: m, pool: nil)
                    let multi = runGemm(format, w, n: n, k: k, xq, m: m, pool: pool2)
                    let label = "\(format) m=\(m) n=\(n) k=\(k)"
                    #expect(relativeError(single, exact) < 1e-5, "\(label) single-thread vs scalar")
                    #expect(relativeError(multi, exact) < 1e-5, "\(label) two threads vs scalar")
                    // Element-wise too, so one wrong column cannot hide in the norm.
                    let scale = exact.map { abs($0) }.max() ?? 1
                    var worst: Float = 0
                    for i in 0..<(m * n) { worst = max(worst, abs(multi[i] - exact[i])) }
                    #expect(worst <= 1e-4 * max(scale, 1e-3), "\(label) max deviation \(worst)")
                    // The double-precision reference costs O(m·n·k) in unoptimised test code,
                    // so it runs on a subset that still covers every m, n and k.
                    if m <= 5 || (n <= 48 && k <= 576) || (m == 32 && n == 592 && k == 576) {
                        let ref = referenceGemm(wd, x, n: n, k: k, m: m)
                        let e = relativeError(multi, ref)
                        #expect(e < (outliers ? 3e-2 : 1e-2), "\(label) vs dequantized double reference: \(e)")
                    }
                }
            }
        }
    }

    /// Decodes the quantized activations in Swift and recomputes the kernel's arithmetic in
    /// double, independently of the C reference.
    @Test(arguments: QuantizedWeightFormat.allCases)
    func quantizedArithmeticFromFirstPrinciples(format: QuantizedWeightFormat) {
        var rng = QMRandom(seed: 99 + UInt64(format.rawValue))
        let m = 5, n = 48, k = 576
        let w = makeWeights(format, n: n, k: k, rng: &rng)
        let wd = dequantize(format, w, n: n, k: k)
        let x = makeActivations(m: m, k: k, rng: &rng)
        let xq = quantize(x, m: m, k: k)
        // x̂ = d · q per block: the activations the kernel actually multiplies.
        let xhat = dequantizedActivations(xq, m: m, k: k)
        let ref = referenceGemm(wd, xhat, n: n, k: k, m: m)
        let got = runGemm(format, w, n: n, k: k, xq, m: m, pool: ThreadPool.shared)
        #expect(relativeError(got, ref) < 1e-5)
    }

    @Test func activationScratchGemm() {
        var rng = QMRandom(seed: 3)
        let m = 4, n = 64, k = 128
        let w = makeWeights(.q4_1, n: n, k: k, rng: &rng)
        let x = makeActivations(m: m, k: 2 * k, rng: &rng)  // ldx = 2k: strided rows
        let scratch = ActivationScratch()
        var y = [Float](repeating: 0, count: m * (n + 3))
        w.withUnsafeBytes { wp in
            x.withUnsafeBufferPointer { xp in
                scratch.gemm(format: .q4_1, weights: wp.baseAddress!, n: n, k: k, x: xp.baseAddress!, ldx: 2 * k,
                             m: m, y: &y, ldy: n + 3, pool: .shared)
            }
        }
        var xs = [Float]()
        for i in 0..<m { xs += x[(i * 2 * k)..<(i * 2 * k + k)] }
        let ref = referenceGemm(dequantize(.q4_1, w, n: n, k: k), xs, n: n, k: k, m: m)
        var packed = [Float]()
        for i in 0..<m { packed += y[(i * (n + 3))..<(i * (n + 3) + n)] }
        #expect(relativeError(packed, ref) < 1e-2)
    }

    @Test func bf16GemmMatchesReference() {
        var rng = QMRandom(seed: 0xBF16)
        let pool2 = ThreadPool(threads: 2)
        for k in [1, 7, 32, 48, 576, 1000] {
            for n in [1, 5, 16, 48, 131] {
                var w = [UInt16](repeating: 0, count: n * k)
                for i in 0..<(n * k) { w[i] = UInt16(truncatingIfNeeded: rng.unit().bitPattern >> 16) }
                let wd = w.map { Double(Float(bitPattern: UInt32($0) << 16)) }
                for m in [1, 2, 3, 5, 8, 17, 32] {
                    let x = makeActivations(m: m, k: k, rng: &rng)
                    let ref = referenceGemm(wd, x, n: n, k: k, m: m)
                    for pool in [nil, pool2] {
                        var y = [Float](repeating: .nan, count: m * n)
                        w.withUnsafeBufferPointer { wp in
                            x.withUnsafeBufferPointer { xp in
                                bf16Gemm(weights: wp.baseAddress!, n: n, k: k, x: xp.baseAddress!, ldx: k, m: m,
                                         y: &y, ldy: n, pool: pool)
                            }
                        }
                        let e = relativeError(y, ref)
                        #expect(e < 1e-5, "bf16 m=\(m) n=\(n) k=\(k): \(e)")
                    }
                }
            }
        }
    }

    @Test func emptyShapesAreNoOps() {
        var y: [Float] = [42]
        let w = [UInt8](repeating: 0, count: 64)
        let xq = [UInt8](repeating: 0, count: 64)
        w.withUnsafeBytes { wp in
            xq.withUnsafeBytes { xp in
                quantizedGemm(format: .q8_0, weights: wp.baseAddress!, n: 0, k: 32, x: xp.baseAddress!, m: 1,
                              y: &y, ldy: 1, pool: .shared)
                quantizedGemm(format: .q8_0, weights: wp.baseAddress!, n: 1, k: 32, x: xp.baseAddress!, m: 0,
                              y: &y, ldy: 1, pool: .shared)
            }
        }
        #expect(y == [42])
    }

    /// A Linear over several stored matrices packs neighbours of one format into one kernel call
    /// only where the earlier rows end on a whole 32-row tile; every output column must still
    /// come from its own matrix.
    @Test func linearOverFusedAndSplitSegments() throws {
        var rng = QMRandom(seed: 77)
        let k = 96
        let parts: [(QuantizedWeightFormat, GGMLType, Int)] = [
            (.q4_1, .q4_1, 64), (.q4_1, .q4_1, 40), (.q4_1, .q4_1, 32), (.q8_0, .q8_0, 24),
            (.q8_0, .q8_0, 32), (.q4_0, .q4_0, 33),
        ]
        let weights = parts.map { makeWeights($0.0, n: $0.2, k: k, rng: &rng) }
        let n = parts.reduce(0) { $0 + $1.2 }
        // Stored matrices live in memory of their own, as in a mapped model file.
        let stored = weights.map { w in
            let p = UnsafeMutableRawPointer.allocate(byteCount: w.count, alignment: 64)
            w.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: w.count) }
            return p
        }
        defer { stored.forEach { $0.deallocate() } }
        let sources = zip(parts, stored).map { part, p in
            WeightSource(type: part.1, data: UnsafeRawPointer(p), rows: part.2, columns: k)
        }
        let linear = try Linear(sources, precision: .fast)
        #expect(linear.outFeatures == n)
        for m in [1, 7, 37] {
            let x = makeActivations(m: m, k: k, rng: &rng)
            var y = [Float](repeating: .nan, count: m * n)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    linear.forward(xp.baseAddress!, ldx: k, m: m, yp.baseAddress!, ldy: n, workspace: Workspace())
                }
            }
            let xq = quantize(x, m: m, k: k)
            var expected = [Float](repeating: 0, count: m * n)
            var col = 0
            for (part, w) in zip(parts, weights) {
                w.withUnsafeBytes { wp in
                    xq.withUnsafeBytes { xp in
                        expected.withUnsafeMutableBufferPointer { ep in
                            quantizedGemmReference(format: part.0, weights: wp.baseAddress!, n: part.2, k: k,
                                                   x: xp.baseAddress!, m: m, y: ep.baseAddress! + col, ldy: n)
                        }
                    }
                }
                col += part.2
            }
            #expect(relativeError(y, expected) < 1e-5, "m = \(m)")
        }
    }

    @Test func cpuFeaturesDescribe() {
        let f = CPUFeatures.current
        #expect(!f.description.isEmpty)
        if CPUFeatures.usesAVX512Kernels {
            #expect(f.avx512f && f.avx512bw && f.avx512VNNI && f.avx512BF16)
        }
    }
}
