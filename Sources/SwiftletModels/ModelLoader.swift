import Foundation
import SwiftletKernels
import SwiftletFormats
import SwiftletTokenizers

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

/// Loads a model: a GGUF file of one of `GGUFArchitectures.supported`, or a Hugging Face model
/// directory (`config.json`, safetensors weights, `tokenizer.json`, optionally
/// `generation_config.json`) of one of `HuggingFaceArchitectures.supported`.
public func loadModel(path: String, precision: ComputePrecision = .fast,
                      progress: ((Int, Int) -> Void)? = nil) throws -> LoadedModel {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw ModelLoadError.io(path: path, reason: "no such file")
    }
    if isDir.boolValue {
        return try loadHuggingFaceModel(directory: URL(fileURLWithPath: path), precision: precision, progress: progress)
    }
    let gguf = try GGUFFile(path: path)
    // Checked before the configuration is read, whose keys depend on the architecture.
    if let arch = gguf.metadata["general.architecture"]?.string, !GGUFArchitectures.supported.contains(arch) {
        throw ModelLoadError.unsupported(path: path, reason: "GGUF architecture '\(arch)' (\(GGUFArchitectures.listing))")
    }
    let config = try ModelConfig(gguf: gguf)
    let tokenizer = try loadTokenizer(gguf: gguf)
    let model: any CausalLanguageModel
    switch config.architecture {
    case "gpt2":
        model = try GPT2Model(gguf: gguf, config: config, precision: precision, progress: progress)
    default:
        model = try LlamaModel(gguf: gguf, config: config, precision: precision, progress: progress)
    }
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    return LoadedModel(path: path, model: model, config: config, tokenizer: tokenizer, fileBytes: size ?? 0, gguf: gguf)
}

/// The llama.cpp architectures (`general.architecture`) whose GGUF files `loadModel` runs.
public enum GGUFArchitectures {
    /// `llama`, `mistral` and `qwen2` run as `LlamaModel`, `gpt2` as `GPT2Model`.
    public static let supported = ["llama", "mistral", "qwen2", "gpt2"]

    /// The supported architectures, for error messages.
    static var listing: String { "supported GGUF architectures: \(supported.joined(separator: ", "))" }
}

/// What a model is for: generating text, or embedding it.
public enum ModelKind: String, Sendable {
    case generation
    case embedding
}

/// The Hugging Face model classes a model directory may name in `config.json`'s `architectures`.
public enum HuggingFaceArchitectures {
    /// Text generation classes (loaded by `loadModel`), class name to `model_type`.
    public static let supported: [(architecture: String, modelType: String)] = [
        ("LlamaForCausalLM", "llama"), ("MistralForCausalLM", "mistral"), ("Qwen2ForCausalLM", "qwen2"),
        ("GPT2LMHeadModel", "gpt2"), ("OPTForCausalLM", "opt"),
    ]

    /// Encoder classes served as embedding models (loaded by `loadEmbeddingModel`).
    public static let embedding: [(architecture: String, modelType: String)] = [
        ("BertModel", "bert"), ("BertForMaskedLM", "bert"),
    ]

    static var all: [(architecture: String, modelType: String, kind: ModelKind)] {
        supported.map { ($0.architecture, $0.modelType, .generation) } + embedding.map { ($0.architecture, $0.modelType, .embedding) }
    }

    /// Every supported class, by kind, for error messages.
    static var listing: String {
        "supported: \(supported.map(\.architecture).joined(separator: ", ")); for embeddings: \(embedding.map(\.architecture).joined(separator: ", "))"
    }

    /// Whether a model directory holds a generation or an embedding model. GGUF files are
    /// generation models.
    ///
    /// - Throws: `ModelLoadError.unsupported` listing the supported classes.
    public static func kind(path: String) throws -> ModelKind {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelLoadError.io(path: path, reason: "no such file")
        }
        return isDir.boolValue ? try kind(directory: URL(fileURLWithPath: path)) : .generation
    }

    static func kind(directory: URL) throws -> ModelKind {
        try resolve(configURL: directory.appendingPathComponent("config.json")).kind
    }

    /// The `model_type` to load a directory as. `architectures` decides when present, since it
    /// names the class whose weights are stored (a `model_type` alone may describe a base model).
    ///
    /// - Throws: `ModelLoadError.unsupported` listing the supported classes.
    static func resolve(configURL: URL) throws -> (modelType: String, kind: ModelKind) {
        let data: Data
        do { data = try Data(contentsOf: configURL) } catch {
            throw ModelLoadError.io(path: configURL.path, reason: "cannot read config.json: \(error.localizedDescription)")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelLoadError.malformed(path: configURL.path, reason: "config.json is not a JSON object")
        }
        let known = all
        if let archs = root["architectures"] as? [String], !archs.isEmpty {
            guard let match = archs.lazy.compactMap({ a in known.first { $0.architecture == a } }).first else {
                throw ModelLoadError.unsupported(path: configURL.path,
                                                 reason: "architectures \(archs.joined(separator: ", ")) (\(listing))")
            }
            return (match.modelType, match.kind)
        }
        guard let type = root["model_type"] as? String, let match = known.first(where: { $0.modelType == type }) else {
            let named = (root["model_type"] as? String).map { "model_type '\($0)'" } ?? "no architectures or model_type"
            throw ModelLoadError.unsupported(path: configURL.path, reason: "\(named) (\(listing))")
        }
        return (type, match.kind)
    }
}

/// Loads a Hugging Face model directory.
func loadHuggingFaceModel(directory: URL, precision: ComputePrecision,
                          progress: ((Int, Int) -> Void)?) throws -> LoadedModel {
    let (modelType, kind) = try HuggingFaceArchitectures.resolve(configURL: directory.appendingPathComponent("config.json"))
    guard kind == .generation else {
        throw ModelLoadError.unsupported(path: directory.path, reason: "an embedding model (\(modelType)) cannot generate text; load it with loadEmbeddingModel or serve it for /v1/embeddings")
    }
    var config: ModelConfig
    var optOptions: OPTModel.Options?
    if modelType == "opt" {
        (config, optOptions) = try OPTModel.configuration(directory: directory)
    } else {
        config = try ModelConfig(directory: directory)
    }
    // generation_config.json is what transformers' generate() stops on; it may list more EOS ids.
    let generationURL = directory.appendingPathComponent("generation_config.json")
    if let data = try? Data(contentsOf: generationURL),
       let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let eos = root["eos_token_id"] {
        let ids = (eos as? [Any] ?? [eos]).compactMap(jsonInteger)
        if !ids.isEmpty { config.eosTokenIds = ids }
    }

    let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
    guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
        throw ModelLoadError.io(path: directory.path, reason: "no tokenizer.json in the model directory")
    }
    let tokenizer = try loadTokenizer(tokenizerJSON: tokenizerURL, config: directory.appendingPathComponent("tokenizer_config.json"))
    let checkpoint = try SafetensorsCheckpoint(directory: directory)
    let model: any CausalLanguageModel
    switch modelType {
    case "gpt2":
        model = try GPT2Model(checkpoint: checkpoint, config: config, precision: precision, progress: progress)
    case "opt":
        model = try OPTModel(checkpoint: checkpoint, config: config, options: optOptions!, precision: precision, progress: progress)
    default:
        model = try LlamaModel(checkpoint: checkpoint, config: config, precision: precision, progress: progress)
    }
    let bytes = checkpoint.files.reduce(0) { total, file in
        total + ((try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0)
    }
    return LoadedModel(path: directory.path, model: model, config: config, tokenizer: tokenizer, fileBytes: bytes, gguf: nil)
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
