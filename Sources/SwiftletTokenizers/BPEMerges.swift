/// BPE merge rules by rank, and the merge loop of Hugging Face's BPE model.
///
/// HF merges the adjacent pair of lowest rank first, leftmost on ties, until no pair has a rule.
/// Short words take a direct scan (cheaper than a heap for a handful of symbols); long ones use a
/// priority queue over a linked list, so a megabyte-long word costs O(n log n), not O(n²).
/// Both give the same result: a pair's merged string only grows as its sides merge, so a stale
/// queue entry can never be mistaken for a live one.
struct BPEMerges: Sendable {
    /// Open-addressed pair → rank table; keys are `left << 32 | right`, `UInt64.max` marks empty.
    private var keys: [UInt64]
    private var ranks: [UInt32]
    private var mask: Int
    /// The id each rank merges into.
    private(set) var results: [Int32]

    static let none = UInt32.max

    /// `pairs` in rank order: (left id, right id, merged id). A pair listed twice keeps its first rank.
    init(pairs: [(Int32, Int32, Int32)]) {
        var size = 16
        while size < pairs.count * 2 + 2 { size <<= 1 }
        keys = [UInt64](repeating: .max, count: size)
        ranks = [UInt32](repeating: 0, count: size)
        mask = size - 1
        results = []
        results.reserveCapacity(pairs.count)
        for (l, r, m) in pairs {
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            var i = BPEMerges.slot(key) & mask
            var dup = false
            while keys[i] != .max {
                if keys[i] == key { dup = true; break }
                i = (i + 1) & mask
            }
            // The rank still advances for a duplicate so ranks keep matching the file's positions.
            let rank = UInt32(results.count)
            results.append(m)
            if !dup {
                keys[i] = key
                ranks[i] = rank
            }
        }
    }

    var count: Int { results.count }

    @inline(__always) private static func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 29)
    }

    @inline(__always)
    func rank(_ l: Int32, _ r: Int32) -> UInt32 {
        let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
        return keys.withUnsafeBufferPointer { k in
            var i = BPEMerges.slot(key) & mask
            while true {
                let x = k[i]
                if x == key { return ranks.withUnsafeBufferPointer { $0[i] } }
                if x == .max { return BPEMerges.none }
                i = (i + 1) & mask
            }
        }
    }

    /// Merges `symbols` in place.
    func apply(_ symbols: inout [Int32], scratch: inout BPEScratch) {
        let n = symbols.count
        if n < 2 { return }
        if n <= 64 { applyShort(&symbols, &scratch.pairRanks) } else { applyLong(&symbols, &scratch) }
    }

    private func applyShort(_ sym: inout [Int32], _ pr: inout [UInt32]) {
        var n = sym.count
        pr.removeAll(keepingCapacity: true)
        for i in 0..<(n - 1) { pr.append(rank(sym[i], sym[i + 1])) }
        results.withUnsafeBufferPointer { res in
            while n > 1 {
                var best = BPEMerges.none
                var at = -1
                for i in 0..<(n - 1) where pr[i] < best {
                    best = pr[i]
                    at = i
                }
                if at < 0 { break }
                sym[at] = res[Int(best)]
                sym.remove(at: at + 1)
                pr.remove(at: at)
                n -= 1
                if at > 0 { pr[at - 1] = rank(sym[at - 1], sym[at]) }
                if at < n - 1 { pr[at] = rank(sym[at], sym[at + 1]) }
            }
        }
    }

    private func applyLong(_ sym: inout [Int32], _ scratch: inout BPEScratch) {
        let n = sym.count
        scratch.prepare(n)
        var next = [Int32]()
        var prev = [Int32]()
        var heap = [UInt64]()
        swap(&next, &scratch.next)
        swap(&prev, &scratch.prev)
        swap(&heap, &scratch.heap)
        defer {
            swap(&next, &scratch.next)
            swap(&prev, &scratch.prev)
            swap(&heap, &scratch.heap)
        }
        let removed = Int32(-2)  // kept in `prev` of a symbol merged into its left neighbour
        results.withUnsafeBufferPointer { res in
            sym.withUnsafeMutableBufferPointer { s in
                for i in 0..<n {
                    next[i] = Int32(i + 1 < n ? i + 1 : -1)
                    prev[i] = Int32(i - 1)
                }
                for i in 0..<(n - 1) {
                    let r = rank(s[i], s[i + 1])
                    if r != BPEMerges.none { heap.append(UInt64(r) << 32 | UInt64(i)) }
                }
                heapify(&heap)
                while let top = heapPop(&heap) {
                    let r = UInt32(top >> 32)
                    let pos = Int(UInt32(truncatingIfNeeded: top))
                    if prev[pos] == removed { continue }
                    let nx = Int(next[pos])
                    if nx < 0 { continue }
                    if rank(s[pos], s[nx]) != r { continue }
                    s[pos] = res[Int(r)]
                    prev[nx] = removed
                    let after = next[nx]
                    next[pos] = after
                    if after >= 0 { prev[Int(after)] = Int32(pos) }
                    let pv = Int(prev[pos])
                    if pv >= 0 {
                        let rr = rank(s[pv], s[pos])
                        if rr != BPEMerges.none { heapPush(&heap, UInt64(rr) << 32 | UInt64(pv)) }
                    }
                    if after >= 0 {
                        let rr = rank(s[pos], s[Int(after)])
                        if rr != BPEMerges.none { heapPush(&heap, UInt64(rr) << 32 | UInt64(pos)) }
                    }
                }
            }
        }
        // Symbol 0 is never removed (a merge keeps its left side), so the list starts there.
        var w = 0
        var i = 0
        while i >= 0 {
            sym[w] = sym[i]
            w += 1
            i = Int(next[i])
        }
        sym.removeLast(n - w)
    }
}

/// Buffers the merge loop reuses across words.
struct BPEScratch {
    var pairRanks: [UInt32] = []
    var next: [Int32] = []
    var prev: [Int32] = []
    var heap: [UInt64] = []

    mutating func prepare(_ n: Int) {
        if next.count < n {
            next = [Int32](repeating: 0, count: n)
            prev = [Int32](repeating: 0, count: n)
        }
        heap.removeAll(keepingCapacity: true)
        heap.reserveCapacity(n)
    }
}

/// Binary min-heap helpers over packed (rank << 32 | position) keys.
private func heapify(_ h: inout [UInt64]) {
    let n = h.count
    if n < 2 { return }
    h.withUnsafeMutableBufferPointer { h in
        var start = n / 2 - 1
        while start >= 0 {
            siftDown(h, start, n)
            start -= 1
        }
    }
}

@inline(__always)
private func siftDown(_ h: UnsafeMutableBufferPointer<UInt64>, _ from: Int, _ n: Int) {
    let x = h[from]
    var i = from
    while true {
        let l = 2 * i + 1
        if l >= n { break }
        var c = l
        if l + 1 < n && h[l + 1] < h[l] { c = l + 1 }
        if h[c] >= x { break }
        h[i] = h[c]
        i = c
    }
    h[i] = x
}

@inline(__always)
private func heapPush(_ a: inout [UInt64], _ x: UInt64) {
    a.append(x)
    a.withUnsafeMutableBufferPointer { h in
        var i = h.count - 1
        while i > 0 {
            let p = (i - 1) >> 1
            if h[p] <= x { break }
            h[i] = h[p]
            i = p
        }
        h[i] = x
    }
}

@inline(__always)
private func heapPop(_ a: inout [UInt64]) -> UInt64? {
    guard let last = a.popLast() else { return nil }
    if a.isEmpty { return last }
    return a.withUnsafeMutableBufferPointer { h in
        let top = h[0]
        h[0] = last
        siftDown(h, 0, h.count)
        return top
    }
}
