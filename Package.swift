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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // oneDNN (Debian libdnnl-dev) does the multi-token matmuls; scripts/bootstrap.sh installs it.
        .target(
            name: "CSwiftletKernels", cSettings: kernelCFlags,
            linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp"), .linkedLibrary("m")]),
        .target(name: "SwiftletKernels", dependencies: ["CSwiftletKernels"], swiftSettings: swiftFast),
        .target(name: "SwiftletModels", dependencies: ["SwiftletKernels"], swiftSettings: swiftFast),
        .target(name: "SwiftletEngine", dependencies: ["SwiftletModels"], swiftSettings: swiftFast),
        .target(name: "SwiftletServer", dependencies: ["SwiftletEngine"], swiftSettings: swiftFast),
        .executableTarget(
            name: "swiftlet",
            dependencies: [
                "SwiftletServer", "SwiftletEngine", "SwiftletModels", "SwiftletKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftFast),
        .testTarget(name: "SwiftletKernelsTests", dependencies: ["SwiftletKernels"]),
        .testTarget(name: "SwiftletModelsTests", dependencies: ["SwiftletModels"]),
        .testTarget(name: "SwiftletEngineTests", dependencies: ["SwiftletEngine"]),
        .testTarget(name: "SwiftletServerTests", dependencies: ["SwiftletServer"]),
    ],
    swiftLanguageModes: [.v5]
)
