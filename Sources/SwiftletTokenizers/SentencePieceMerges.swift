/// Merge rules implied by a SentencePiece vocabulary, as transformers' `generate_merges` derives
/// them: every split of every token into two tokens, best score first, then longer left side,
/// then longer right side; ties keep vocabulary order.
func sentencePieceMerges(tokens: [String], scores: [Double]) -> [(String, String)] {
    // Keyed by UTF-8 bytes, as Python compares strings (Swift's `==` is canonical equivalence).
    // Prefixes and suffixes are looked up in place (ByteSliceMap): with an array key per lookup,
    // Gemma's 262,144 tokens took seconds.
    let bytes = tokens.map { Array($0.utf8) }
    // The last index of each distinct string (the first insertion wins, so in reverse), and the
    // first, which orders them.
    var last = ByteSliceMap(capacity: tokens.count), first = ByteSliceMap(capacity: tokens.count)
    for i in tokens.indices.reversed() { last.insert(bytes[i], Int32(i)) }
    for i in tokens.indices { first.insert(bytes[i], Int32(i)) }
    let order = tokens.indices.filter { first.single(bytes[$0]) == Int32($0) }
    struct Candidate { var left: String; var right: String; var score: Double; var ll: Int; var rl: Int }
    var all: [Candidate] = []
    for i in order {
        let t = tokens[i]
        let scalars = Array(t.unicodeScalars)
        guard scalars.count > 1 else { continue }
        let lastIndex = Int(last.single(bytes[i])!)
        let tokenScore = lastIndex < scores.count ? scores[lastIndex] : 0
        var local: [(Candidate, Int, Int)] = []
        var offsets: [Int] = []
        var at = 0
        for sc in scalars {
            offsets.append(at)
            at += UTF8.width(sc)
        }
        bytes[i].withUnsafeBufferPointer { b in
            let p = b.baseAddress!, n = b.count
            for k in 1..<scalars.count {
                let cut = offsets[k]
                if let li = last.single(p, cut), let ri = last.single(p + cut, n - cut) {
                    local.append((Candidate(left: String(decoding: UnsafeBufferPointer(start: p, count: cut), as: UTF8.self),
                                            right: String(decoding: UnsafeBufferPointer(start: p + cut, count: n - cut), as: UTF8.self),
                                            score: tokenScore, ll: k, rl: scalars.count - k), Int(li), Int(ri)))
                }
            }
        }
        local.sort { ($0.1, $0.2) < ($1.1, $1.2) }
        all.append(contentsOf: local.map { $0.0 })
    }
    let sorted = all.indices.sorted { a, b in
        let x = all[a], y = all[b]
        if x.score != y.score { return x.score > y.score }
        if x.ll != y.ll { return x.ll > y.ll }
        if x.rl != y.rl { return x.rl > y.rl }
        return a < b
    }
    return sorted.map { (all[$0].left, all[$0].right) }
}
