import Foundation
import Testing
import SwiftletTestSupport
import CSwiftletMatmul
@testable import SwiftletKernels

/// The AVX-VNNI body of the AVX2-level quantized kernel, run through its EVEX twin (a test hook)
/// on CPUs that have AVX512-VNNI + VL but maybe not AVX-VNNI: it must give the plain AVX2
/// kernel's bits (the integer dot products are exact and the float order is the same), stay
/// close to the scalar reference, and keep each row's result independent of the batch.
@Suite(.enabled(if: KernelLevel.available.contains(.avx2) && KernelTestHooks.avx2VNNITwinAvailable))
struct AVX2VNNITests {
    typealias Random = SplitMix64

    /// GGUF blocks with small f16 scales (and Q4_1 mins) and random quants.
    static func weights(_ f: QuantizedWeightFormat, n: Int, k: Int, rng: inout Random) -> [UInt8] {
        var w = [UInt8](repeating: 0, count: n * f.rowBytes(k: k))
        for b in 0..<(n * k / 32) {
            let base = b * f.blockBytes
            for j in 0..<f.blockBytes { w[base + j] = UInt8(truncatingIfNeeded: rng.next() >> 29) }
            let d = Float16(0.002 + 0.02 * abs(rng.unit())).bitPattern
            w[base] = UInt8(d & 0xFF)
            w[base + 1] = UInt8(d >> 8)
            if f == .q4_1 {
                let m = Float16(-0.15 * abs(rng.unit())).bitPattern
                w[base + 2] = UInt8(m & 0xFF)
                w[base + 3] = UInt8(m >> 8)
            }
        }
        return w
    }

    static func activations(m: Int, k: Int, rng: inout Random) -> [UInt8] {
        var x = [Float](repeating: 0, count: m * k)
        for i in 0..<(m * k) { x[i] = rng.unit() * (rng.next() % 61 == 0 ? 12 : 1) }
        var xq = [UInt8](repeating: 0, count: m * QuantizedActivations.rowBytes(k: k))
        x.withUnsafeBufferPointer { xp in
            xq.withUnsafeMutableBytes { QuantizedActivations.quantize(xp.baseAddress!, ldx: k, m: m, k: k, into: $0.baseAddress!) }
        }
        return xq
    }

    /// Rows `rows` of the activations through the packed path at the current thread's settings.
    static func gemm(_ f: QuantizedWeightFormat, packed: [UInt8], n: Int, k: Int, xq: [UInt8], rows: Range<Int>,
                     pool: ThreadPool?) -> [Float] {
        var y = [Float](repeating: .nan, count: rows.count * n)
        let rb = QuantizedActivations.rowBytes(k: k)
        packed.withUnsafeBytes { pp in
            xq.withUnsafeBytes { xp in
                sw_gemm_qp(pool?.handle, f.cType, nil, pp.baseAddress, Int32(n), Int32(k),
                           xp.baseAddress! + rows.lowerBound * rb, Int32(rows.count), &y, n)
            }
        }
        return y
    }

    /// How many elements differ in their bits (0 for identical arrays of the same length).
    static func differing(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Int {
        a.count != b.count ? max(a.count, b.count) : zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
    }

    @Test func hookSelectsTheTwinOnThisThreadOnly() {
        #expect(KernelTestHooks.avx2QuantizedKernel != .evexTwin)
        let inside = KernelTestHooks.withAVX2VNNITwin { KernelTestHooks.avx2QuantizedKernel }
        #expect(inside == .evexTwin)
        #expect(KernelTestHooks.avx2QuantizedKernel != .evexTwin)
    }

    /// n = 75 leaves a partial 32-row tile; k = 1088 (34 blocks) spans several K chunks of unequal
    /// sizes in both formats (Q4: 17 + 17, Q8_0: 9 + 9 + 8 + 8); k = 96 fits one.
    @Test(arguments: QuantizedWeightFormat.allCases)
    func twinMatchesPlainAVX2AndScalar(format: QuantizedWeightFormat) {
        var rng = Random(seed: 0xA7_1111 + UInt64(format.rawValue))
        let pool2 = ThreadPool(threads: 2)
        for (n, k) in [(75, 1088), (40, 96)] {
            let w = Self.weights(format, n: n, k: k, rng: &rng)
            var packed = [UInt8](repeating: 0, count: Int(sw_qpack_bytes(format.cType, Int32(n), Int32(k))))
            w.withUnsafeBytes { wp in packed.withUnsafeMutableBytes { sw_qpack(format.cType, wp.baseAddress!, Int32(n), Int32(k), $0.baseAddress!) } }
            for m in [1, 3, 4, 32, 33] {
                let xq = Self.activations(m: m, k: k, rng: &rng)
                let label = "\(format) m=\(m) n=\(n) k=\(k)"
                let scalar = KernelLevel.with(.scalar) { Self.gemm(format, packed: packed, n: n, k: k, xq: xq, rows: 0..<m, pool: nil) }
                let plain = KernelLevel.with(.avx2) { Self.gemm(format, packed: packed, n: n, k: k, xq: xq, rows: 0..<m, pool: nil) }
                let twin = KernelLevel.with(.avx2) {
                    KernelTestHooks.withAVX2VNNITwin { Self.gemm(format, packed: packed, n: n, k: k, xq: xq, rows: 0..<m, pool: nil) }
                }
                let twin2 = KernelLevel.with(.avx2) {
                    KernelTestHooks.withAVX2VNNITwin { Self.gemm(format, packed: packed, n: n, k: k, xq: xq, rows: 0..<m, pool: pool2) }
                }
                guard let twin, let twin2 else {
                    Issue.record("the twin is available but the hook refused it")
                    return
                }
                #expect(Self.differing(twin, plain) == 0, "\(label): twin vs plain AVX2")
                #expect(Self.differing(twin2, twin) == 0, "\(label): two threads vs one")
                let scale = max(scalar.map { abs($0) }.max() ?? 1, 1e-3)
                var worst: Float = 0
                for i in 0..<(m * n) { worst = max(worst, abs(twin[i] - scalar[i])) }
                #expect(worst <= 1e-4 * scale, "\(label): twin vs scalar, max deviation \(worst)")
                // Batch invariance: every row alone, and a middle slice, against the whole batch.
                KernelLevel.with(.avx2) {
                    _ = KernelTestHooks.withAVX2VNNITwin {
                        for r in 0..<m {
                            let alone = Self.gemm(format, packed: packed, n: n, k: k, xq: xq, rows: r..<(r + 1), pool: nil)
                            #expect(Self.differing(alone, twin[(r * n)..<((r + 1) * n)]) == 0, "\(label): row \(r) alone")
                        }
                        if m > 2 {
                            let mid = Self.gemm(format, packed: packed, n: n, k: k, xq: xq, rows: 1..<(m - 1), pool: nil)
                            #expect(Self.differing(mid, twin[n..<((m - 1) * n)]) == 0, "\(label): rows 1..<\(m - 1)")
                        }
                    }
                }
            }
        }
    }
}

/// sw_cpu.c reads AVX-VNNI from CPUID leaf 7 subleaf 1 itself; Linux reports the same bit as the
/// `avx_vnni` flag in /proc/cpuinfo.
@Suite struct AVXVNNIDetectionTests {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/cpuinfo") && CPUFeatures.current.avx2))
    func agreesWithTheKernelsCPUFlags() throws {
        let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flagsLine = try #require(info.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(flagsLine.split(separator: ":").last!.split(separator: " ").map(String.init))
        #expect(CPUFeatures.current.avxVNNI == flags.contains("avx_vnni"))
        #expect(CPUFeatures.current.avx512VNNI == flags.contains("avx512_vnni"))
    }
}
