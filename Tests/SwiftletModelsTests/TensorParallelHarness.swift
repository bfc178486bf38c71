import Foundation
import SwiftletKernels
import SwiftletModels
import SwiftletTestSupport

/// Runs a model split over `ranks` in-process shards beside the unsharded model, step by step
/// with the same inputs, and measures how far rank 0's logits are from the unsharded ones.
///
/// Two sequences are run: the first prefills its whole prompt in the first step, the second in
/// two chunks (so the second step mixes a decode with a prefill chunk); then both decode. Every
/// step asks for the logits of every token, and each sequence continues with the unsharded
/// model's greedy token. The caches use small blocks so every sequence spans several.
struct TensorParallelComparison {
    /// Largest |sharded - unsharded| over every logit of every step.
    var maxDifference: Float = 0
    /// Largest |unsharded logit|: the scale of the differences.
    var maxLogit: Float = 0
    /// Rows whose argmax differed, out of `rows`.
    var argmaxMismatches = 0
    var rows = 0
    /// Logits lists that were not the expected size (rank 0: the unsharded size; others: empty).
    var sizeMismatches = 0
    /// Collectives each rank made, and what one forward pass should make (an all-reduce after
    /// attention and one after the MLP in each layer, and the gather of the logits).
    var collectiveCalls: [Int] = []
    var expectedCollectiveCalls = 0
    var failures: [String] = []
    /// Each rank's `cacheKVHeads` and `residentBytes`, and the unsharded model's.
    var cacheKVHeads: [Int] = []
    var residentBytes: [Int] = []
    var unshardedResidentBytes = 0
    /// Rank 0's logits of every step.
    var shardedLogits: [[Float]] = []

    /// `descendingSums`: the all-reduces add the ranks' parts in the other order (see
    /// `ThreadCollectiveGroup`).
    init(path: String, ranks: Int, decodeSteps: Int = 4, descendingSums: Bool = false, precision: ComputePrecision = .fp32) throws {
        let reference = try loadModel(path: path, precision: precision)
        let members = ThreadCollectiveGroup.makeGroup(size: ranks, descendingSums: descendingSums)
        // Each shard gets a one-thread pool: the shards run at once, and a pool must not be
        // entered from two threads.
        let shards = try members.map {
            try loadModel(path: path, precision: precision, shard: TensorShard(group: $0, pool: ThreadPool(threads: 1))).model
        }
        let c = reference.config
        let blockSize = 4, numBlocks = 16
        func cache(kvHeads: Int) throws -> PagedKVCache {
            try PagedKVCache(numBlocks: numBlocks, blockSize: blockSize, numLayers: c.numLayers, numKVHeads: kvHeads, headDim: c.headDim,
                             dtype: .fp32)
        }
        let referenceCache = try cache(kvHeads: c.numKVHeads)
        let caches = try shards.map { try cache(kvHeads: $0.cacheKVHeads) }
        cacheKVHeads = shards.map(\.cacheKVHeads)
        residentBytes = shards.map(\.residentBytes)
        unshardedResidentBytes = reference.model.residentBytes

        let V = c.vocabSize
        let prompts: [[Int32]] = [(0..<9).map { Int32((1 + $0 * 7919) % V) }, (0..<6).map { Int32((5 + $0 * 104_729) % V) }]
        let tables: [[Int32]] = [[0, 1, 2, 3, 4], [8, 9, 10, 11, 12]]
        var pending = prompts
        var cached = [0, 0]
        let firstChunk = [9, 3]
        var forwards = 0
        for step in 0...decodeSteps {
            let fed = (0..<2).map { s in step == 0 ? firstChunk[s] : pending[s].count }
            let tokens = (0..<2).flatMap { pending[$0].prefix(fed[$0]) }
            let metadata = AttentionMetadata.build(sequences: (0..<2).map { (newTokens: fed[$0], cachedTokens: cached[$0], blockTable: tables[$0]) },
                                                   blockSize: blockSize,
                                                   allLogits: true)
            let expected = reference.model.forward(tokens: tokens, metadata: metadata, cache: referenceCache)
            let got = ThreadCollectiveGroup.onEveryRank(ranks) { r in shards[r].forward(tokens: tokens, metadata: metadata, cache: caches[r]) }
            forwards += 1
            shardedLogits.append(got[0])
            if got[0].count != expected.count { sizeMismatches += 1 }
            sizeMismatches += got.dropFirst().filter { !$0.isEmpty }.count
            compare(got[0], expected, vocabSize: V)
            for s in 0..<2 {
                cached[s] += fed[s]
                pending[s].removeFirst(fed[s])
                if pending[s].isEmpty {
                    // The sequence's last token this step is row queryStart[s + 1] - 1.
                    let row = Int(metadata.queryStart[s + 1]) - 1
                    pending[s] = [Int32(Self.argmax(expected[(row * V)..<((row + 1) * V)]))]
                }
            }
        }
        collectiveCalls = members.map(\.statistics.calls)
        expectedCollectiveCalls = forwards * (2 * c.numLayers + 1)
        failures = members.compactMap { $0.failure?.description }
    }

    private mutating func compare(_ got: [Float], _ expected: [Float], vocabSize V: Int) {
        guard got.count == expected.count else { return }
        for i in expected.indices {
            maxDifference = max(maxDifference, abs(got[i] - expected[i]))
            maxLogit = max(maxLogit, abs(expected[i]))
        }
        for row in 0..<(expected.count / V) {
            let range = (row * V)..<((row + 1) * V)
            if Self.argmax(got[range]) != Self.argmax(expected[range]) { argmaxMismatches += 1 }
            rows += 1
        }
    }

    /// Largest |a - b| over the logits of every step of two runs.
    static func maxDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
        zip(a, b).map { x, y in zip(x, y).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
    }

    static func argmax(_ x: ArraySlice<Float>) -> Int {
        var best = x.startIndex
        for i in x.indices where x[i] > x[best] { best = i }
        return best - x.startIndex
    }

    var summary: String {
        "max |diff| \(maxDifference) (logits up to \(maxLogit)), argmax mismatches \(argmaxMismatches)/\(rows), "
            + "cache kv heads \(cacheKVHeads), resident bytes \(residentBytes) of \(unshardedResidentBytes)"
    }
}
