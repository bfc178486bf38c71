/// Merge rules implied by a SentencePiece vocabulary, as transformers' `generate_merges` derives
/// them: every split of every token into two tokens, best score first, then longer left side,
/// then longer right side; ties keep vocabulary order.
func sentencePieceMerges(tokens: [String], scores: [Double]) -> [(String, String)] {
    // Keyed by UTF-8 bytes, as Python compares strings (Swift's `==` is canonical equivalence).
    var index: [[UInt8]: Int] = [:]
    var score: [[UInt8]: Double] = [:]
    var order: [String] = []
    for (i, t) in tokens.enumerated() {
        let key = Array(t.utf8)
        if index[key] == nil { order.append(t) }
        index[key] = i
        score[key] = i < scores.count ? scores[i] : 0
    }
    struct Candidate { var left: String; var right: String; var score: Double; var ll: Int; var rl: Int }
    var all: [Candidate] = []
    for t in order {
        let scalars = Array(t.unicodeScalars)
        guard scalars.count > 1 else { continue }
        let tokenScore = score[Array(t.utf8)]!
        var local: [(Candidate, Int, Int)] = []
        var utf8: [UInt8] = []
        var offsets: [Int] = []
        for s in scalars {
            offsets.append(utf8.count)
            utf8.append(contentsOf: UTF8.encode(s)!)
        }
        for k in 1..<scalars.count {
            let lb = Array(utf8[..<offsets[k]]), rb = Array(utf8[offsets[k]...])
            if let li = index[lb], let ri = index[rb] {
                local.append((Candidate(left: String(decoding: lb, as: UTF8.self), right: String(decoding: rb, as: UTF8.self),
                                        score: tokenScore, ll: k, rl: scalars.count - k), li, ri))
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
