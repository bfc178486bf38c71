import Foundation
import SwiftletKernels
import SwiftletFormats

/// The BERT encoder (all-MiniLM-L6-v2 and other sentence-transformers models): learned absolute
/// positions plus a token-type embedding, post-LayerNorm blocks with biases everywhere,
/// bidirectional attention and an exact-GELU feed-forward network. It returns hidden states;
/// `EmbeddingPooling` turns them into one vector per input.
///
/// Inputs arrive as a flat batch, sequences laid end to end with no padding, as the decoders take
/// them. Attention runs through the paged kernel on a private scratch cache: every token is given
/// to the kernel as a one-token query whose context is its whole sequence, which makes the
/// kernel's causal mask admit every key of the sequence.
///
/// Not reentrant: one `encode` at a time (it reuses scratch buffers and the scratch cache).
public final class BertModel: @unchecked Sendable {
    public let config: ModelConfig
    public let precision: ComputePrecision
    /// Rows of the token-type table (`type_vocab_size`); every input here is a single segment, type 0.
    public let tokenTypes: Int

    private let layers: [LayerNormBlock]
    private let embedding: WeightSource
    /// Position rows with the token-type-0 row already added: the two are always summed together.
    private let positionsAndType: [Float]
    private let embeddingNorm: LayerNormWeights
    private let activation: FeedForwardActivation
    private let checkpoint: SafetensorsCheckpoint
    private let workspace = Workspace()
    private var cache: PagedKVCache?
    public let residentBytes: Int

    /// Tokens per block of the scratch cache.
    static let blockSize = 16

    /// Reads a BERT `config.json`: the shared configuration and the token-type count.
    public static func configuration(_ c: HuggingFaceConfig) throws -> (config: ModelConfig, tokenTypes: Int) {
        let config = try ModelConfig(huggingFace: c)
        guard config.architecture == "bert" else {
            throw ModelLoadError.unsupported(path: c.path, reason: "model_type '\(config.architecture)' is not a BERT encoder")
        }
        if let kind = try c.optionalString("position_embedding_type"), kind != "absolute" {
            throw ModelLoadError.unsupported(path: c.path, reason: "position_embedding_type '\(kind)' (supported: absolute)")
        }
        let types = try c.optionalInt("type_vocab_size") ?? 2
        guard types > 0, types < 1 << 16 else {
            throw ModelLoadError.malformed(path: c.path, reason: "type_vocab_size \(types) is out of range")
        }
        return (config, types)
    }

    /// Loads the encoder of a Hugging Face `BertModel` (or `BertForMaskedLM`, whose encoder sits
    /// under "bert."; its prediction head is not loaded). `progress` is called with (layers done, total).
    public init(checkpoint: SafetensorsCheckpoint, config: ModelConfig, tokenTypes: Int = 2,
                precision: ComputePrecision = .fp32, progress: ((Int, Int) -> Void)? = nil) throws {
        self.config = config
        self.precision = precision
        self.tokenTypes = tokenTypes
        self.checkpoint = checkpoint
        let path = checkpoint.directory.path
        let w = CheckpointWeights(checkpoint)
        let D = config.hiddenSize, F = config.intermediateSize
        guard config.numKVHeads == config.numHeads, config.headDim * config.numHeads == D else {
            throw ModelLoadError.malformed(path: path, reason: "hidden size \(D) is not \(config.numHeads) heads of \(config.headDim)")
        }
        activation = try FeedForwardActivation(name: config.hiddenActivation, path: path)

        let p = try w.prefix(among: ["", "bert."], probe: "embeddings.word_embeddings.weight")
        func linear(_ names: [String], rows: Int, columns: Int) throws -> Linear {
            try w.linear(names, rows: Array(repeating: rows, count: names.count), columns: columns, precision: precision,
                         biasRequired: true)
        }

        let total = config.numLayers + 1
        var built: [LayerNormBlock] = []
        var resident = 0
        for i in 0..<config.numLayers {
            let lp = p + "encoder.layer.\(i)."
            let a = lp + "attention."
            let layer = LayerNormBlock(
                attentionNorm: try w.layerNorm(a + "output.LayerNorm", width: D),
                attention: PagedSelfAttention(qkv: try linear([a + "self.query", a + "self.key", a + "self.value"], rows: D, columns: D),
                                              output: try linear([a + "output.dense"], rows: D, columns: D),
                                              scale: 1 / Float(config.headDim).squareRoot()),
                ffnNorm: try w.layerNorm(lp + "output.LayerNorm", width: D),
                up: try linear([lp + "intermediate.dense"], rows: F, columns: D),
                down: try linear([lp + "output.dense"], rows: D, columns: F))
            resident += layer.residentBytes
            built.append(layer)
            progress?(i + 1, total)
        }
        layers = built
        embedding = try w.matrix(p + "embeddings.word_embeddings.weight", rows: config.vocabSize, columns: D)
        var table = try w.floats(p + "embeddings.position_embeddings.weight", rows: config.maxPositionEmbeddings, columns: D)
        let types = try w.floats(p + "embeddings.token_type_embeddings.weight", rows: tokenTypes, columns: D)
        for r in 0..<config.maxPositionEmbeddings {
            for c in 0..<D { table[r * D + c] += types[c] }
        }
        positionsAndType = table
        embeddingNorm = try w.layerNorm(p + "embeddings.LayerNorm", width: D)
        residentBytes = resident + table.count * MemoryLayout<Float>.size
        progress?(total, total)
    }

    /// Hidden states of the last layer for a flat batch: `sequenceLengths[s]` tokens of sequence
    /// `s`, sequences end to end in `tokens`. Returns `tokens.count * hiddenSize` floats, row i
    /// belonging to token i.
    ///
    /// Every sequence attends only to itself, so the result for one input does not depend on what
    /// else is in the batch.
    public func encode(tokens: [Int32], sequenceLengths: [Int]) -> [Float] {
        let T = tokens.count
        precondition(sequenceLengths.reduce(0, +) == T && sequenceLengths.allSatisfy { $0 > 0 }, "lengths and tokens disagree")
        precondition(sequenceLengths.allSatisfy { $0 <= config.maxPositionEmbeddings }, "a sequence is longer than the position table")
        if T == 0 { return [] }
        let c = config
        let D = c.hiddenSize, hd = c.headDim, F = c.intermediateSize, H = c.numHeads
        let eps = Float(c.rmsNormEps)
        let bs = Self.blockSize
        let pool = ThreadPool.shared
        let bufs = workspace.floats([T * D, T * D, T * 3 * D, T * D, T * F])
        let h = bufs[0], tmp = bufs[1], qkv = bufs[2], att = bufs[3], ff = bufs[4]

        // Each sequence gets consecutive scratch blocks. The kernel sees one "sequence" per token:
        // a single query whose context is all of its own sequence.
        let blocksPerSequence = sequenceLengths.map { ($0 + bs - 1) / bs }
        let maxBlocks = blocksPerSequence.max()!
        let cache = scratchCache(blocks: blocksPerSequence.reduce(0, +))
        var slots = [Int32](repeating: 0, count: T)
        var queryStart = [Int32](repeating: 0, count: T + 1)
        var contextLengths = [Int32](repeating: 0, count: T)
        var tables = [Int32](repeating: 0, count: T * maxBlocks)
        var token = 0, firstBlock = 0
        let rowBytes = embedding.type.byteCount(elements: D)!
        for (s, length) in sequenceLengths.enumerated() {
            for pos in 0..<length {
                try! dequantize(embedding.type, embedding.data + Int(tokens[token]) * rowBytes, count: D, into: tmp + token * D)
                positionsAndType.withUnsafeBufferPointer { RowOps.add(tmp + token * D, ldy: D, $0.baseAddress! + pos * D, ldx: D, rows: 1, n: D) }
                slots[token] = Int32((firstBlock + pos / bs) * bs + pos % bs)
                queryStart[token + 1] = Int32(token + 1)
                contextLengths[token] = Int32(length)
                for b in 0..<blocksPerSequence[s] { tables[token * maxBlocks + b] = Int32(firstBlock + b) }
                token += 1
            }
            firstBlock += blocksPerSequence[s]
        }
        embeddingNorm.apply(tmp, h, rows: T, eps: eps)

        // Positions only matter to rotary models; BERT's were added with the embeddings.
        let metadata = AttentionMetadata(positions: [Int32](repeating: 0, count: T), slotMapping: slots, queryStart: queryStart,
                                         contextLengths: contextLengths, blockTables: tables, maxBlocksPerSequence: maxBlocks,
                                         logitsIndices: [])
        metadata.withKernelBatch { batch in
            // One layer's keys and values are dead once the layer is done, so every layer reuses the
            // cache's single layer.
            for layer in layers {
                layer.forward(h, rows: T, preNorm: false, eps: eps, activation: activation, ffnWidth: F, scratch: tmp, qkv: qkv,
                              att: att, ff: ff, heads: H, headDim: hd, cache: cache, layer: 0, batch: &batch, workspace: workspace,
                              pool: pool)
            }
        }
        return Array(UnsafeBufferPointer(start: h, count: T * D))
    }

    /// A one-layer fp32 scratch cache of at least `blocks` blocks, grown geometrically.
    private func scratchCache(blocks: Int) -> PagedKVCache {
        if let cache, cache.numBlocks >= blocks { return cache }
        let count = max(blocks, 2 * (cache?.numBlocks ?? 0), 64)
        // An anonymous mapping of this size only fails when the address space is exhausted.
        let made = try! PagedKVCache(numBlocks: count, blockSize: Self.blockSize, numLayers: 1,
                                     numKVHeads: config.numHeads, headDim: config.headDim, dtype: .fp32)
        cache = made
        return made
    }
}

extension ModelArchitecture {
    static let bert = ModelArchitecture(
        modelType: "bert", huggingFaceClasses: ["BertModel", "BertForMaskedLM"], kind: .embedding,
        configure: BertModel.sharedConfiguration)
}

extension BertModel {
    /// The shared configuration of a BERT `config.json`.
    static func sharedConfiguration(_ c: HuggingFaceConfig) throws -> ModelConfig {
        let heads = try c.int("num_attention_heads")
        return ModelConfig(
            architecture: "bert",
            vocabSize: try c.int("vocab_size"),
            hiddenSize: try c.int("hidden_size"),
            intermediateSize: try c.int("intermediate_size"),
            numLayers: try c.int("num_hidden_layers"),
            numHeads: heads,
            numKVHeads: heads,
            rmsNormEps: try c.optionalDouble("layer_norm_eps") ?? 1e-12,
            maxPositionEmbeddings: try c.int("max_position_embeddings"),
            tieWordEmbeddings: true,
            attentionBias: true,
            positionEmbedding: .learned,
            normalization: .layerNorm,
            hiddenActivation: try c.optionalString("hidden_act") ?? "gelu")
    }
}
