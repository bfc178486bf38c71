import Foundation
import SwiftletFormats
import SwiftletKernels

/// What a model is for: generating text, or embedding it.
public enum ModelKind: String, Sendable {
    case generation
    case embedding
}

/// Called while weights load with (layers done, total).
public typealias LoadProgress = (Int, Int) -> Void

/// One architecture Swiftlet runs: the names files give it and how to build it. Each
/// architecture's file declares its entries; `ModelRegistry` lists them, and nothing else names
/// an architecture.
public struct ModelArchitecture: @unchecked Sendable {
    /// Hugging Face `model_type`, also the `ModelConfig.architecture` of loaded models.
    public internal(set) var modelType: String
    /// llama.cpp's `general.architecture`, when GGUF files of it are run.
    public internal(set) var ggufArchitecture: String? = nil
    /// Hugging Face classes (`config.json` `architectures`) whose checkpoints load as this.
    public internal(set) var huggingFaceClasses: [String]
    public internal(set) var kind = ModelKind.generation
    /// The shared configuration from `config.json`.
    var configure: (HuggingFaceConfig) throws -> ModelConfig
    /// Whether the loaders take a `TensorShard`; `loadModel` passes one only to those that do.
    public internal(set) var tensorParallel = false
    var loadGGUF: ((GGUFFile, ModelConfig, ComputePrecision, TensorShard?, LoadProgress?) throws -> any CausalLanguageModel)? = nil
    var loadCheckpoint: ((SafetensorsCheckpoint, ModelConfig, HuggingFaceConfig, ComputePrecision, TensorShard?, LoadProgress?) throws
        -> any CausalLanguageModel)? = nil
    /// The family's chat template, for files that carry none (llama.cpp has such built-ins too).
    public internal(set) var builtinChatTemplateSource: String? = nil
}

/// Every architecture Swiftlet runs, from a GGUF `general.architecture` or a `config.json` to
/// its loader (mlx-swift-lm's `LLMTypeRegistry` plays this part there).
public enum ModelRegistry {
    public static let architectures: [ModelArchitecture] = [.llama, .mistral, .qwen2, .qwen3, .phi3, .gemma3, .gpt2, .opt, .bert]

    /// The llama.cpp architectures whose GGUF files load.
    public static var ggufArchitectures: [String] { architectures.compactMap(\.ggufArchitecture) }

    /// Hugging Face classes of a kind, for help texts and errors.
    public static func huggingFaceClasses(_ kind: ModelKind) -> [String] {
        architectures.filter { $0.kind == kind }.flatMap(\.huggingFaceClasses)
    }

    static var ggufListing: String { "supported GGUF architectures: \(ggufArchitectures.joined(separator: ", "))" }

    /// Refuses tensor parallelism for an architecture whose loaders do not take a shard.
    static func checkTensorParallel(_ a: ModelArchitecture, shard: TensorShard?, path: String) throws {
        guard shard != nil, !a.tensorParallel else { return }
        let supported = architectures.filter(\.tensorParallel).map(\.modelType).joined(separator: ", ")
        throw ModelLoadError.unsupported(path: path, reason: "tensor parallelism is not supported for the \(a.modelType) architecture (supported: \(supported))")
    }

    static var huggingFaceListing: String {
        "supported: \(huggingFaceClasses(.generation).joined(separator: ", ")); for embeddings: \(huggingFaceClasses(.embedding).joined(separator: ", "))"
    }

    /// The architecture of a GGUF file.
    static func architecture(gguf: GGUFFile) throws -> ModelArchitecture {
        guard let name = gguf.metadata["general.architecture"]?.string else {
            throw ModelLoadError.malformed(path: gguf.path, reason: "missing metadata key 'general.architecture'")
        }
        guard let a = architectures.first(where: { $0.ggufArchitecture == name }) else {
            throw ModelLoadError.unsupported(path: gguf.path, reason: "GGUF architecture '\(name)' (\(ggufListing))")
        }
        return a
    }

    /// The architecture of a `config.json`. `architectures` decides when present, since it names
    /// the class whose weights are stored (a `model_type` alone may describe a base model).
    static func architecture(config: HuggingFaceConfig) throws -> ModelArchitecture {
        let root = config.root
        if let classes = root["architectures"].array?.compactMap(\.string), !classes.isEmpty {
            for c in classes {
                if let a = architectures.first(where: { $0.huggingFaceClasses.contains(c) }) { return a }
            }
            throw ModelLoadError.unsupported(path: config.path, reason: "architectures \(classes.joined(separator: ", ")) (\(huggingFaceListing))")
        }
        guard let type = root["model_type"].string else {
            throw ModelLoadError.malformed(path: config.path, reason: "config.json names no 'architectures' or 'model_type' (\(huggingFaceListing))")
        }
        guard let a = architectures.first(where: { $0.modelType == type }) else {
            throw ModelLoadError.unsupported(path: config.path, reason: "model_type '\(type)' (\(huggingFaceListing))")
        }
        return a
    }

    /// Whether a path holds a generation or an embedding model. GGUF files are generation models.
    public static func kind(path: String) throws -> ModelKind {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelLoadError.io(path: path, reason: "no such file")
        }
        guard isDir.boolValue else { return .generation }
        return try architecture(config: HuggingFaceConfig(directory: URL(fileURLWithPath: path))).kind
    }
}

extension ModelConfig {
    /// Reads `config.json` from a Hugging Face model directory of a registered architecture.
    public init(directory: URL) throws {
        try self.init(huggingFace: HuggingFaceConfig(directory: directory))
    }

    /// Parses a Hugging Face `config.json` of a registered architecture.
    ///
    /// - Parameter path: names the file in error messages.
    public init(configJSON data: Data, path: String = "config.json") throws {
        try self.init(huggingFace: HuggingFaceConfig(data: data, path: path))
    }

    init(huggingFace config: HuggingFaceConfig) throws {
        self = try ModelRegistry.architecture(config: config).configure(config)
        try validate(path: config.path)
    }
}
