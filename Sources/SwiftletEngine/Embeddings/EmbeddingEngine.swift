import Foundation
import SwiftletKernels
import SwiftletModels

/// An input's embedding and the tokens it took.
public struct EmbeddingResult: Sendable, Equatable {
    public var embedding: [Float]
    public var promptTokens: Int
}

/// Counters of the batches an `EmbeddingEngine` has run.
public struct EmbeddingStatistics: Sendable, Equatable {
    public var batches = 0
    public var inputs = 0
    public var tokens = 0
    /// Tokens of the largest flat batch so far.
    public var largestBatchTokens = 0
    /// Requests (calls to `embed`) whose inputs shared a batch with another request's.
    public var coalescedRequests = 0
}

/// Runs an embedding model on many inputs at once: inputs are laid end to end in flat batches of
/// at most `maxBatchTokens` tokens (no padding), and requests that arrive while a batch runs are
/// gathered into the next batches together, as the generation engine batches its requests.
///
/// ```swift
/// let engine = try EmbeddingEngine(model: "~/.cache/swiftlet/models/all-MiniLM-L6-v2")
/// let vectors = try engine.embed([.text("Hello"), .text("Bonjour")]).map(\.embedding)
/// ```
///
/// Safe to call from several threads; calls block until their inputs are embedded.
public final class EmbeddingEngine: @unchecked Sendable {
    public let model: LoadedEmbeddingModel
    /// Token budget of one forward pass (never below the model's longest input).
    public let maxBatchTokens: Int

    /// One caller's inputs, filled in by whichever caller runs the batch that holds them.
    private final class Job {
        let sequences: [[Int]]
        var embeddings: [[Float]]?
        init(_ sequences: [[Int]]) { self.sequences = sequences }
    }

    private let queueLock = NSLock()
    private var pending: [Job] = []
    /// Held while batches run; the encoder is not reentrant.
    private let runLock = NSLock()
    private var stats = EmbeddingStatistics()

    public init(model: LoadedEmbeddingModel, maxBatchTokens: Int = 8192) {
        self.model = model
        self.maxBatchTokens = max(maxBatchTokens, model.maxSequenceLength)
    }

    /// Loads the embedding model directory at `path` (see `loadEmbeddingModel`).
    public convenience init(model path: String, precision: ComputePrecision = .fp32, maxBatchTokens: Int = 8192) throws {
        self.init(model: try loadEmbeddingModel(path: (path as NSString).expandingTildeInPath, precision: precision),
                  maxBatchTokens: maxBatchTokens)
    }

    public var statistics: EmbeddingStatistics { queueLock.withLock { stats } }

    /// The token ids an input is embedded from.
    ///
    /// - Throws: `EmbeddingError` for empty or over-long token lists and ids outside the vocabulary.
    public func tokens(of input: EmbeddingInput, index: Int) throws -> [Int] {
        switch input {
        case .text(let text):
            return model.tokenize(text)
        case .tokens(let ids):
            guard !ids.isEmpty else { throw EmbeddingError.emptyInput(index: index) }
            guard ids.count <= model.maxSequenceLength else {
                throw EmbeddingError.tooLong(index: index, tokens: ids.count, maximum: model.maxSequenceLength)
            }
            let vocabulary = model.config.vocabSize
            if let bad = ids.first(where: { $0 < 0 || $0 >= vocabulary }) {
                throw EmbeddingError.invalidToken(index: index, token: bad, vocabularySize: vocabulary)
            }
            return ids
        }
    }

    /// Embeds `inputs`, in order. Every input is checked before anything runs.
    public func embed(_ inputs: [EmbeddingInput]) throws -> [EmbeddingResult] {
        guard !inputs.isEmpty else { throw EmbeddingError.noInputs }
        let sequences = try inputs.enumerated().map { try tokens(of: $1, index: $0) }
        let job = Job(sequences)
        queueLock.withLock { pending.append(job) }
        runLock.withLock {
            // A caller that held the run lock before us may already have run our job with its own.
            guard job.embeddings == nil else { return }
            let jobs = queueLock.withLock { () -> [Job] in
                defer { pending.removeAll() }
                return pending
            }
            run(jobs)
        }
        return zip(job.embeddings!, sequences).map { EmbeddingResult(embedding: $0, promptTokens: $1.count) }
    }

    /// `embed` off the caller's task: the forward passes block a thread for their whole duration,
    /// which must not be one of Swift concurrency's few cooperative threads.
    public func embed(_ inputs: [EmbeddingInput]) async throws -> [EmbeddingResult] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try self.embed(inputs) }) }
        }
    }

    /// Packs every sequence of `jobs` into flat batches under the token budget, in arrival order,
    /// and hands each job its embeddings.
    private func run(_ jobs: [Job]) {
        var outputs = jobs.map { [[Float]](repeating: [], count: $0.sequences.count) }
        var batch: [(job: Int, index: Int)] = []
        var batchTokens = 0
        var ran = EmbeddingStatistics()
        func flush() {
            guard !batch.isEmpty else { return }
            let vectors = model.embed(batch.map { jobs[$0.job].sequences[$0.index] })
            for (slot, vector) in zip(batch, vectors) { outputs[slot.job][slot.index] = vector }
            ran.batches += 1
            ran.inputs += batch.count
            ran.tokens += batchTokens
            ran.largestBatchTokens = max(ran.largestBatchTokens, batchTokens)
            batch.removeAll(keepingCapacity: true)
            batchTokens = 0
        }
        for (j, job) in jobs.enumerated() {
            for (i, sequence) in job.sequences.enumerated() {
                if batchTokens + sequence.count > maxBatchTokens { flush() }
                batch.append((j, i))
                batchTokens += sequence.count
            }
        }
        flush()
        for (job, output) in zip(jobs, outputs) { job.embeddings = output }
        queueLock.withLock {
            stats.batches += ran.batches
            stats.inputs += ran.inputs
            stats.tokens += ran.tokens
            stats.largestBatchTokens = max(stats.largestBatchTokens, ran.largestBatchTokens)
            if jobs.count > 1 { stats.coalescedRequests += jobs.count }
        }
    }
}
