import Foundation
import SwiftletKernels
import SwiftletModels
import SwiftletEngine

/// A stand-in model whose next token is a hash of the whole context *as read back from the KV
/// cache*. It writes each token's id and position into its slot, and reads every position of the
/// context through the block table before producing logits, so any wrong block table, slot,
/// copy-on-write, swap or prefix-cache hit changes the output or is counted in `corruptions`.
/// With a sliding window it reads (and hashes) only the window's positions, as a sliding-window
/// layer does, and counts a freed (-1) block-table entry inside the window as a corruption.
public final class MockModel: CausalLanguageModel {
    public let config: ModelConfig
    public let residentBytes = 0
    /// Context positions whose slot did not hold that position.
    public private(set) var corruptions = 0
    public private(set) var forwardCalls = 0
    public private(set) var tokensSeen = 0

    public static let vocabSize = 64
    public static let eos = 2

    public init(maxPositions: Int = 4096, slidingWindow: Int? = nil) {
        config = ModelConfig(architecture: "mock", vocabSize: Self.vocabSize, hiddenSize: 2, intermediateSize: 2, numLayers: 1,
                             numHeads: 1, numKVHeads: 1, headDim: 2, maxPositionEmbeddings: maxPositions,
                             slidingWindow: slidingWindow, eosTokenIds: [Self.eos])
    }

    public static func makeCache(numBlocks: Int, blockSize: Int) -> PagedKVCache {
        try! PagedKVCache(numBlocks: numBlocks, blockSize: blockSize, numLayers: 1, numKVHeads: 1, headDim: 2, dtype: .fp32)
    }

    /// The mock's logits for a context: a clear winner `next(context)` over a seeded spread, so
    /// greedy decoding is exact and sampling has a real distribution.
    public static func logits(context: [Int]) -> [Float] {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for t in context { h = (h ^ UInt64(t)) &* 0x100_0000_01B3 }
        var g = SeededGenerator(seed: h)
        var out = (0..<vocabSize).map { _ in Float(g.next() % 1000) / 1000 }
        out[Int(h % UInt64(vocabSize))] += 1.5
        return out
    }

    /// The greedy token after `context` (of which a model with `window` sees only the last `window` tokens).
    public static func greedyNext(context: [Int], window: Int? = nil) -> Int {
        let l = logits(context: window.map { Array(context.suffix($0)) } ?? context)
        return l.indices.max { l[$0] < l[$1] }!
    }

    public func forward(tokens: [Int32], metadata m: AttentionMetadata, cache: PagedKVCache) -> [Float] {
        forwardCalls += 1
        tokensSeen += tokens.count
        let bs = cache.blockSize
        func slotPointer(_ slot: Int) -> UnsafeMutablePointer<Float> {
            cache.blockPointers(layer: 0, block: slot / bs).key.assumingMemoryBound(to: Float.self) + 2 * (slot % bs)
        }
        for (i, t) in tokens.enumerated() where m.slotMapping[i] >= 0 {
            let p = slotPointer(Int(m.slotMapping[i]))
            p[0] = Float(t)
            p[1] = Float(m.positions[i])
        }
        var out: [Float] = []
        for li in m.logitsIndices {
            let i = Int(li)
            let s = (0..<m.numSequences).first { Int(m.queryStart[$0 + 1]) > i }!
            let pos = Int(m.positions[i])
            var context: [Int] = []
            let first = config.slidingWindow.map { max(0, pos - $0 + 1) } ?? 0
            for p in first...pos {
                let block = Int(m.blockTables[s * m.maxBlocksPerSequence + p / bs])
                guard block >= 0 else {
                    corruptions += 1
                    continue
                }
                let v = slotPointer(block * bs + p % bs)
                if Int(v[1]) != p { corruptions += 1 }
                context.append(Int(v[0]))
            }
            out += Self.logits(context: context)
        }
        return out
    }
}
