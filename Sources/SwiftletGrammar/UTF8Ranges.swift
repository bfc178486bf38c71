/// Code-point ranges as UTF-8 byte-range sequences, so that a character class over Unicode
/// becomes alternatives of byte sets the byte-level matcher can test one byte at a time.
///
/// A range is split at the encoding-length boundaries and then wherever its ends disagree in a
/// leading byte while a trailing byte is not full, so that each piece is a product of byte ranges
/// (e.g. U+0080...U+07FF is [C2-DF][80-BF]). Surrogates are left out: they are not valid UTF-8.
enum UTF8Ranges {
    /// Byte-range sequences whose union encodes exactly the code points in `ranges`.
    static func sequences(_ ranges: [ClosedRange<UInt32>]) -> [[ByteSet]] {
        var out: [[ByteSet]] = []
        for r in normalized(ranges) {
            for piece in [(UInt32(0), UInt32(0x7F)), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF)] {
                let lo = max(r.lowerBound, piece.0), hi = min(r.upperBound, piece.1)
                if lo <= hi { split(lo, hi, into: &out) }
            }
        }
        return merged(out)
    }

    /// The complement of `ranges` within all code points.
    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in normalized(ranges) {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = max(next, r.upperBound &+ 1)
        }
        if next <= 0x10FFFF { out.append(next...0x10FFFF) }
        return out
    }

    static func normalized(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    private static func split(_ lo: UInt32, _ hi: UInt32, into out: inout [[ByteSet]]) {
        let n = encodedLength(lo)
        for i in 1..<n {
            let m: UInt32 = (1 << (6 * UInt32(i))) - 1
            if lo & ~m != hi & ~m {
                if lo & m != 0 {
                    split(lo, lo | m, into: &out); split((lo | m) + 1, hi, into: &out); return
                }
                if hi & m != m {
                    split(lo, (hi & ~m) - 1, into: &out); split(hi & ~m, hi, into: &out); return
                }
            }
        }
        let a = encode(lo), b = encode(hi)
        out.append(zip(a, b).map { ByteSet($0, $1) })
    }

    /// Single-byte pieces become one set, so an ASCII class costs one alternative.
    private static func merged(_ seqs: [[ByteSet]]) -> [[ByteSet]] {
        var single = ByteSet()
        var rest: [[ByteSet]] = []
        for s in seqs { if s.count == 1 { single.formUnion(s[0]) } else { rest.append(s) } }
        return single.isEmpty ? rest : [[single]] + rest
    }

    static func encodedLength(_ c: UInt32) -> Int { c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4 }

    static func encode(_ c: UInt32) -> [UInt8] {
        switch encodedLength(c) {
        case 1: return [UInt8(c)]
        case 2: return [UInt8(0xC0 | (c >> 6)), UInt8(0x80 | (c & 0x3F))]
        case 3: return [UInt8(0xE0 | (c >> 12)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
        default:
            return [UInt8(0xF0 | (c >> 18)), UInt8(0x80 | ((c >> 12) & 0x3F)), UInt8(0x80 | ((c >> 6) & 0x3F)), UInt8(0x80 | (c & 0x3F))]
        }
    }
}
