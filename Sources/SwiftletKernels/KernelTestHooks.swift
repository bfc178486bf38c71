import CSwiftletMatmul

/// Test hooks: they reach kernel variants this CPU would otherwise never run, so the test
/// suites can check them. The engine never uses them.
public enum KernelTestHooks {
    /// The AVX2-level quantized kernel a call from this thread takes now.
    public enum AVX2QuantizedKernel: Int32, Sendable {
        case plain = 0
        /// AVX-VNNI (VEX `vpdpbusd` on ymm), on CPUs that have it.
        case avxVNNI = 1
        /// The same kernel body with EVEX `vpdpbusd` (AVX512-VNNI + VL); only this hook selects it.
        case evexTwin = 2
    }

    public static var avx2QuantizedKernel: AVX2QuantizedKernel {
        AVX2QuantizedKernel(rawValue: sw_quant_test_avx2_vnni_variant()) ?? .plain
    }

    /// Whether this CPU can run the EVEX twin of the AVX-VNNI quantized kernel.
    public static var avx2VNNITwinAvailable: Bool { sw_quant_test_avx2_vnni_evex_available() != 0 }

    /// TEST HOOK: runs `body` with AVX2-level quantized matmuls called from this thread taking
    /// the EVEX twin of the AVX-VNNI kernel (pool workers follow the calling thread's choice).
    /// `body` must stay on this thread. Returns nil, without running `body`, where the CPU
    /// lacks the twin's features.
    public static func withAVX2VNNITwin<T>(_ body: () throws -> T) rethrows -> T? {
        let previous = sw_quant_test_use_avx2_vnni_evex(1)
        guard previous >= 0 else { return nil }
        defer { sw_quant_test_use_avx2_vnni_evex(previous) }
        return try body()
    }
}
