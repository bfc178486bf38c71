import Foundation
import SwiftletKernels
import SwiftletModels

/// Runs one sequence at a time through a model with a paged KV cache: prefill in chunks, then
/// greedy decoding. It is the simplest user of the block-table interface, for the CLI's single
/// prompt and for fidelity tests; batched serving goes through the scheduler instead.
public final class GreedyDecoder {
    public let model: any CausalLanguageModel
    public let cache: PagedKVCache
    public private(set) var pool: BlockPool
    /// Largest number of prompt tokens run in one forward pass.
    public var prefillChunk: Int

    /// One generated token with the log-probabilities of the best candidates at its position.
    public struct Step: Sendable {
        public let token: Int
        public let topLogprobs: [(token: Int, logprob: Float)]
    }

    public init(model: any CausalLanguageModel, cache: PagedKVCache, prefillChunk: Int = 512) {
        self.model = model
        self.cache = cache
        self.pool = BlockPool(numBlocks: cache.numBlocks)
        self.prefillChunk = prefillChunk
    }

    public enum DecodeError: Error, CustomStringConvertible {
        case outOfBlocks(needed: Int, available: Int)
        case emptyPrompt
        case tokenOutOfRange(Int)

        public var description: String {
            switch self {
            case .outOfBlocks(let n, let a): return "the KV cache has \(a) free blocks, this request needs \(n)"
            case .emptyPrompt: return "the prompt is empty"
            case .tokenOutOfRange(let t): return "token id \(t) is outside the vocabulary"
            }
        }
    }

    /// Generates `maxTokens` tokens greedily after `prompt`, stopping early at any of `stopTokens`.
    /// `onToken` sees each token as it is produced.
    public func generate(prompt: [Int], maxTokens: Int, topK: Int = 0, stopTokens: Set<Int> = [],
                         onToken: ((Step) -> Void)? = nil) throws -> [Step] {
        guard !prompt.isEmpty else { throw DecodeError.emptyPrompt }
        let vocab = model.config.vocabSize
        if let bad = prompt.first(where: { $0 < 0 || $0 >= vocab }) { throw DecodeError.tokenOutOfRange(bad) }
        let bs = cache.blockSize
        let needed = (prompt.count + maxTokens + bs - 1) / bs
        guard needed <= pool.freeCount else { throw DecodeError.outOfBlocks(needed: needed, available: pool.freeCount) }
        var table: [Int32] = []
        defer { table.forEach { pool.release($0) } }
        func ensureCapacity(_ tokens: Int) {
            while table.count * bs < tokens { table.append(pool.allocate()!) }
        }

        var steps: [Step] = []
        var tokens = prompt
        var cached = 0
        var pending = prompt
        while steps.count < maxTokens {
            // Prefill in chunks; every chunk but the last only fills the cache.
            let n = min(pending.count, prefillChunk)
            ensureCapacity(cached + n)
            let meta = AttentionMetadata.build(sequences: [(n, cached, table)], blockSize: bs)
            let logits = model.forward(tokens: pending.prefix(n).map { Int32($0) }, metadata: meta, cache: cache)
            cached += n
            pending.removeFirst(n)
            if !pending.isEmpty { continue }
            let step = Self.pick(logits: logits, topK: topK)
            steps.append(step)
            onToken?(step)
            tokens.append(step.token)
            if stopTokens.contains(step.token) { break }
            pending = [step.token]
        }
        return steps
    }

    /// The argmax token and, if asked, the `topK` best log-probabilities.
    static func pick(logits: [Float], topK: Int) -> Step {
        var best = 0
        var bestValue = -Float.infinity
        for (i, v) in logits.enumerated() where v > bestValue { best = i; bestValue = v }
        guard topK > 0 else { return Step(token: best, topLogprobs: []) }
        var sum: Double = 0
        for v in logits { sum += exp(Double(v - bestValue)) }
        let logZ = Double(bestValue) + log(sum)
        let top = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(topK)
        return Step(token: best, topLogprobs: top.map { ($0, Float(Double(logits[$0]) - logZ)) })
    }
}
