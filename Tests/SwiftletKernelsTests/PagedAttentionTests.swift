import CSwiftletAttention
import CSwiftletMatmul
import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletKernels

/// Deterministic generator so failures reproduce.
extension SplitMix64 {
    mutating func float() -> Float { Float.random(in: -1...1, using: &self) }
}

func bf16Round(_ x: Float) -> Float {
    var b: UInt16 = 0
    var y: Float = 0
    withUnsafePointer(to: x) { sw_f32_to_bf16_row($0, &b, 1) }
    withUnsafePointer(to: b) { sw_bf16_to_f32_row($0, &y, 1) }
    return y
}

/// What the cache gives back for rows of `width` values (one token's head): bf16 rounding, or
/// int8 with one scale per row, computed the way sw_kv_write does.
func cacheRounded(_ x: [Float], width: Int, dtype: Int32) -> [Float] {
    if dtype == Int32(SW_KV_BF16) { return x.map(bf16Round) }
    guard dtype == Int32(SW_KV_I8) else { return x }
    var y = x
    for r in stride(from: 0, to: x.count, by: width) {
        let row = x[r..<(r + width)]
        let sc = row.map { abs($0) }.max()! / 127
        let inv: Float = sc > 0 ? 1 / sc : 0
        for i in r..<(r + width) { y[i] = min(127, max(-127, (x[i] * inv).rounded(.toNearestOrEven))) * sc }
    }
    return y
}

/// One sequence of a paged-attention test case.
struct SeqCase {
    var context: Int      // tokens in the cache after this step (cached + new)
    var newTokens: Int    // query tokens of this step
    var keys: [Float]     // context x kvHeads x headDim
    var values: [Float]
    var queries: [Float]  // newTokens x heads x headDim
    var table: [Int32] = []
}

struct AttentionCase {
    var heads: Int, kvHeads: Int, headDim: Int, blockSize: Int, dtype: Int32, window: Int
    var seqs: [SeqCase]
}

/// Plain softmax attention over contiguous K/V, the reference.
func naiveAttention(_ c: AttentionCase, _ s: SeqCase) -> [Float] {
    let g = c.heads / c.kvHeads, hd = c.headDim
    let scale = 1 / Float(hd).squareRoot()
    var out = [Float](repeating: 0, count: s.newTokens * c.heads * hd)
    let keys = cacheRounded(s.keys, width: hd, dtype: c.dtype), values = cacheRounded(s.values, width: hd, dtype: c.dtype)
    // With an int8 cache the kernels round each query head to int8 the same way, for integer dot products.
    let queries = c.dtype == Int32(SW_KV_I8) ? cacheRounded(s.queries, width: hd, dtype: c.dtype) : s.queries
    for t in 0..<s.newTokens {
        let pos = s.context - s.newTokens + t
        let lo = c.window > 0 ? max(0, pos - c.window + 1) : 0
        for h in 0..<c.heads {
            let kvh = h / g
            var scores = [Double]()
            for p in lo...pos {
                var dot: Double = 0
                for d in 0..<hd {
                    dot += Double(queries[(t * c.heads + h) * hd + d]) * Double(keys[(p * c.kvHeads + kvh) * hd + d])
                }
                scores.append(dot * Double(scale))
            }
            let m = scores.max()!
            let e = scores.map { exp($0 - m) }
            let z = e.reduce(0, +)
            for d in 0..<hd {
                var acc: Double = 0
                for (i, p) in (lo...pos).enumerated() { acc += e[i] / z * Double(values[(p * c.kvHeads + kvh) * hd + d]) }
                out[(t * c.heads + h) * hd + d] = Float(acc)
            }
        }
    }
    return out
}

/// A case written into a paged cache (shuffled, non-contiguous blocks), ready to run.
final class PagedCase {
    let c: AttentionCase
    let kc: UnsafeMutableRawPointer, vc: UnsafeMutableRawPointer
    let queryStart: [Int32], contexts: [Int32], tables: [Int32], maxBlocks: Int, q: [Float]

    /// Writes the cached part of every sequence in a few chunks, then the new tokens, at the
    /// calling thread's kernel level.
    init(_ c0: AttentionCase, rng: inout SplitMix64) {
        var c = c0
        let bs = c.blockSize
        let blocksNeeded = c.seqs.map { ($0.context + bs - 1) / bs }
        let total = blocksNeeded.reduce(0, +) + 3
        var free = Array(0..<Int32(total)).shuffled(using: &rng)
        for i in c.seqs.indices { c.seqs[i].table = (0..<blocksNeeded[i]).map { _ in free.removeLast() } }
        let blockBytes = c.kvHeads * Int(sw_kv_head_block_bytes(c.dtype, Int32(c.headDim), Int32(bs)))
        let kc = UnsafeMutableRawPointer.allocate(byteCount: total * blockBytes, alignment: 64)
        let vc = UnsafeMutableRawPointer.allocate(byteCount: total * blockBytes, alignment: 64)
        // Unwritten slots hold NaN (all-ones bytes in every element type), so a kernel that lets
        // one into a sum, even with weight 0, fails.
        kc.initializeMemory(as: UInt8.self, repeating: 0xff, count: total * blockBytes)
        vc.initializeMemory(as: UInt8.self, repeating: 0xff, count: total * blockBytes)
        self.kc = kc
        self.vc = vc
        let kvw = c.kvHeads * c.headDim
        for s in c.seqs {
            let cached = s.context - s.newTokens
            var chunks: [Range<Int>] = []
            var p = 0
            while p < cached { let n = min(cached - p, 1 + Int(rng.next() % 300)); chunks.append(p..<(p + n)); p += n }
            chunks.append(cached..<s.context)
            for range in chunks where !range.isEmpty {
                let slots = range.map { s.table[$0 / bs] * Int32(bs) + Int32($0 % bs) }
                let k = Array(s.keys[(range.lowerBound * kvw)..<(range.upperBound * kvw)])
                let v = Array(s.values[(range.lowerBound * kvw)..<(range.upperBound * kvw)])
                sw_kv_write(k, kvw, v, kvw, slots, Int32(range.count), kc, vc, c.dtype, Int32(c.kvHeads), Int32(c.headDim), Int32(bs))
            }
        }
        let maxBlocks = max(1, blocksNeeded.max()!)
        self.maxBlocks = maxBlocks
        var qs: [Int32] = [0]
        var q: [Float] = []
        for s in c.seqs { qs.append(qs.last! + Int32(s.newTokens)); q += s.queries }
        queryStart = qs
        self.q = q
        contexts = c.seqs.map { Int32($0.context) }
        tables = c.seqs.flatMap { $0.table + Array(repeating: -1, count: maxBlocks - $0.table.count) }
        self.c = c
    }

    deinit { kc.deallocate(); vc.deallocate() }

    /// The kernel's output for every new token of the batch, at the calling thread's level.
    func run(pool: ThreadPool?) -> [Float] {
        let qw = c.heads * c.headDim
        var out = [Float](repeating: .nan, count: q.count)
        queryStart.withUnsafeBufferPointer { qs in
            contexts.withUnsafeBufferPointer { cl in
                tables.withUnsafeBufferPointer { bt in
                    var batch = sw_attn_batch(num_seqs: Int32(c.seqs.count), query_start: qs.baseAddress, context_len: cl.baseAddress,
                                              block_tables: bt.baseAddress, max_blocks_per_seq: Int32(maxBlocks))
                    sw_paged_attention(pool?.raw, q, qw, &out, qw, kc, vc, c.dtype, Int32(c.heads), Int32(c.kvHeads),
                                       Int32(c.headDim), Int32(c.blockSize), &batch, 1 / Float(c.headDim).squareRoot(), Int32(c.window))
                }
            }
        }
        return out
    }
}

/// Runs the paged kernel at every level up to the current one (cache written at that level too)
/// and returns each level's largest absolute difference from the naive reference.
func runPaged(_ c: AttentionCase, pool: ThreadPool?, rng: inout SplitMix64) -> [(KernelLevel, Float)] {
    let ref = c.seqs.flatMap { naiveAttention(c, $0) }
    return KernelLevel.upToCurrent.map { level in
        let out = KernelLevel.with(level) { PagedCase(c, rng: &rng).run(pool: pool) }
        var worst: Float = 0
        for i in ref.indices { worst = max(worst, abs(ref[i] - out[i])) }
        return (level, worst)
    }
}

func makeCase(heads: Int, kvHeads: Int, headDim: Int, blockSize: Int, dtype: Int32, window: Int = 0,
              shapes: [(context: Int, new: Int)], rng: inout SplitMix64) -> AttentionCase {
    let seqs = shapes.map { sh in
        SeqCase(context: sh.context, newTokens: sh.new,
                keys: (0..<(sh.context * kvHeads * headDim)).map { _ in rng.float() },
                values: (0..<(sh.context * kvHeads * headDim)).map { _ in rng.float() },
                queries: (0..<(sh.new * heads * headDim)).map { _ in rng.float() * 2 })
    }
    return AttentionCase(heads: heads, kvHeads: kvHeads, headDim: headDim, blockSize: blockSize, dtype: dtype, window: window, seqs: seqs)
}

@Suite struct PagedAttentionTests {
    // Head dims 64, 96 and 128 with 1-4 query heads per kv head take the bf16 register kernels
    // (128 in two 64-dim slices, 96 in a full and a half one), 7 per kv head two row groups; 8, 16
    // and 48 the portable path at the AVX2 level (and 8 at every level).
    static let geometries: [(heads: Int, kvHeads: Int, headDim: Int)] =
        [(9, 3, 64), (8, 4, 8), (4, 4, 16), (6, 1, 32), (4, 4, 128), (8, 2, 96), (14, 2, 128), (4, 2, 48)]

    @Test(arguments: [1, 8, 16, 32])
    func decodeAndChunkedPrefillMatchNaive(blockSize: Int) {
        var rng = SplitMix64(seed: UInt64(blockSize))
        for g in Self.geometries {
            for dtype in [Int32(SW_KV_F32), Int32(SW_KV_BF16), Int32(SW_KV_I8)] {
                // Decode steps, a fresh prefill, and prefill chunks on top of cached context.
                let shapes: [(context: Int, new: Int)] = [(1, 1), (37, 1), (300, 1), (65, 65), (200, 23), (129, 17)]
                let c = makeCase(heads: g.heads, kvHeads: g.kvHeads, headDim: g.headDim, blockSize: blockSize, dtype: dtype,
                                 shapes: shapes, rng: &rng)
                for pool in [nil, ThreadPool.shared] {
                    for (level, err) in runPaged(c, pool: pool, rng: &rng) {
                        #expect(err < 2e-5, "\(level) block \(blockSize) geometry \(g) dtype \(dtype) pool \(pool != nil): error \(err)")
                    }
                }
            }
        }
    }

    @Test func longContexts() {
        var rng = SplitMix64(seed: 7)
        for len in [511, 1024, 2000] {
            for dtype in [Int32(SW_KV_BF16), Int32(SW_KV_I8)] {
                let c = makeCase(heads: 9, kvHeads: 3, headDim: 64, blockSize: 16, dtype: dtype,
                                 shapes: [(len, 1), (len, 5), (len, 40)], rng: &rng)
                for (level, err) in runPaged(c, pool: .shared, rng: &rng) {
                    #expect(err < 2e-5, "\(level) length \(len) dtype \(dtype): error \(err)")
                }
            }
        }
    }

    @Test(arguments: [8, 16])
    func slidingWindow(blockSize: Int) {
        var rng = SplitMix64(seed: 99)
        for g in [(8, 2, 16), (4, 4, 8), (6, 2, 64), (8, 2, 128)] {
            for dtype in [Int32(SW_KV_F32), Int32(SW_KV_BF16), Int32(SW_KV_I8)] {
                // A window shorter than a softmax step, and one spanning several steps.
                for window in [20, 300] {
                    let c = makeCase(heads: g.0, kvHeads: g.1, headDim: g.2, blockSize: blockSize, dtype: dtype, window: window,
                                     shapes: [(90, 1), (70, 33), (15, 15), (700, 1), (420, 40)], rng: &rng)
                    for (level, err) in runPaged(c, pool: .shared, rng: &rng) {
                        #expect(err < 2e-5, "\(level) window \(window) geometry \(g) dtype \(dtype): error \(err)")
                    }
                }
            }
        }
    }

    /// A sequence's output is bit-identical alone and inside any batch: next to longer neighbours
    /// (one past what the AVX-512 two-pass kernel's scores hold) and shorter ones, in batches big
    /// enough for the one-task-per-sequence split, on one thread and on the pool.
    @Test(arguments: [16, 32])
    func batchInvariance(blockSize: Int) {
        var rng = SplitMix64(seed: 2024 + UInt64(blockSize))
        for level in KernelLevel.upToCurrent {
            for g in [(9, 3, 64), (8, 2, 128)] {
                for dtype in [Int32(SW_KV_F32), Int32(SW_KV_BF16), Int32(SW_KV_I8)] {
                    for window in [0, 100] {
                        let probe: [(context: Int, new: Int)] = [(150, 1), (90, 30)]
                        let others: [(context: Int, new: Int)] = [(9000, 1), (3, 1), (400, 2), (17, 17), (1200, 1), (60, 1), (2, 2), (800, 1)]
                        let c = makeCase(heads: g.0, kvHeads: g.1, headDim: g.2, blockSize: blockSize, dtype: dtype, window: window,
                                         shapes: probe + others, rng: &rng)
                        let qw = g.0 * g.2
                        KernelLevel.with(level) {
                            let together = PagedCase(c, rng: &rng).run(pool: .shared)
                            var offset = 0
                            for i in probe.indices {
                                var alone = c
                                alone.seqs = [c.seqs[i]]
                                let n = probe[i].new * qw
                                for pool in [nil, ThreadPool.shared] {
                                    let out = PagedCase(alone, rng: &rng).run(pool: pool)
                                    #expect(out == Array(together[offset..<(offset + n)]),
                                            "\(level) geometry \(g) dtype \(dtype) window \(window) sequence \(probe[i]) pool \(pool != nil)")
                                }
                                offset += n
                            }
                        }
                    }
                }
            }
        }
    }

    /// The cache writer stores the same bytes at every level (bf16 rounding and int8 rounding are exact).
    @Test func cacheWriterIsExactAtEveryLevel() {
        var rng = SplitMix64(seed: 5)
        for dtype in [Int32(SW_KV_F32), Int32(SW_KV_BF16), Int32(SW_KV_I8)] {
            for headDim in [48, 64, 128] {
                for blockSize in [16, 32] {
                    let kvHeads = 2, tokens = 45, w = kvHeads * headDim
                    var k = (0..<(tokens * w)).map { _ in rng.float() * 3 }
                    let v = (0..<(tokens * w)).map { _ in rng.float() }
                    // An all-zero head (int8 scale 0); a NaN, which bf16 keeps a NaN (int8 has no NaN to keep).
                    for d in 0..<headDim { k[w + d] = 0 }
                    if dtype != Int32(SW_KV_I8) { k[7] = .nan }
                    let blocks = (tokens + blockSize - 1) / blockSize + 1
                    let bytes = blocks * kvHeads * Int(sw_kv_head_block_bytes(dtype, Int32(headDim), Int32(blockSize)))
                    // Tokens land in the blocks in reverse order, one slot skipped.
                    let slots = (0..<tokens).map { t in t == 3 ? Int32(-1) : Int32((blocks - 1 - t / blockSize) * blockSize + t % blockSize) }
                    func write() -> [UInt8] {
                        var kc = [UInt8](repeating: 0, count: bytes), vc = kc
                        sw_kv_write(k, w, v, w, slots, Int32(tokens), &kc, &vc, dtype, Int32(kvHeads), Int32(headDim), Int32(blockSize))
                        return kc + vc
                    }
                    let reference = KernelLevel.with(.scalar) { write() }
                    for level in KernelLevel.upToCurrent {
                        #expect(KernelLevel.with(level) { write() } == reference, "\(level) dtype \(dtype) head dim \(headDim) block \(blockSize)")
                    }
                }
            }
        }
    }

    @Test func blockCopyDuplicatesWholeBlocks() {
        let blockBytes = 3 * 64 * 16 * 2, n = 10
        let k = UnsafeMutableRawPointer.allocate(byteCount: n * blockBytes, alignment: 64)
        let v = UnsafeMutableRawPointer.allocate(byteCount: n * blockBytes, alignment: 64)
        defer { k.deallocate(); v.deallocate() }
        for i in 0..<(n * blockBytes) { k.storeBytes(of: UInt8(i % 251), toByteOffset: i, as: UInt8.self); v.storeBytes(of: UInt8(i % 241), toByteOffset: i, as: UInt8.self) }
        let src: [Int32] = [0, 3, 5], dst: [Int32] = [7, 8, 9]
        sw_copy_blocks(k, v, blockBytes, src, dst, 3)
        for (s, d) in zip(src, dst) {
            #expect(memcmp(k + Int(s) * blockBytes, k + Int(d) * blockBytes, blockBytes) == 0)
            #expect(memcmp(v + Int(s) * blockBytes, v + Int(d) * blockBytes, blockBytes) == 0)
        }
        // Untouched blocks keep their bytes.
        #expect(k.load(fromByteOffset: 1 * blockBytes, as: UInt8.self) == UInt8(blockBytes % 251))
    }
}
