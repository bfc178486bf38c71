import Foundation
import SwiftletKernels

/// A model ready to run: weights, configuration and tokenizer.
public struct LoadedModel {
    public let path: String
    public let model: any CausalLanguageModel
    public let config: ModelConfig
    public let tokenizer: any Tokenizer
    /// Size of the mapped model file.
    public let fileBytes: Int
    public let gguf: GGUFFile?
}

/// Loads a model file. GGUF files are supported here; the architecture must be a LLaMA-family one.
public func loadModel(path: String, precision: ComputePrecision = .fast,
                      progress: ((Int, Int) -> Void)? = nil) throws -> LoadedModel {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw ModelLoadError.io(path: path, reason: "no such file")
    }
    guard !isDir.boolValue else {
        throw ModelLoadError.unsupported(path: path, reason: "model directories are not supported yet; pass a .gguf file")
    }
    let gguf = try GGUFFile(path: path)
    let config = try ModelConfig(gguf: gguf)
    let supported = ["llama", "mistral", "qwen2"]
    guard supported.contains(config.architecture) else {
        throw ModelLoadError.unsupported(path: path, reason: "architecture '\(config.architecture)' (supported: \(supported.joined(separator: ", ")))")
    }
    let tokenizer = try loadTokenizer(gguf: gguf)
    let model = try LlamaModel(gguf: gguf, config: config, precision: precision, progress: progress)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    return LoadedModel(path: path, model: model, config: config, tokenizer: tokenizer, fileBytes: size ?? 0, gguf: gguf)
}

/// Where the default model lives: `$SWIFTLET_MODEL_DIR` or `~/.cache/swiftlet/models`.
public enum DefaultModel {
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    public static var directory: String {
        if let d = ProcessInfo.processInfo.environment["SWIFTLET_MODEL_DIR"], !d.isEmpty { return d }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swiftlet/models").path
    }

    public static var path: String { (directory as NSString).appendingPathComponent(fileName) }
}
