import Foundation
import SwiftletKernels
import SwiftletFormats
import SwiftletTokenizers

/// A model ready to run: weights, configuration, tokenizer and chat template.
public struct LoadedModel {
    public let path: String
    public let model: any CausalLanguageModel
    public let config: ModelConfig
    public let tokenizer: any Tokenizer
    /// The model's own chat template: a GGUF file's `tokenizer.chat_template`, or a directory's
    /// `chat_template.jinja` or `tokenizer_config.json` `chat_template`; nil when it has none.
    public let chatTemplate: ChatTemplate?
    /// Size of the mapped model file.
    public let fileBytes: Int
}

/// Loads a model: a GGUF file or a Hugging Face model directory (`config.json`, safetensors
/// weights, `tokenizer.json`, optionally `tokenizer_config.json` and `generation_config.json`)
/// of a generative architecture in `ModelRegistry`.
///
/// With `shard`, only that rank's share of the weights is read and held (tensor parallelism; see
/// `TensorShard`): `config` is still the whole model's, and the cache the model is run with holds
/// `model.cacheKVHeads` kv heads. Architectures that cannot be sharded throw `.unsupported`.
public func loadModel(path: String, precision: ComputePrecision = .fast, shard: TensorShard? = nil,
                      progress: LoadProgress? = nil) throws -> LoadedModel {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw ModelLoadError.io(path: path, reason: "no such file")
    }
    if isDir.boolValue {
        return try loadHuggingFaceModel(directory: URL(fileURLWithPath: path), precision: precision, shard: shard, progress: progress)
    }
    let gguf = try GGUFFile(path: path)
    // Checked before the configuration is read, whose keys depend on the architecture.
    let architecture = try ModelRegistry.architecture(gguf: gguf)
    try ModelRegistry.checkTensorParallel(architecture, shard: shard, path: path)
    let config = try ModelConfig(gguf: gguf)
    let tokenizer = try loadTokenizer(gguf: gguf)
    let model = try architecture.loadGGUF!(gguf, config, precision, shard, progress)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    return LoadedModel(path: path, model: model, config: config, tokenizer: tokenizer,
                       chatTemplate: (try? ChatTemplate(gguf: gguf)) ?? architecture.builtinChatTemplate(gguf: gguf), fileBytes: size)
}

/// Loads a Hugging Face model directory.
func loadHuggingFaceModel(directory: URL, precision: ComputePrecision, shard: TensorShard? = nil,
                          progress: LoadProgress?) throws -> LoadedModel {
    let hf = try HuggingFaceConfig(directory: directory)
    let architecture = try ModelRegistry.architecture(config: hf)
    guard let load = architecture.loadCheckpoint, architecture.kind == .generation else {
        throw ModelLoadError.unsupported(path: directory.path, reason: "an embedding model (\(architecture.modelType)) cannot generate text; load it with loadEmbeddingModel or serve it for /v1/embeddings")
    }
    try ModelRegistry.checkTensorParallel(architecture, shard: shard, path: directory.path)
    var config = try ModelConfig(huggingFace: hf)
    // generation_config.json is what transformers' generate() stops on; it may list more EOS ids.
    let generationURL = directory.appendingPathComponent("generation_config.json")
    if let data = try? Data(contentsOf: generationURL), let root = try? JSONValue.parse(data) {
        let eos = root["eos_token_id"]
        let ids = (eos.array ?? [eos]).compactMap(\.int)
        if !ids.isEmpty { config.eosTokenIds = ids }
    }

    let tokenizer = try loadTokenizer(directory: directory)
    let checkpoint = try SafetensorsCheckpoint(directory: directory)
    let model = try load(checkpoint, config, hf, precision, shard, progress)
    let bytes = checkpoint.files.reduce(0) { total, file in
        total + ((try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0)
    }
    // A template that is missing or does not parse leaves the model completing text only, as for
    // GGUF files; chat requests then say that it has no template.
    return LoadedModel(path: directory.path, model: model, config: config, tokenizer: tokenizer,
                       chatTemplate: (try? ChatTemplate(modelDirectory: directory)) ?? architecture.builtinChatTemplate(tokenizer: tokenizer),
                       fileBytes: bytes)
}

/// The tokenizer of a model directory: `tokenizer.json`, with `tokenizer_config.json` if present.
func loadTokenizer(directory: URL) throws -> any Tokenizer {
    let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
    guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
        throw ModelLoadError.io(path: directory.path, reason: "no tokenizer.json in the model directory")
    }
    return try loadTokenizer(tokenizerJSON: tokenizerURL, config: directory.appendingPathComponent("tokenizer_config.json"))
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
