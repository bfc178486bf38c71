import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Accumulates wall time per kind of operation across forward passes (diagnostics only), and
/// the calling thread's CPU time, which on a shared machine is the steadier figure (with one
/// thread it is the work itself; with more it also counts waiting for the others).
public final class ForwardProfiler: @unchecked Sendable {
    public enum Kind: Int, CaseIterable { case matmul, attention, head, other }
    public private(set) var seconds = [Double](repeating: 0, count: Kind.allCases.count)
    public private(set) var cpuSeconds = [Double](repeating: 0, count: Kind.allCases.count)
    private var last = DispatchTime.now().uptimeNanoseconds
    private var lastCPU = ForwardProfiler.threadCPUSeconds()

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Charges the time since the previous lap to `kind`.
    public func lap(_ kind: Kind) {
        let now = DispatchTime.now().uptimeNanoseconds, cpu = Self.threadCPUSeconds()
        seconds[kind.rawValue] += Double(now - last) / 1e9
        cpuSeconds[kind.rawValue] += cpu - lastCPU
        last = now
        lastCPU = cpu
    }

    /// Starts timing from now without charging the time since the previous lap (which, at the
    /// start of a forward pass, is the engine's own work between passes).
    public func mark() {
        last = DispatchTime.now().uptimeNanoseconds
        lastCPU = Self.threadCPUSeconds()
    }

    public func reset() {
        seconds = seconds.map { _ in 0 }
        cpuSeconds = cpuSeconds.map { _ in 0 }
        last = DispatchTime.now().uptimeNanoseconds
        lastCPU = Self.threadCPUSeconds()
    }

    public var summary: String {
        Kind.allCases.map { String(format: "%@ %.1f ms (CPU %.1f)", "\($0)", seconds[$0.rawValue] * 1000, cpuSeconds[$0.rawValue] * 1000) }
            .joined(separator: ", ")
    }
}
