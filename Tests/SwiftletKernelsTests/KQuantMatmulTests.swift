import Testing
import SwiftletTestSupport
import CSwiftletMatmul
@testable import SwiftletKernels

private typealias KQRandom = SplitMix64

/// The formats with a packed kernel of their own, with their C selector.
private let kquantFormats: [(GGMLType, sw_kqtype)] = [
    (.q5_0, SW_KQ_Q5_0), (.q5_1, SW_KQ_Q5_1), (.q2_K, SW_KQ_Q2_K), (.q3_K, SW_KQ_Q3_K), (.q4_K, SW_KQ_Q4_K),
    (.q5_K, SW_KQ_Q5_K), (.q6_K, SW_KQ_Q6_K),
]

private func storeHalf(_ x: Float, _ w: inout [UInt8], at i: Int) {
    let b = Float16(x).bitPattern
    w[i] = UInt8(b & 0xFF)
    w[i + 1] = UInt8(b >> 8)
}

/// Random GGUF blocks: every byte random (quants, high bits, sub-block scales and mins), then
/// the super-block scales set to realistic positive values, as quantizers write them.
private func makeWeights(_ type: GGMLType, n: Int, k: Int, rng: inout KQRandom) -> [UInt8] {
    let bytes = type.byteCount(elements: n * k)!
    var w = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: rng.next() >> 29) }
    for b in 0..<(n * k / type.blockSize) {
        let base = b * type.typeSize
        let d = 0.0005 + 0.002 * abs(rng.unit()), dmin = 0.001 * abs(rng.unit())
        switch type {
        case .q5_0: storeHalf(d * 8, &w, at: base)
        case .q5_1:
            storeHalf(d * 4, &w, at: base)
            storeHalf(-0.1 * abs(rng.unit()), &w, at: base + 2)
        case .q4_K, .q5_K:
            storeHalf(d, &w, at: base)
            storeHalf(dmin, &w, at: base + 2)
        case .q6_K: storeHalf(d, &w, at: base + 208)
        case .q2_K:
            storeHalf(d, &w, at: base + 80)
            storeHalf(dmin, &w, at: base + 82)
        case .q3_K: storeHalf(d, &w, at: base + 108)
        default: Issue.record("no K-quant layout for \(type)")
        }
    }
    return w
}

private func pack(_ kq: sw_kqtype, _ w: [UInt8], n: Int, k: Int) -> [UInt8] {
    var p = [UInt8](repeating: 0xEE, count: Int(sw_kqpack_bytes(kq, Int32(n), Int32(k))))
    w.withUnsafeBytes { wp in p.withUnsafeMutableBytes { sw_kqpack(kq, wp.baseAddress!, Int32(n), Int32(k), $0.baseAddress!) } }
    return p
}

private func gemm(_ kq: sw_kqtype, _ packed: [UInt8], n: Int, k: Int, _ xq: [UInt8], rows: Range<Int>, pool: ThreadPool?) -> [Float] {
    var y = [Float](repeating: .nan, count: rows.count * n)
    let rb = QuantizedActivations.rowBytes(k: k)
    packed.withUnsafeBytes { pp in
        xq.withUnsafeBytes { xp in
            sw_gemm_kqp(pool?.handle, kq, pp.baseAddress, Int32(n), Int32(k), xp.baseAddress! + rows.lowerBound * rb,
                        Int32(rows.count), &y, n)
        }
    }
    return y
}

struct KQuantMatmulTests {
    /// Packed tiles take the file's bytes: 32 GGUF blocks per record, rows padded to whole tiles.
    @Test(arguments: kquantFormats.map(\.0))
    func packedWeightsTakeTheFilesBytes(type: GGMLType) {
        let kq = kquantFormats.first { $0.0 == type }!.1
        #expect(Int(sw_kqtype_block_bytes(kq)) == type.typeSize)
        #expect(Int(sw_kqtype_block_elements(kq)) == type.blockSize)
        for (n, k) in [(32, 256), (96, 768), (64, 4096)] {
            #expect(Int(sw_kqpack_bytes(kq, Int32(n), Int32(k))) == type.byteCount(elements: n * k)!)
        }
        #expect(Int(sw_kqpack_bytes(kq, 40, 256)) == type.byteCount(elements: 64 * 256)!)
    }

    /// Every level, with one thread and two, against the dequantized weights times the
    /// activations the kernel sees (tight) and times the unquantized activations (loose);
    /// partial 32-row tiles (n = 40, 61) and register-tile remainders (m = 1 ... 37) included.
    @Test(arguments: kquantFormats.map(\.0))
    func matchesDequantizedReferenceAtEveryLevel(type: GGMLType) throws {
        let kq = kquantFormats.first { $0.0 == type }!.1
        var rng = KQRandom(seed: 0x4B51_0000 + UInt64(type.rawValue))
        let pool2 = ThreadPool(threads: 2)
        var shapes = [(40, 256), (61, 512), (96, 768)]
        if type.blockSize == 32 { shapes.append((33, 96)) }  // Q5_0 / Q5_1 rows need only whole 32-blocks
        for (n, k) in shapes {
            let w = makeWeights(type, n: n, k: k, rng: &rng)
            let wd = try w.withUnsafeBytes { try dequantize(type, $0, count: n * k) }
            let packed = pack(kq, w, n: n, k: k)
            for m in [1, 2, 5, 7, 13, 32, 37] {
                let outliers = m % 2 == 1
                let x = makeActivations(m: m, k: k, rng: &rng, outliers: outliers)
                let xq = quantize(x, m: m, k: k)
                let exact = referenceGemm(wd, dequantizedActivations(xq, m: m, k: k), n: n, k: k, m: m)
                let loose = referenceGemm(wd, x, n: n, k: k, m: m)
                let scale = max(exact.map { abs($0) }.max() ?? 1, 1e-3)
                for level in KernelLevel.upToCurrent {
                    for pool in [nil, pool2] {
                        let y = KernelLevel.with(level) { gemm(kq, packed, n: n, k: k, xq, rows: 0..<m, pool: pool) }
                        let label = "\(type) \(level) threads=\(pool == nil ? 1 : 2) m=\(m) n=\(n) k=\(k)"
                        #expect(relativeError(y, exact) < 1e-5, "\(label)")
                        var worst = 0.0
                        for i in 0..<(m * n) { worst = max(worst, abs(Double(y[i]) - exact[i])) }
                        #expect(worst <= 1e-4 * scale, "\(label) max deviation \(worst)")
                        let e = relativeError(y, loose)
                        #expect(e < (outliers ? 3e-2 : 1e-2), "\(label) vs unquantized activations: \(e)")
                    }
                }
            }
        }
    }

    /// Batch invariance: at every level, an output row is the same bit for bit whether its
    /// activation row is computed alone, inside a batch of 37, or inside another batch, with one
    /// thread or two.
    @Test(arguments: kquantFormats.map(\.0))
    func rowResultsDoNotDependOnTheBatch(type: GGMLType) {
        let kq = kquantFormats.first { $0.0 == type }!.1
        var rng = KQRandom(seed: 0xB47C_0000 + UInt64(type.rawValue))
        let pool2 = ThreadPool(threads: 2)
        let n = 75, k = 1024, m = 37
        let packed = pack(kq, makeWeights(type, n: n, k: k, rng: &rng), n: n, k: k)
        let xq = quantize(makeActivations(m: m, k: k, rng: &rng, outliers: true), m: m, k: k)
        for level in KernelLevel.upToCurrent {
            KernelLevel.with(level) {
                let all = gemm(kq, packed, n: n, k: k, xq, rows: 0..<m, pool: pool2)
                let middle = gemm(kq, packed, n: n, k: k, xq, rows: 3..<16, pool: nil)
                for r in 0..<m {
                    let alone = gemm(kq, packed, n: n, k: k, xq, rows: r..<(r + 1), pool: nil)
                    let inBatch = Array(all[(r * n)..<((r + 1) * n)])
                    #expect(alone.map(\.bitPattern) == inBatch.map(\.bitPattern), "\(type) \(level) row \(r) alone vs m = \(m)")
                    if (3..<16).contains(r) {
                        let other = Array(middle[((r - 3) * n)..<((r - 2) * n)])
                        #expect(other.map(\.bitPattern) == inBatch.map(\.bitPattern), "\(type) \(level) row \(r) in m = 13 vs m = \(m)")
                    }
                }
            }
        }
    }

    /// A Linear over K-quant, Q5_0 and Q5_1 matrices (fused where whole tiles allow, split where not)
    /// holds no more than the file's bytes and gives each column from its own matrix.
    @Test func linearPacksKQuantsWithoutRequantizing() throws {
        var rng = KQRandom(seed: 0x11EA)
        let k = 512
        let parts: [(GGMLType, Int)] = [
            (.q4_K, 64), (.q4_K, 32), (.q6_K, 32), (.q5_K, 64), (.q5_0, 32), (.q5_1, 32), (.q4_K, 32), (.q2_K, 32), (.q2_K, 64),
            (.q3_K, 32), (.q4_K, 32),
        ]
        let weights = parts.map { makeWeights($0.0, n: $0.1, k: k, rng: &rng) }
        let stored = weights.map { w in
            let p = UnsafeMutableRawPointer.allocate(byteCount: w.count, alignment: 64)
            w.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: w.count) }
            return p
        }
        defer { stored.forEach { $0.deallocate() } }
        let sources = zip(parts, stored).map { WeightSource(type: $0.0, data: UnsafeRawPointer($1), rows: $0.1, columns: k) }
        let linear = try Linear(sources, precision: .fast)
        let n = linear.outFeatures
        #expect(linear.residentBytes == weights.reduce(0) { $0 + $1.count }, "packed bytes vs the file's")
        var wd = [Float]()
        for (part, w) in zip(parts, weights) { wd += try w.withUnsafeBytes { try dequantize(part.0, $0, count: part.1 * k) } }
        for m in [1, 7, 37] {
            let x = makeActivations(m: m, k: k, rng: &rng, outliers: false)
            var y = [Float](repeating: .nan, count: m * n)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    linear.forward(xp.baseAddress!, ldx: k, m: m, yp.baseAddress!, ldy: n, workspace: Workspace())
                }
            }
            let exact = referenceGemm(wd, dequantizedActivations(quantize(x, m: m, k: k), m: m, k: k), n: n, k: k, m: m)
            #expect(relativeError(y, exact) < 1e-5, "m = \(m)")
        }
    }

    /// A Q2_K or a Q3_K matrix alone: no more bytes than the file once packed, and the fp32 path's
    /// outputs (which dequantizes the same blocks) up to the 8-bit activations of the fast path.
    @Test(arguments: [GGMLType.q2_K, .q3_K])
    func linearKeepsLowBitKQuantsAtTheFilesSize(type: GGMLType) throws {
        var rng = KQRandom(seed: 0x23C0 + UInt64(type.rawValue))
        let n = 96, k = 768
        let w = makeWeights(type, n: n, k: k, rng: &rng)
        let stored = UnsafeMutableRawPointer.allocate(byteCount: w.count, alignment: 64)
        defer { stored.deallocate() }
        w.withUnsafeBytes { stored.copyMemory(from: $0.baseAddress!, byteCount: w.count) }
        let source = WeightSource(type: type, data: UnsafeRawPointer(stored), rows: n, columns: k)
        let fast = try Linear([source], precision: .fast)
        let fp32 = try Linear([source], precision: .fp32)
        #expect(fast.residentBytes <= w.count, "\(type): \(fast.residentBytes) bytes packed, \(w.count) in the file")
        for m in [1, 6, 33] {
            let x = makeActivations(m: m, k: k, rng: &rng, outliers: false)
            func run(_ linear: Linear) -> [Float] {
                var y = [Float](repeating: .nan, count: m * n)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        linear.forward(xp.baseAddress!, ldx: k, m: m, yp.baseAddress!, ldy: n, workspace: Workspace())
                    }
                }
                return y
            }
            let reference = run(fp32).map(Double.init)
            let e = relativeError(run(fast), reference)
            #expect(e < 1e-2, "\(type) m = \(m): fast vs fp32 relative error \(e)")
        }
    }
}
