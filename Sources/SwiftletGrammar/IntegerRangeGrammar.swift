/// Integers between two bounds (either may be open) as GBNF, exactly: a range of numbers with
/// the same digit count splits into at most two ragged ends and one middle block of free digits
/// per digit, so the grammar grows with the number of digits, not with the range's width.
enum IntegerRangeGrammar {
    /// Bounds are clamped here: the JSON number grammar has at most 16 integer digits.
    static let maxMagnitude = 9_999_999_999_999_999

    static func expression(_ lo: Int?, _ hi: Int?) -> String {
        let lo = lo.map { max($0, -maxMagnitude) }, hi = hi.map { min($0, maxMagnitude) }
        var alternatives: [String] = []
        // Negative part: "-" then magnitudes in [max(1, -hi), -lo].
        if lo == nil || lo! < 0 {
            let magLo = max(1, hi.map { -$0 } ?? 1)
            let magHi = lo.map { -$0 }
            if magHi.map({ magLo <= $0 }) ?? true {
                alternatives.append("\"-\" ( \(nonNegative(magLo, magHi)) )")
            }
        }
        if hi == nil || hi! >= 0 {
            alternatives.append(nonNegative(max(0, lo ?? 0), hi))
        }
        return alternatives.joined(separator: " | ")
    }

    /// Numbers in [lo, hi] (hi nil: unbounded up to 16 digits), without leading zeros.
    static func nonNegative(_ lo: Int, _ hi: Int?) -> String {
        let hi = hi ?? maxMagnitude
        var parts: [String] = []
        let loDigits = String(lo).count, hiDigits = String(hi).count
        for n in loDigits...hiDigits {
            let from = n == loDigits ? lo : power(n - 1)
            let to = n == hiDigits ? hi : power(n) - 1
            if from <= to { parts += sameLength(Array(String(from).utf8), Array(String(to).utf8)) }
        }
        return parts.joined(separator: " | ")
    }

    private static func power(_ n: Int) -> Int { (0..<n).reduce(1) { acc, _ in acc * 10 } }

    private static func digitClass(_ a: UInt8, _ b: UInt8) -> String {
        a == b ? "\"\(Character(UnicodeScalar(a)))\"" : "[\(Character(UnicodeScalar(a)))-\(Character(UnicodeScalar(b)))]"
    }

    /// Alternatives (each a sequence) covering [lo, hi], both written with the same digit count.
    private static func sameLength(_ lo: [UInt8], _ hi: [UInt8]) -> [String] {
        if lo.count == 1 { return [digitClass(lo[0], hi[0])] }
        let zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")
        if lo[0] == hi[0] {
            return sameLength(Array(lo.dropFirst()), Array(hi.dropFirst())).map { "\(digitClass(lo[0], lo[0])) \($0)" }
        }
        var out: [String] = []
        var middleLo = lo[0], middleHi = hi[0]
        let loRest = Array(lo.dropFirst()), hiRest = Array(hi.dropFirst())
        if !loRest.allSatisfy({ $0 == zero }) {
            out += sameLength(loRest, [UInt8](repeating: nine, count: loRest.count)).map { "\(digitClass(lo[0], lo[0])) ( \($0) )" }
            middleLo += 1
        }
        var upperPart: [String] = []
        if !hiRest.allSatisfy({ $0 == nine }) {
            upperPart = sameLength([UInt8](repeating: zero, count: hiRest.count), hiRest).map { "\(digitClass(hi[0], hi[0])) ( \($0) )" }
            middleHi -= 1
        }
        if middleLo <= middleHi { out.append("\(digitClass(middleLo, middleHi)) [0-9]{\(lo.count - 1)}") }
        return out + upperPart
    }
}
