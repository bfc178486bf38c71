import CSwiftletRuntime

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
    /// aarch64 dot-product (`sdot`/`udot`) and int8 matrix-multiply (`smmla`) extensions.
    public let neonDotProd: Bool
    public let neonI8MM: Bool

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
        avxVNNI: sw_cpu_has_avx_vnni() != 0,
        neonDotProd: sw_cpu_has_neon_dotprod() != 0,
        neonI8MM: sw_cpu_has_neon_i8mm() != 0)

    /// Whether the kernels currently take their AVX-512 paths.
    public static var usesAVX512Kernels: Bool { KernelLevel.current == .avx512 }

    public var description: String {
        let named: [(String, Bool)] = [
            ("avx2", avx2), ("fma", fma), ("f16c", f16c), ("avx512f", avx512f),
            ("avx512bw", avx512bw), ("avx512vl", avx512vl), ("avx512dq", avx512dq),
            ("avx512vnni", avx512VNNI), ("avx512bf16", avx512BF16), ("avxvnni", avxVNNI),
            ("dotprod", neonDotProd), ("i8mm", neonI8MM),
        ]
        let present = named.filter { $0.1 }.map { $0.0 }
        return present.isEmpty ? "(no SIMD extensions detected)" : present.joined(separator: " ")
    }
}

/// The code path the kernels take: one run-time choice for every kernel family.
///
/// The best level the CPU supports is used unless the environment variable `SWIFTLET_ISA`
/// (`scalar`, `avx2`, `avx512`, `neon`) caps it, so an AVX-512 machine can run and test the AVX2
/// code. Levels above what the CPU has are clamped down to it.
public enum KernelLevel: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case scalar = 0
    case avx2 = 1
    case avx512 = 2
    case neon = 3

    /// The level kernels called from this thread take now.
    public static var current: KernelLevel { KernelLevel(rawValue: sw_cpu_level()) ?? .scalar }

    /// The best level this CPU supports, ignoring `SWIFTLET_ISA`.
    public static var best: KernelLevel { KernelLevel(rawValue: sw_cpu_max_level()) ?? .scalar }

    /// Every level this machine can run, lowest first (scalar always).
    public static var available: [KernelLevel] {
        let best = Self.best
        switch best {
        case .scalar: return [.scalar]
        case .neon: return [.scalar, .neon]
        case .avx2: return [.scalar, .avx2]
        case .avx512: return [.scalar, .avx2, .avx512]
        }
    }

    /// The levels at or below the current one: what tests sweep, so that a run capped with
    /// `SWIFTLET_ISA` never enters a higher level.
    public static var upToCurrent: [KernelLevel] {
        let levels = available
        return Array(levels.prefix(through: levels.firstIndex(of: current) ?? 0))
    }

    /// The level a name such as `avx2` means, if any.
    public init?(name: String) {
        let raw = name.withCString { sw_cpu_level_from_name($0) }
        guard raw >= 0, let level = KernelLevel(rawValue: raw) else { return nil }
        self = level
    }

    /// Whether `SWIFTLET_ISA` held a name that is not a level of this architecture (it is ignored).
    public static var environmentRejected: Bool { sw_cpu_env_rejected() != 0 }

    /// Caps the level process-wide (clamped to what the CPU has) and returns the previous one.
    @discardableResult
    public static func set(_ level: KernelLevel) -> KernelLevel {
        KernelLevel(rawValue: sw_cpu_set_level(level.rawValue)) ?? .scalar
    }

    /// Runs `body` with kernels called from this thread at `level` (clamped to what the CPU
    /// has). Other threads are not affected, so tests can sweep levels side by side. `body`
    /// must stay on this thread (no suspension points).
    public static func with<T>(_ level: KernelLevel, _ body: () throws -> T) rethrows -> T {
        let previous = sw_cpu_set_thread_level(level.rawValue)
        defer { sw_cpu_set_thread_level(previous) }
        return try body()
    }

    public var description: String { String(cString: sw_cpu_level_name(rawValue)) }

    /// One line for start-up banners and benchmark headers: the level and the CPU's extensions.
    public static var banner: String {
        var line = "kernels: \(current) (cpu: \(CPUFeatures.current))"
        if current != best { line += ", capped from \(best)" }
        if environmentRejected { line += "; SWIFTLET_ISA names no level of this machine, ignored" }
        return line
    }
}
