extension WordPieceTokenizer {
    /// `BertPreTokenizer`: split at white space (dropped) and around each punctuation character.
    func encodeNormalized(_ scalars: [UInt32], _ out: inout [Int]) {
        var start = 0
        var i = 0
        let flagTable = BertNormalizer.table.flags
        while i < scalars.count {
            let v = scalars[i]
            let f: UInt8
            if v < 0x80 {
                f = v == 0x20 || (v >= 9 && v <= 13) ? BertNormalizer.whitespace
                    : ((0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
                        || (0x7B...0x7E).contains(v)) ? BertNormalizer.punctuation : 0
            } else {
                f = v < 0x10000 ? flagTable[Int(v)] : BertNormalizer.flags(v)
            }
            if f & BertNormalizer.whitespace != 0 {
                if start < i { encodeWord(scalars[start..<i], &out) }
                start = i + 1
            } else if f & BertNormalizer.punctuation != 0 {
                if start < i { encodeWord(scalars[start..<i], &out) }
                encodeWord(scalars[i..<(i + 1)], &out)
                start = i + 1
            }
            i += 1
        }
        if start < scalars.count { encodeWord(scalars[start..<scalars.count], &out) }
    }
}
