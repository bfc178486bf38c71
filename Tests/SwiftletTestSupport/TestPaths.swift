import Foundation
import SwiftletModels

/// Where every test target finds the checked-in fixtures, the real model files and the built
/// binary. Located from this source file rather than through SwiftPM resources, so that tests
/// can hand real file paths to the mmap readers.
public enum TestPaths {
    public static let repoRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures")

    public static func gguf(_ name: String) -> String { fixtures.appendingPathComponent("gguf/\(name)").path }
    public static func safetensors(_ name: String) -> String { fixtures.appendingPathComponent("safetensors/\(name)").path }
    public static func config(_ name: String) -> URL { fixtures.appendingPathComponent("config/\(name)") }
    /// Outputs recorded from Hugging Face transformers by scripts/make_reference_fixtures.py.
    public static func reference(_ name: String) -> URL { fixtures.appendingPathComponent("reference/\(name)") }

    /// Raw little-endian float32 values written by scripts/make_gguf_fixtures.py.
    public static func expectedFloats(_ tensor: String) throws -> [Float] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("gguf/expected/\(tensor).f32"))
        return data.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    /// stories260K from `../shared/models` beside the repository (always present in CI).
    public static let stories260K = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/models/stories260K.gguf").path
    /// stories260K, if this checkout has it.
    public static var stories260KIfPresent: String? { FileManager.default.fileExists(atPath: stories260K) ? stories260K : nil }

    /// The default model, SmolLM2-135M-Instruct Q4_1, installed by scripts/bootstrap.sh
    /// (`SWIFTLET_MODEL_PATH` names another copy).
    public static var smolLM2: String {
        if let p = ProcessInfo.processInfo.environment["SWIFTLET_MODEL_PATH"], !p.isEmpty { return p }
        return installedSmolLM2
    }
    /// Where scripts/bootstrap.sh installs SmolLM2, whatever `SWIFTLET_MODEL_PATH` names.
    public static var installedSmolLM2: String { DefaultModel.path }
    /// SmolLM2, if installed.
    public static var smolLM2IfInstalled: String? { FileManager.default.fileExists(atPath: smolLM2) ? smolLM2 : nil }

    /// Gemma 3 270M Q4_K_M, installed by `scripts/bootstrap.sh --with-gemma3`
    /// (`SWIFTLET_GEMMA3_PATH` names another copy).
    public static var gemma3: String {
        if let p = ProcessInfo.processInfo.environment["SWIFTLET_GEMMA3_PATH"], !p.isEmpty { return p }
        return (DefaultModel.directory as NSString).appendingPathComponent(ModelAliases.files["gemma3"]!)
    }
    /// Gemma 3, if installed.
    public static var gemma3IfInstalled: String? { FileManager.default.fileExists(atPath: gemma3) ? gemma3 : nil }

    /// all-MiniLM-L6-v2 as scripts/bootstrap.sh installs it, if installed.
    public static let miniLM: String? = {
        let dir = (DefaultModel.directory as NSString).appendingPathComponent("all-MiniLM-L6-v2")
        return FileManager.default.fileExists(atPath: dir + "/model.safetensors") ? dir : nil
    }()

    /// A script of the real HTTP clients the server tests run.
    public static func clientScript(_ name: String) -> String { repoRoot.appendingPathComponent("Tests/ServerClients/\(name)").path }

    /// The `swiftlet` binary built beside the tests.
    public static var swiftletBinary: String? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swiftlet").path,
            repoRoot.appendingPathComponent(".build/release/swiftlet").path,
            repoRoot.appendingPathComponent(".build/debug/swiftlet").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
