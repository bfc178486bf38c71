import Foundation
import Testing
import SwiftletTestSupport
import CSwiftletMatmul
@testable import SwiftletKernels

private typealias QMRandom = SplitMix64

private func halfBits(_ x: Float) -> (UInt8, UInt8) {
    let b = Float16(x).bitPattern
    return (UInt8(b & 0xFF), UInt8(b >> 8))
}

private func halfValue(_ lo: UInt8, _ hi: UInt8) -> Double {
    Double(Float(Float16(bitPattern: UInt16(lo) | UInt16(hi) << 8)))
}

/// Random weights in GGUF block layout, with realistic scales (and Q4_1 mins).
private func makeWeights(_ f: QuantizedWeightFormat, n: Int, k: Int, rng: inout QMRandom) -> [UInt8] {
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
private func dequantize(_ f: QuantizedWeightFormat, _ w: [UInt8], n: Int, k: Int) -> [Double] {
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

private func makeActivations(m: Int, k: Int, rng: inout QMRandom, outliers: Bool = true) -> [Float] {
    var x = [Float](repeating: 0, count: m * k)
    for i in 0..<(m * k) { x[i] = rng.unit() }
    // A few outliers, as in real hidden states, so per-block scales vary a lot.
    if outliers && m * k >= 64 {
        for _ in 0..<max(1, m * k / 97) { x[Int(rng.next() % UInt64(m * k))] *= 12 }
    }
    return x
}

/// Y = X · Wᵀ in double precision, from dequantized weights and unquantized activations.
private func referenceGemm(_ wd: [Double], _ x: [Float], n: Int, k: Int, m: Int) -> [Double] {
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

/// ‖a − b‖ / ‖b‖ (Frobenius).
private func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for i in 0..<b.count {
        let e = Double(a[i]) - b[i]
        num += e * e
        den += b[i] * b[i]
    }
    return (num / max(den, 1e-300)).squareRoot()
}

private func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    relativeError(a, b.map { Double($0) })
}

/// Runs the kernel through the public Swift API.
private func runGemm(_ f: QuantizedWeightFormat, _ w: [UInt8], n: Int, k: Int, _ xq: [UInt8], m: Int,
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

private func quantize(_ x: [Float], m: Int, k: Int) -> [UInt8] {
    var xq = [UInt8](repeating: 0, count: m * QuantizedActivations.rowBytes(k: k))
    x.withUnsafeBufferPointer { xp in
        xq.withUnsafeMutableBytes { QuantizedActivations.quantize(xp.baseAddress!, ldx: k, m: m, k: k, into: $0.baseAddress!) }
    }
    return xq
}

private let batchSizes = [1, 2, 3, 5, 8, 17, 32]
private let outputSizes = [16, 40, 48, 592]  // 40 and 592 leave partial 32-row tiles
private let depths = [32, 64, 576, 1536]

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
        let rb = QuantizedActivations.rowBytes(k: k)
        // x̂ = d · q per block: the activations the kernel actually multiplies.
        var xhat = [Float](repeating: 0, count: m * k)
        xq.withUnsafeBytes { raw in
            for i in 0..<m {
                for b in 0..<(k / 32) {
                    let blk = raw.baseAddress! + i * rb + b * 40
                    let d = blk.loadUnaligned(as: Float.self)
                    for j in 0..<32 {
                        xhat[i * k + b * 32 + j] = d * Float(Int8(bitPattern: blk.load(fromByteOffset: 8 + j, as: UInt8.self)))
                    }
                }
            }
        }
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

    @Test func halfAndBFloat16Conversions() {
        var rng = QMRandom(seed: 11)
        var xs: [Float] = [0, -0.0, 1, -1, 65504, 65520, 1e-8, -6e-8, 3e-5, 1e30, .infinity, -.infinity,
                           .nan, Float(bitPattern: 0x7F80_0001), .greatestFiniteMagnitude,
                           Float(bitPattern: 0x0000_0001), Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000)]
        for _ in 0..<1000 {
            xs.append(rng.unit() * Float(1 << Int(rng.next() % 20)) / Float(1 << Int(rng.next() % 30)))
        }
        let n = xs.count
        var h = [UInt16](repeating: 0, count: n), b = [UInt16](repeating: 0, count: n)
        var back = [Float](repeating: 0, count: n), bback = [Float](repeating: 0, count: n)
        HalfConversion.floatToHalf(xs, &h, count: n)
        HalfConversion.halfToFloat(h, &back, count: n)
        HalfConversion.floatToBF16(xs, &b, count: n)
        HalfConversion.bf16ToFloat(b, &bback, count: n)
        for i in 0..<n {
            let x = xs[i]
            let eh = Float16(x)
            if x.isNaN {
                #expect(Float16(bitPattern: h[i]).isNaN)
                #expect(Float(bitPattern: UInt32(b[i]) << 16).isNaN)
                continue
            }
            #expect(h[i] == eh.bitPattern, "f16 of \(x)")
            #expect(HalfConversion.floatToHalf(x) == eh.bitPattern)
            #expect(back[i].bitPattern == Float(eh).bitPattern)
            #expect(HalfConversion.halfToFloat(h[i]).bitPattern == Float(eh).bitPattern)
            // bf16 round to nearest even, computed on the bit pattern.
            let u = x.bitPattern
            let eb = UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
            #expect(b[i] == eb, "bf16 of \(x)")
            #expect(bback[i].bitPattern == UInt32(eb) << 16)
        }
    }

    /// Every level this run may use (scalar, AVX2, AVX-512 or NEON) against the scalar results:
    /// activation quantization and the row converters bit for bit, the matmuls up to float
    /// rounding.
    @Test func everyLevelAgreesWithScalar() {
        var rng = QMRandom(seed: 12345)
        let m = 17, n = 40, k = 576
        let x = makeActivations(m: m, k: k, rng: &rng)
        var wb = [UInt16](repeating: 0, count: n * k)
        for i in 0..<(n * k) { wb[i] = UInt16(truncatingIfNeeded: rng.unit().bitPattern >> 16) }
        // Half and bf16 patterns of every kind, NaNs and subnormals included (n * k of them).
        var bits = [UInt16](repeating: 0, count: n * k)
        for i in 0..<bits.count { bits[i] = UInt16(truncatingIfNeeded: rng.next()) }
        let weights = QuantizedWeightFormat.allCases.map { makeWeights($0, n: n, k: k, rng: &rng) }

        func runAll() -> (xq: [UInt8], q: [[Float]], bf: [Float], conv: [UInt16], widened: [UInt32]) {
            let xq = quantize(x, m: m, k: k)
            let q = QuantizedWeightFormat.allCases.map { runGemm($0, weights[$0.rawValue], n: n, k: k, xq, m: m, pool: .shared) }
            var y = [Float](repeating: 0, count: m * n)
            wb.withUnsafeBufferPointer { wp in
                x.withUnsafeBufferPointer { xp in
                    bf16Gemm(weights: wp.baseAddress!, n: n, k: k, x: xp.baseAddress!, ldx: k, m: m, y: &y, ldy: n, pool: .shared)
                }
            }
            // Odd counts leave a tail after the vector loops.
            let c = x.count - 3
            var conv = [UInt16](repeating: 0, count: 2 * c)
            conv.withUnsafeMutableBufferPointer { o in
                HalfConversion.floatToBF16(x, o.baseAddress!, count: c)
                HalfConversion.floatToHalf(x, o.baseAddress! + c, count: c)
            }
            let h = bits.count - 5
            var wide = [Float](repeating: 0, count: 2 * h)
            wide.withUnsafeMutableBufferPointer { o in
                HalfConversion.halfToFloat(bits, o.baseAddress!, count: h)
                HalfConversion.bf16ToFloat(bits, o.baseAddress! + h, count: h)
            }
            return (xq, q, y, conv, wide.map { $0.bitPattern })
        }

        let slow = KernelLevel.with(.scalar) { runAll() }
        for level in KernelLevel.upToCurrent where level != .scalar {
            let fast = KernelLevel.with(level) { runAll() }
            #expect(fast.xq == slow.xq, "\(level)")
            #expect(fast.conv == slow.conv, "\(level)")
            #expect(fast.widened == slow.widened, "\(level)")
            for f in QuantizedWeightFormat.allCases {
                #expect(relativeError(fast.q[f.rawValue], slow.q[f.rawValue]) < 1e-5, "\(level) \(f)")
            }
            #expect(relativeError(fast.bf, slow.bf) < 1e-5, "\(level)")
        }
    }

    /// The packed layout is the same whichever level packs it, and every level's kernel, given
    /// the packed copy alone or the GGUF rows alone, matches the scalar reference: register-tile
    /// remainders (m = 1 ... 37) and partial 32-row tiles (n = 40, 61) included.
    @Test(arguments: QuantizedWeightFormat.allCases)
    func packedAndUnpackedAtEveryLevel(format: QuantizedWeightFormat) {
        var rng = QMRandom(seed: 0x9AC0 + UInt64(format.rawValue))
        let pool2 = ThreadPool(threads: 2)
        for (n, k) in [(40, 64), (61, 576), (96, 160)] {
            let w = makeWeights(format, n: n, k: k, rng: &rng)
            let bytes = Int(sw_qpack_bytes(format.cType, Int32(n), Int32(k)))
            #expect(bytes == (n + 31) / 32 * (k / 32) * [1088, 576, 640][format.rawValue])
            func pack() -> [UInt8] {
                var p = [UInt8](repeating: 0xEE, count: bytes)
                w.withUnsafeBytes { wp in p.withUnsafeMutableBytes { sw_qpack(format.cType, wp.baseAddress!, Int32(n), Int32(k), $0.baseAddress!) } }
                return p
            }
            let packed = KernelLevel.with(.scalar) { pack() }
            for level in KernelLevel.upToCurrent {
                #expect(KernelLevel.with(level) { pack() } == packed, "\(format) packed at \(level)")
            }
            for m in [1, 2, 5, 6, 7, 13, 32, 37] {
                let xq = quantize(makeActivations(m: m, k: k, rng: &rng, outliers: m % 2 == 1), m: m, k: k)
                var exact = [Float](repeating: 0, count: m * n)
                w.withUnsafeBytes { wp in
                    xq.withUnsafeBytes { xp in
                        quantizedGemmReference(format: format, weights: wp.baseAddress!, n: n, k: k, x: xp.baseAddress!, m: m, y: &exact, ldy: n)
                    }
                }
                let scale = max(exact.map { abs($0) }.max() ?? 1, 1e-3)
                for level in KernelLevel.upToCurrent {
                    for usePacked in [false, true] {
                        for pool in [nil, pool2] {
                            var y = [Float](repeating: .nan, count: m * n)
                            KernelLevel.with(level) {
                                w.withUnsafeBytes { wp in
                                    packed.withUnsafeBytes { pp in
                                        xq.withUnsafeBytes { xp in
                                            sw_gemm_qp(pool?.handle, format.cType, usePacked ? nil : wp.baseAddress, usePacked ? pp.baseAddress : nil,
                                                       Int32(n), Int32(k), xp.baseAddress, Int32(m), &y, n)
                                        }
                                    }
                                }
                            }
                            let label = "\(format) \(level) packed=\(usePacked) threads=\(pool == nil ? 1 : 2) m=\(m) n=\(n) k=\(k)"
                            #expect(relativeError(y, exact) < 1e-5, "\(label)")
                            var worst: Float = 0
                            for i in 0..<(m * n) { worst = max(worst, abs(y[i] - exact[i])) }
                            #expect(worst <= 1e-4 * scale, "\(label) max deviation \(worst)")
                        }
                    }
                }
            }
        }
    }

    /// Batch invariance: at every level, an output row is the same bit for bit whether its
    /// activation row is computed alone, inside a batch of 37, or inside another batch, with one
    /// thread or two.
    @Test(arguments: QuantizedWeightFormat.allCases)
    func rowResultsDoNotDependOnTheBatch(format: QuantizedWeightFormat) {
        var rng = QMRandom(seed: 0xB47C + UInt64(format.rawValue))
        let pool2 = ThreadPool(threads: 2)
        let n = 75, k = 1088, m = 37
        let w = makeWeights(format, n: n, k: k, rng: &rng)
        let xq = quantize(makeActivations(m: m, k: k, rng: &rng), m: m, k: k)
        let rb = QuantizedActivations.rowBytes(k: k)
        let bytes = Int(sw_qpack_bytes(format.cType, Int32(n), Int32(k)))
        var packed = [UInt8](repeating: 0, count: bytes)
        w.withUnsafeBytes { wp in packed.withUnsafeMutableBytes { sw_qpack(format.cType, wp.baseAddress!, Int32(n), Int32(k), $0.baseAddress!) } }
        func run(rows: Range<Int>, pool: ThreadPool?) -> [Float] {
            var y = [Float](repeating: .nan, count: rows.count * n)
            packed.withUnsafeBytes { pp in
                xq.withUnsafeBytes { xp in
                    sw_gemm_qp(pool?.handle, format.cType, nil, pp.baseAddress, Int32(n), Int32(k), xp.baseAddress! + rows.lowerBound * rb,
                               Int32(rows.count), &y, n)
                }
            }
            return y
        }
        for level in KernelLevel.upToCurrent {
            KernelLevel.with(level) {
                let all = run(rows: 0..<m, pool: pool2)
                let middle = run(rows: 3..<16, pool: nil)
                for r in 0..<m {
                    let alone = run(rows: r..<(r + 1), pool: nil)
                    let inBatch = Array(all[(r * n)..<((r + 1) * n)])
                    #expect(alone.map(\.bitPattern) == inBatch.map(\.bitPattern), "\(format) \(level) row \(r) alone vs m = \(m)")
                    if (3..<16).contains(r) {
                        let other = Array(middle[((r - 3) * n)..<((r - 2) * n)])
                        #expect(other.map(\.bitPattern) == inBatch.map(\.bitPattern), "\(format) \(level) row \(r) in m = 13 vs m = \(m)")
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
