import CSwiftletKernels

/// Instruction-set extensions of the host CPU, detected once at run time.
///
/// Kernels never rely on compile-time flags: every SIMD routine checks these at run time and
/// falls back to portable scalar code, so a single binary runs on any x86-64 or ARM machine.
public struct CPUFeatures: Sendable, Equatable, CustomStringConvertible {
    public let avx2: Bool
    public let fma: Bool
    public let f16c: Bool
    public let avx512f: Bool
    public let avx512bw: Bool
    public let avx512vl: Bool
    public let avx512dq: Bool
    /// AVX512-VNNI (`vpdpbusd`), used by the quantized int8 matmuls.
    public let avx512VNNI: Bool
    /// AVX512-BF16 (`vdpbf16ps`, `vcvtneps2bf16`).
    public let avx512BF16: Bool
    /// The VEX-encoded 256-bit VNNI subset.
    public let avxVNNI: Bool

    /// Features of the machine this process runs on.
    public static let current = CPUFeatures(
        avx2: sw_cpu_has_avx2() != 0,
        fma: sw_cpu_has_fma() != 0,
        f16c: sw_cpu_has_f16c() != 0,
        avx512f: sw_cpu_has_avx512f() != 0,
        avx512bw: sw_cpu_has_avx512bw() != 0,
        avx512vl: sw_cpu_has_avx512vl() != 0,
        avx512dq: sw_cpu_has_avx512dq() != 0,
        avx512VNNI: sw_cpu_has_avx512_vnni() != 0,
        avx512BF16: sw_cpu_has_avx512_bf16() != 0,
        avxVNNI: sw_cpu_has_avx_vnni() != 0)

    /// Whether the kernels currently take their AVX-512 paths: the CPU has the full set
    /// (F/BW/VL/DQ, VNNI, BF16, F16C, FMA) and SIMD has not been disabled.
    public static var usesAVX512Kernels: Bool { sw_cpu_use_avx512() != 0 }

    /// Turns the SIMD kernel paths on or off process-wide and returns the previous setting.
    /// Off forces the scalar reference code (useful for cross-checking results). The initial
    /// state is on unless the environment variable `SWIFTLET_NO_SIMD` is set (and not "0").
    @discardableResult
    public static func setSIMDEnabled(_ enabled: Bool) -> Bool {
        sw_cpu_set_simd_enabled(enabled ? 1 : 0) != 0
    }

    public var description: String {
        let named: [(String, Bool)] = [
            ("avx2", avx2), ("fma", fma), ("f16c", f16c), ("avx512f", avx512f),
            ("avx512bw", avx512bw), ("avx512vl", avx512vl), ("avx512dq", avx512dq),
            ("avx512vnni", avx512VNNI), ("avx512bf16", avx512BF16), ("avxvnni", avxVNNI),
        ]
        let present = named.filter { $0.1 }.map { $0.0 }
        return present.isEmpty ? "(no SIMD extensions detected)" : present.joined(separator: " ")
    }
}
