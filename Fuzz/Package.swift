// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for Swiftlet's parsers, one executable each. Built by scripts/fuzz.sh with
// `-sanitize=fuzzer,address`: libFuzzer supplies `main` and calls each target's
// `LLVMFuzzerTestOneInput` with mutated inputs, starting from the seeds in Corpus/<target>.
let package = Package(
    name: "SwiftletFuzz",
    dependencies: [.package(name: "Swiftlet", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
        .executableTarget(name: "FuzzGGUF", dependencies: [
            "FuzzSupport", .product(name: "SwiftletFormats", package: "Swiftlet"), .product(name: "SwiftletTokenizers", package: "Swiftlet"),
        ]),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzSupport", .product(name: "SwiftletFormats", package: "Swiftlet")]),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport", .product(name: "SwiftletFormats", package: "Swiftlet")]),
        .executableTarget(name: "FuzzTokenizerJSON", dependencies: ["FuzzSupport", .product(name: "SwiftletTokenizers", package: "Swiftlet")]),
        .executableTarget(name: "FuzzJinja", dependencies: [
            "FuzzSupport", .product(name: "SwiftletJinja", package: "Swiftlet"), .product(name: "SwiftletTokenizers", package: "Swiftlet"),
        ]),
        .executableTarget(name: "FuzzRequest", dependencies: [
            "FuzzSupport", .product(name: "SwiftletAPI", package: "Swiftlet"), .product(name: "SwiftletEngine", package: "Swiftlet"),
            .product(name: "SwiftletFormats", package: "Swiftlet"),
            .product(name: "SwiftletTokenizers", package: "Swiftlet"), .product(name: "SwiftletJinja", package: "Swiftlet"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)
