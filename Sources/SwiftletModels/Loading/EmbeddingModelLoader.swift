import Foundation
import SwiftletKernels
import SwiftletFormats
import SwiftletTokenizers

/// An embedding model ready to run: encoder, pooling, tokenizer and input limit.
public struct LoadedEmbeddingModel: @unchecked Sendable {
    public let path: String
    public let model: BertModel
    public let config: ModelConfig
    public let tokenizer: any Tokenizer
    public let pooling: EmbeddingPooling
    /// Longest input in tokens, special tokens included (sentence-transformers' `max_seq_length`,
    /// else the position table's size). Longer texts are truncated to it.
    public let maxSequenceLength: Int
    /// Whether text is lower-cased before tokenization (`do_lower_case` in `sentence_bert_config.json`).
    public let lowercase: Bool
    /// Special tokens the tokenizer puts before and after the text ([CLS] and [SEP] for BERT).
    public let prefixIDs: [Int]
    public let suffixIDs: [Int]

    /// Width of the embeddings.
    public var dimensions: Int { pooling.dimensions(hiddenSize: config.hiddenSize) }

    /// Token ids of `text` as sentence-transformers feeds them to the model: special tokens
    /// added, and the text's own tokens cut so that the whole fits `maxSequenceLength`.
    public func tokenize(_ text: String) -> [Int] {
        let words = tokenizer.encode(lowercase ? text.lowercased() : text, addSpecialTokens: false, parseSpecial: true)
        let room = max(0, maxSequenceLength - prefixIDs.count - suffixIDs.count)
        return prefixIDs + words.prefix(room) + suffixIDs
    }

    /// Embeds a flat batch of token-id sequences, each non-empty and at most `maxSequenceLength`
    /// long (ids below the vocabulary size). Not reentrant, like the encoder.
    public func embed(_ sequences: [[Int]]) -> [[Float]] {
        guard !sequences.isEmpty else { return [] }
        let lengths = sequences.map(\.count)
        let hidden = model.encode(tokens: sequences.flatMap { $0.map(Int32.init) }, sequenceLengths: lengths)
        return pooling.pool(hidden, hiddenSize: config.hiddenSize, sequenceLengths: lengths)
    }
}

/// Loads a sentence-transformers / Hugging Face encoder directory (`config.json` naming one of
/// an embedding architecture in `ModelRegistry`, safetensors weights, `tokenizer.json`, and optionally
/// `modules.json`, the pooling config and `sentence_bert_config.json`).
///
/// Precision defaults to fp32: with 8-bit weights (`.fast`) all-MiniLM-L6-v2's embeddings drift to
/// a cosine of 0.998 from sentence-transformers' on some inputs, for about a quarter more speed.
public func loadEmbeddingModel(path: String, precision: ComputePrecision = .fp32,
                               progress: ((Int, Int) -> Void)? = nil) throws -> LoadedEmbeddingModel {
    let directory = URL(fileURLWithPath: path)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
        throw ModelLoadError.io(path: path, reason: "an embedding model must be a Hugging Face model directory")
    }
    let hf = try HuggingFaceConfig(directory: directory)
    guard try ModelRegistry.architecture(config: hf).kind == .embedding else {
        throw ModelLoadError.unsupported(path: path, reason: "not an embedding model (supported: \(ModelRegistry.huggingFaceClasses(.embedding).joined(separator: ", ")))")
    }
    let (config, tokenTypes) = try BertModel.configuration(hf)
    let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
    let tokenizer = try loadTokenizer(directory: directory)
    let pooling = try EmbeddingPooling(directory: directory)

    var maxLength = config.maxPositionEmbeddings
    var lowercase = false
    let sbertURL = directory.appendingPathComponent("sentence_bert_config.json")
    if let data = try? Data(contentsOf: sbertURL) {
        guard let root = try? JSONValue.parse(data), root.object != nil else {
            throw ModelLoadError.malformed(path: sbertURL.path, reason: "not a JSON object")
        }
        if let n = root["max_seq_length"].int {
            guard n > 0 else { throw ModelLoadError.malformed(path: sbertURL.path, reason: "max_seq_length \(n) is not positive") }
            maxLength = min(n, config.maxPositionEmbeddings)
        }
        lowercase = root["do_lower_case"].bool ?? false
    }

    // Where the text goes between the special tokens: find a probe's own ids inside its encoding.
    let probe = "a"
    let plain = tokenizer.encode(probe, addSpecialTokens: false, parseSpecial: false)
    let full = tokenizer.encode(probe, addSpecialTokens: true, parseSpecial: false)
    guard !plain.isEmpty, let at = (0...max(0, full.count - plain.count)).first(where: { full.dropFirst($0).starts(with: plain) }),
          full.count >= plain.count else {
        throw ModelLoadError.malformed(path: tokenizerURL.path, reason: "cannot tell the special tokens from the text")
    }
    let prefix = Array(full[..<at]), suffix = Array(full[(at + plain.count)...])
    guard prefix.count + suffix.count < maxLength else {
        throw ModelLoadError.malformed(path: path, reason: "max_seq_length \(maxLength) leaves no room for text")
    }

    let checkpoint = try SafetensorsCheckpoint(directory: directory)
    let model = try BertModel(checkpoint: checkpoint, config: config, tokenTypes: tokenTypes, precision: precision, progress: progress)
    return LoadedEmbeddingModel(path: path, model: model, config: config, tokenizer: tokenizer, pooling: pooling,
                                maxSequenceLength: maxLength, lowercase: lowercase, prefixIDs: prefix, suffixIDs: suffix)
}
