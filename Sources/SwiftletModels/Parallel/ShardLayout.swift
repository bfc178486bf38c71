import SwiftletDistributed
import SwiftletFormats

/// How one rank's share of a decoder's weights is laid out: the heads, kv heads, intermediate
/// columns and vocabulary rows it holds. Unsharded models have a layout of one rank holding
/// everything, so the forward pass is the same code either way.
struct ShardLayout {
    /// nil without tensor parallelism: no collectives are made.
    let group: (any CollectiveGroup)?
    let rank: Int
    let size: Int
    /// Query heads of this rank: `firstHead ..< firstHead + heads`.
    let firstHead: Int
    let heads: Int
    /// KV heads of this rank's cache: `firstKVHead ..< firstKVHead + kvHeads`.
    let firstKVHead: Int
    let kvHeads: Int
    /// Intermediate (feed-forward) columns of this rank.
    let firstIntermediate: Int
    let intermediate: Int
    /// Output-head rows (vocabulary entries) of this rank.
    let vocabulary: Range<Int>
    /// The whole vocabulary, the width of the logits rank 0 returns.
    let vocabSize: Int
    /// Where rank 0 receives the other ranks' logits, kept from step to step: tens of MB that
    /// would otherwise be mapped, zeroed and unmapped at every step.
    private let received = LogitsReceiveBuffer()

    /// The split of `config` over `shard`'s ranks (everything on one rank when `shard` is nil).
    /// Query heads and intermediate columns must divide evenly; kv heads either divide evenly or,
    /// when there are fewer of them than ranks and the ranks are a multiple of them, each is
    /// replicated on `size / kvHeads` neighbouring ranks (as vLLM does).
    init(config c: ModelConfig, shard: TensorShard?, path: String) throws {
        let n = shard?.size ?? 1, r = shard?.rank ?? 0
        group = shard?.group
        rank = r
        size = n
        func refuse(_ reason: String) -> ModelLoadError {
            .unsupported(path: path, reason: "tensor parallelism over \(n) ranks: \(reason)")
        }
        guard n >= 1, (0..<n).contains(r) else { throw refuse("rank \(r) is outside the group") }
        guard c.numHeads % n == 0 else {
            throw refuse("the model's \(c.numHeads) attention heads do not divide into \(n) equal parts")
        }
        heads = c.numHeads / n
        firstHead = r * heads
        if c.numKVHeads % n == 0 {
            kvHeads = c.numKVHeads / n
            firstKVHead = r * kvHeads
        } else if n % c.numKVHeads == 0 {
            kvHeads = 1
            firstKVHead = r / (n / c.numKVHeads)
        } else {
            throw refuse("the model's \(c.numKVHeads) KV heads neither divide into \(n) equal parts nor divide \(n) (replicated)")
        }
        guard c.intermediateSize % n == 0 else {
            throw refuse("the model's intermediate size \(c.intermediateSize) does not divide into \(n) equal parts")
        }
        intermediate = c.intermediateSize / n
        firstIntermediate = r * intermediate
        guard c.vocabSize >= n else { throw refuse("the vocabulary of \(c.vocabSize) rows is smaller than the group") }
        vocabSize = c.vocabSize
        vocabulary = Self.vocabularyRows(rank: r, size: n, vocabSize: c.vocabSize)
    }

    /// Rank `rank`'s rows of an output head of `vocabSize` rows; the split may be uneven.
    static func vocabularyRows(rank: Int, size: Int, vocabSize v: Int) -> Range<Int> {
        (rank * v / size)..<((rank + 1) * v / size)
    }

    var isSharded: Bool { group != nil }

    /// Rows of a q (or k, v) projection of `headDim`-wide heads held by this rank.
    func queryRows(headDim: Int) -> Range<Int> { (firstHead * headDim)..<((firstHead + heads) * headDim) }
    func kvRows(headDim: Int) -> Range<Int> { (firstKVHead * headDim)..<((firstKVHead + kvHeads) * headDim) }
    var intermediateColumns: Range<Int> { firstIntermediate..<(firstIntermediate + intermediate) }

    /// Sums a row-parallel projection's partial outputs over the ranks (nothing unsharded).
    func allReduce(_ x: UnsafeMutablePointer<Float>, count: Int) {
        group?.allReduceSum(x, count: count)
    }

    /// The logits of `rows` rows from each rank's slice of the vocabulary (`rows x vocabulary.count`,
    /// row-major) as whole rows, `rows x vocabSize`, on rank 0; [] on the other ranks.
    func gatherLogits(_ local: [Float], rows: Int) -> [Float] {
        guard let group else { return local }
        // Every rank has the same rows (identical metadata), so all skip or all gather.
        guard rows > 0 else { return [] }
        let slices = (0..<size).map { Self.vocabularyRows(rank: $0, size: size, vocabSize: vocabSize) }
        // Rank 0's own slice goes from `local` straight into the rows: only the others travel.
        let counts = slices.indices.map { $0 == 0 ? 0 : slices[$0].count * rows }
        let displacements = counts.indices.map { counts[..<$0].reduce(0, +) }
        let root = rank == 0
        let receive = root ? received.reserve(counts.reduce(0, +)) : nil
        local.withUnsafeBufferPointer { send in
            group.gather(send.baseAddress!, counts: counts, displacements: displacements, into: receive, root: 0)
        }
        guard let receive else { return [] }
        // Each logits row takes its piece of every rank's block.
        return [Float](unsafeUninitializedCapacity: rows * vocabSize) { out, count in
            local.withUnsafeBufferPointer { own in
                for (r, slice) in slices.enumerated() {
                    let w = slice.count
                    let block = r == 0 ? own.baseAddress! : UnsafePointer(receive + displacements[r])
                    for i in 0..<rows {
                        (out.baseAddress! + i * vocabSize + slice.lowerBound).initialize(from: block + i * w, count: w)
                    }
                }
            }
            count = rows * vocabSize
        }
    }
}

/// A buffer that only grows, to the most logits one step gathers (at most the batched tokens
/// times the vocabulary): reused, it costs no page faults after the first steps.
final class LogitsReceiveBuffer: @unchecked Sendable {
    private var pointer: UnsafeMutablePointer<Float>?
    private var capacity = 0

    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity || pointer == nil {
            pointer?.deallocate()
            pointer = .allocate(capacity: max(count, 1))
            capacity = max(count, 1)
        }
        return pointer!
    }

    deinit { pointer?.deallocate() }

}
