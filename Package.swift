// swift-tools-version:6.0
import PackageDescription

/// Optimisation flags for the hot numeric code. Kernels pick instruction sets at run time,
/// so nothing here ties the build to one CPU.
let kernelCFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno", "-ffp-contract=fast"])]
let swiftFast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "Swiftlet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "swiftlet", targets: ["swiftlet"]),
        .library(name: "SwiftletEngine", targets: ["SwiftletEngine"]),
        // The parsers, for the fuzz targets in Fuzz/ (a package of its own that depends on this one).
        .library(name: "SwiftletFormats", targets: ["SwiftletFormats"]),
        .library(name: "SwiftletJinja", targets: ["SwiftletJinja"]),
        .library(name: "SwiftletTokenizers", targets: ["SwiftletTokenizers"]),
        .library(name: "SwiftletAPI", targets: ["SwiftletAPI"]),
        .library(name: "SwiftletServer", targets: ["SwiftletServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // The C kernels, in floors: each depends only on the ones above it here. CSwiftletRuntime
        // (dispatch level, thread pool, shared SIMD helpers) exports only sw_cpu.h and sw_pool.h to
        // Swift (include/module.modulemap); its sw_simd.h and sw_neon.h are for the C targets.
        .target(name: "CSwiftletRuntime", cSettings: kernelCFlags),
        // oneDNN (Debian libdnnl-dev) does the multi-token matmuls; scripts/bootstrap.sh installs it.
        .target(
            name: "CSwiftletMatmul", dependencies: ["CSwiftletRuntime"], cSettings: kernelCFlags,
            linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp"), .linkedLibrary("m")]),
        .target(name: "CSwiftletAttention", dependencies: ["CSwiftletRuntime"], cSettings: kernelCFlags),
        .target(name: "CSwiftletOps", dependencies: ["CSwiftletRuntime"], cSettings: kernelCFlags),
        // Tensor parallelism runs on MPI (Open MPI from Debian's libopenmpi-dev and openmpi-bin;
        // scripts/bootstrap.sh installs them): CSwiftletMPI wraps the calls it needs as plain C
        // with deadlines, SwiftletDistributed gives models and the engine its collectives.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CSwiftletMPI", dependencies: ["CMPI"], cSettings: kernelCFlags),
        .target(name: "SwiftletDistributed", dependencies: ["CSwiftletMPI"], swiftSettings: swiftFast),
        .target(
            name: "SwiftletKernels", dependencies: ["CSwiftletRuntime", "CSwiftletMatmul", "CSwiftletAttention", "CSwiftletOps"],
            swiftSettings: swiftFast),
        .target(name: "SwiftletFormats", dependencies: ["SwiftletKernels"], swiftSettings: swiftFast),
        .target(name: "SwiftletJinja", dependencies: ["SwiftletFormats"], swiftSettings: swiftFast),
        // Structured outputs: JSON Schema, regular expressions and GBNF grammars compiled to byte
        // automata with token masks over a vocabulary (the engine's sampler applies them).
        .target(name: "SwiftletGrammar", dependencies: ["SwiftletFormats"], swiftSettings: swiftFast),
        .target(name: "SwiftletTokenizers", dependencies: ["SwiftletFormats", "SwiftletJinja"], swiftSettings: swiftFast),
        .target(name: "SwiftletModels", dependencies: ["SwiftletKernels", "SwiftletFormats", "SwiftletTokenizers", "SwiftletDistributed"], swiftSettings: swiftFast),
        .target(
            name: "SwiftletEngine", dependencies: ["SwiftletModels", "SwiftletTokenizers", "SwiftletGrammar", "SwiftletFormats", "SwiftletKernels"],
            swiftSettings: swiftFast),
        // OpenAI-style request bodies read into engine parameters, and the API's error shape: no
        // HTTP framework below this floor, so the decoding is tested and fuzzed on its own.
        .target(name: "SwiftletAPI", dependencies: ["SwiftletEngine", "SwiftletFormats"], swiftSettings: swiftFast),
        .target(
            name: "SwiftletServer",
            dependencies: [
                "SwiftletAPI", "SwiftletEngine", "SwiftletGrammar", "SwiftletModels", "SwiftletTokenizers", "SwiftletJinja", "SwiftletFormats", "SwiftletKernels",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftFast),
        .executableTarget(
            name: "swiftlet",
            dependencies: [
                "SwiftletServer", "SwiftletAPI", "SwiftletEngine", "SwiftletGrammar", "SwiftletModels", "SwiftletTokenizers", "SwiftletFormats",
                "SwiftletKernels", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftFast),
        // Paths of fixtures and model files and the mock model, shared by every test target.
        .target(name: "SwiftletTestSupport", dependencies: ["SwiftletEngine", "SwiftletModels", "SwiftletKernels", "SwiftletDistributed"],
                path: "Tests/SwiftletTestSupport"),
        .testTarget(name: "SwiftletKernelsTests", dependencies: ["SwiftletKernels", "SwiftletTestSupport"]),
        .testTarget(name: "SwiftletFormatsTests", dependencies: ["SwiftletFormats", "SwiftletTestSupport"]),
        .testTarget(name: "SwiftletGrammarTests", dependencies: ["SwiftletGrammar", "SwiftletFormats", "SwiftletTokenizers", "SwiftletTestSupport"]),
        .testTarget(name: "SwiftletTokenizersTests", dependencies: ["SwiftletTokenizers", "SwiftletJinja", "SwiftletFormats", "SwiftletTestSupport"]),
        .testTarget(
            name: "SwiftletModelsTests",
            dependencies: ["SwiftletModels", "SwiftletTokenizers", "SwiftletFormats", "SwiftletDistributed", "SwiftletTestSupport"]),
        .testTarget(name: "SwiftletEngineTests", dependencies: ["SwiftletEngine", "SwiftletGrammar", "SwiftletModels", "SwiftletTokenizers", "SwiftletFormats", "SwiftletKernels", "SwiftletTestSupport"]),
        .testTarget(name: "SwiftletServerTests", dependencies: ["SwiftletServer", "SwiftletAPI", "SwiftletEngine", "SwiftletGrammar", "SwiftletModels", "SwiftletTokenizers", "SwiftletFormats", "SwiftletKernels", "SwiftletTestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
