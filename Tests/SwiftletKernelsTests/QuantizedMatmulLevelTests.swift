import Foundation
import Testing
import SwiftletTestSupport
import CSwiftletMatmul
@testable import SwiftletKernels

/// The quantized matmuls and the row converters at every kernel level this run may use: the same
/// results as the scalar level, the same packed layout, and rows that do not depend on the batch.
struct QuantizedMatmulLevelTests {
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
}
