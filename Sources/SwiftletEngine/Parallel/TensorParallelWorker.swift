import Foundation
import SwiftletDistributed
import SwiftletKernels
import SwiftletModels

/// Why a rank other than 0 stopped before rank 0 told it to.
public enum TensorParallelWorkerError: Error, CustomStringConvertible {
    /// An exchange with the group failed: rank 0 or another rank died or stopped answering.
    case collective(CollectiveFailure)
    /// Rank 0 sent something this rank cannot run.
    case badMessage(String)

    public var description: String {
        switch self {
        case .collective(let f): return f.description
        case .badMessage(let why): return "a message from rank 0 could not be run: \(why)"
        }
    }
}

/// A rank other than 0 of a tensor-parallel group: it holds its shard of the weights and of the
/// KV cache and runs whatever step rank 0 sends, with no scheduler of its own (the paper's
/// workers, section 4.6).
public final class TensorParallelWorker {
    public let model: any CausalLanguageModel
    public let link: TensorParallelLink
    public let dtype: KVCacheDType
    /// How long to wait for rank 0's next message before deciding it is gone. Rank 0 pings
    /// about once a second while idle, so this only passes when it stopped answering.
    public let idleTimeout: Duration
    /// Steps run so far.
    public private(set) var steps = 0

    public init(model: any CausalLanguageModel, link: TensorParallelLink, dtype: KVCacheDType, idleTimeout: Duration = .seconds(30)) {
        self.model = model
        self.link = link
        self.dtype = dtype
        self.idleTimeout = idleTimeout
    }

    /// Runs until rank 0 sends `stop` (returns) or an exchange fails or a message cannot be run (throws).
    public func run() throws {
        guard case let .setup(numBlocks, blockSize, numSwapBlocks, sentGroups, maxModelLength) = try next() else {
            throw TensorParallelWorkerError.badMessage("the first message was not the cache's set-up")
        }
        let c = model.config
        let groups = sentGroups ?? .single(numLayers: c.numLayers)
        guard groups.numLayers == c.numLayers else {
            throw TensorParallelWorkerError.badMessage("KV cache groups of \(groups.numLayers) layers for a model of \(c.numLayers)")
        }
        let cache = try PagedKVCache(numBlocks: numBlocks, blockSize: blockSize, groups: groups,
                                     numKVHeads: model.cacheKVHeads, headDim: c.headDim, dtype: dtype)
        let swap = numSwapBlocks > 0
            ? try SwapSpace(bytes: numSwapBlocks * 2 * cache.numLayers * cache.blockBytes, cache: cache) : nil
        let runner = ModelRunner(model: model, cache: cache, swapSpace: swap)
        if let maxModelLength { model.prepare(maxModelLength: maxModelLength) }
        while true {
            switch try next() {
            case .stop:
                return
            case .ping:
                if let f = link.failure { throw TensorParallelWorkerError.collective(f) }
            case .setup:
                throw TensorParallelWorkerError.badMessage("a second set-up")
            case let .step(swapOut, swapIn, copies, tokens, metadata):
                try check(swapOut: swapOut, swapIn: swapIn, copies: copies, tokens: tokens, metadata: metadata, cache: cache,
                          swapBlocks: swap?.numBlocks ?? 0)
                runner.run(swapOut: swapOut, swapIn: swapIn, copies: copies, tokens: tokens, metadata: metadata)
                if let f = link.failure { throw TensorParallelWorkerError.collective(f) }
                steps += 1
            }
        }
    }

    private func next() throws -> StepMessage {
        do {
            if let m = try link.receive(timeout: idleTimeout) { return m }
        } catch let e as StepMessage.DecodingError {
            throw TensorParallelWorkerError.badMessage(e.description)
        }
        throw TensorParallelWorkerError.collective(link.failure!)
    }

    /// A worker checks what it is told to run, since a wrong index would write outside its cache.
    private func check(swapOut: [BlockCopy], swapIn: [BlockCopy], copies: [BlockCopy], tokens: [Int32],
                       metadata: AttentionMetadata, cache: PagedKVCache, swapBlocks: Int) throws {
        let blocks = Int32(cache.numBlocks), swaps = Int32(swapBlocks)
        let inCache = { (b: Int32) in b >= 0 && b < blocks }, inSwap = { (b: Int32) in b >= 0 && b < swaps }
        guard swapOut.allSatisfy({ inCache($0.source) && inSwap($0.destination) }),
              swapIn.allSatisfy({ inSwap($0.source) && inCache($0.destination) }),
              copies.allSatisfy({ inCache($0.source) && inCache($0.destination) }) else {
            throw TensorParallelWorkerError.badMessage("a block move outside the cache or the swap space")
        }
        guard !tokens.isEmpty else { return }
        let vocab = Int32(model.config.vocabSize)
        guard tokens.count == metadata.numTokens, tokens.allSatisfy({ $0 >= 0 && $0 < vocab }) else {
            throw TensorParallelWorkerError.badMessage("token ids that do not fit the batch or the vocabulary")
        }
        // Sliding windows free blocks behind them: a group's tables may then hold placeholders
        // that its window's check accepts; 0 checks every entry.
        if let problem = metadata.validate(numBlocks: cache.numBlocks, blockSize: cache.blockSize,
                                           groupWindows: cache.groups.windows.map { $0 ?? 0 }) {
            throw TensorParallelWorkerError.badMessage(problem)
        }
    }
}
