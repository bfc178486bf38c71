/// A regular expression as parsed: the ECMAScript/Python subset JSON Schema patterns and
/// `guided_regex` use.
indirect enum RegexNode {
    case sequence([RegexNode])
    case alternation([RegexNode])
    /// One character from the code-point ranges.
    case characters([ClosedRange<UInt32>])
    /// Any character at all (what an unanchored pattern allows around its match).
    case anything
    case repetition(RegexNode, min: Int, max: Int?)
    /// `^` or `$`: kept only where they are allowed, at the ends of a top-level branch.
    case startAnchor, endAnchor
}

/// Parses literals, escapes (`\d \w \s \D \W \S`, `\.` and the like, `\n \t \xHH \uHHHH`),
/// classes, `.`, groups (capturing, named, `(?:...)`), alternation, `* + ? {m} {m,} {m,n}` (lazy
/// and possessive forms accepted as the same language) and `^`/`$`. Backreferences, lookaround,
/// word boundaries and inline flags throw, naming the construct and its offset.
struct RegexParser {
    private let chars: [Unicode.Scalar]
    private var pos = 0
    private var depth = 0

    init(_ pattern: String) { chars = Array(pattern.unicodeScalars) }

    static let digit: [ClosedRange<UInt32>] = [0x30...0x39]
    static let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
    static let space: [ClosedRange<UInt32>] = [0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x2028...0x2029, 0xFEFF...0xFEFF]
    /// `.` matches anything but line ends, as in ECMAScript.
    static let dot = UTF8Ranges.complement([0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029])

    mutating func parse() throws -> RegexNode {
        let node = try parseAlternation()
        if pos < chars.count { throw error("unbalanced ')'") }
        return node
    }

    private mutating func parseAlternation() throws -> RegexNode {
        var branches = [try parseSequence()]
        while pos < chars.count, chars[pos] == "|" {
            pos += 1
            branches.append(try parseSequence())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseSequence() throws -> RegexNode {
        var items: [RegexNode] = []
        while pos < chars.count, chars[pos] != "|", chars[pos] != ")" {
            let atom = try parseAtom()
            items.append(try parseQuantifier(atom))
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func parseAtom() throws -> RegexNode {
        let c = chars[pos]
        pos += 1
        switch c {
        case "^": return .startAnchor
        case "$": return .endAnchor
        case ".": return .characters(Self.dot)
        case "[": return .characters(try parseClass())
        case "(":
            if pos < chars.count, chars[pos] == "?" {
                let next = pos + 1 < chars.count ? chars[pos + 1] : " "
                if next == ":" {
                    pos += 2
                } else if next == "<" || next == "P", pos + 2 < chars.count, chars[pos + 2] != "=", chars[pos + 2] != "!" {
                    // A named group: (?<name>...) or Python's (?P<name>...).
                    guard let close = chars[pos...].firstIndex(of: ">") else { throw error("unterminated group name") }
                    pos = close + 1
                } else if next == "=" || next == "!" || next == "<" {
                    pos -= 1
                    throw error("lookaround is not supported")
                } else {
                    pos -= 1
                    throw error("inline flags and other (?...) groups are not supported")
                }
            }
            // Bounded so that a hostile pattern cannot exhaust a server thread's stack.
            if depth >= 100 { throw error("groups nested more than 100 deep") }
            depth += 1
            let inner = try parseAlternation()
            depth -= 1
            guard pos < chars.count, chars[pos] == ")" else { throw error("unbalanced '(': no matching ')'") }
            pos += 1
            return inner
        case "*", "+", "?":
            pos -= 1
            throw error("nothing to repeat before '\(c)'")
        case "\\":
            return .characters(try parseEscape(inClass: false))
        default:
            if c == "{", isQuantifier(at: pos - 1) { pos -= 1; throw error("nothing to repeat before '{'") }
            return .characters([c.value...c.value])
        }
    }

    private func isQuantifier(at i: Int) -> Bool {
        var j = i + 1
        var digits = 0
        while j < chars.count, ("0"..."9").contains(chars[j]) { j += 1; digits += 1 }
        guard digits > 0 else { return false }
        if j < chars.count, chars[j] == "," {
            j += 1
            while j < chars.count, ("0"..."9").contains(chars[j]) { j += 1 }
        }
        return j < chars.count && chars[j] == "}"
    }

    private mutating func parseQuantifier(_ atom: RegexNode) throws -> RegexNode {
        guard pos < chars.count else { return atom }
        var min = 0, max: Int? = nil
        switch chars[pos] {
        case "*": pos += 1
        case "+": pos += 1; min = 1
        case "?": pos += 1; max = 1
        case "{" where isQuantifier(at: pos):
            pos += 1
            min = readInt()
            max = min
            if chars[pos] == "," {
                pos += 1
                max = chars[pos] == "}" ? nil : readInt()
            }
            pos += 1
            if let m = max, m < min { throw error("repetition {\(min),\(m)} has its maximum below its minimum") }
        default: return atom
        }
        if case .startAnchor = atom { throw error("nothing to repeat") }
        if case .endAnchor = atom { throw error("nothing to repeat") }
        // Lazy (`*?`) and possessive (`*+`) forms match the same set of strings in full.
        if pos < chars.count, chars[pos] == "?" || chars[pos] == "+" { pos += 1 }
        if pos < chars.count, ["*", "+", "?"].contains(chars[pos]) { throw error("nothing to repeat before '\(chars[pos])'") }
        return .repetition(atom, min: min, max: max)
    }

    private mutating func readInt() -> Int {
        var v = 0
        while pos < chars.count, let d = Int(String(chars[pos])), ("0"..."9").contains(chars[pos]) {
            v = Swift.min(v * 10 + d, Int(Int32.max)); pos += 1
        }
        return v
    }

    private mutating func parseClass() throws -> [ClosedRange<UInt32>] {
        var negated = false
        if pos < chars.count, chars[pos] == "^" { negated = true; pos += 1 }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while true {
            guard pos < chars.count else { throw error("unterminated character class") }
            let c = chars[pos]
            if c == "]", !first { pos += 1; break }
            first = false
            pos += 1
            var lo: [ClosedRange<UInt32>]
            if c == "\\" { lo = try parseEscape(inClass: true) } else { lo = [c.value...c.value] }
            if lo.count == 1, lo[0].count == 1, pos + 1 < chars.count, chars[pos] == "-", chars[pos + 1] != "]" {
                pos += 1
                let h = chars[pos]
                pos += 1
                let hi = h == "\\" ? try parseEscape(inClass: true) : [h.value...h.value]
                guard hi.count == 1, hi[0].count == 1 else { throw error("a class range cannot end in a class escape") }
                guard hi[0].lowerBound >= lo[0].lowerBound else { throw error("character range is out of order") }
                lo = [lo[0].lowerBound...hi[0].lowerBound]
            }
            ranges += lo
        }
        return negated ? UTF8Ranges.complement(ranges) : UTF8Ranges.normalized(ranges)
    }

    /// The characters an escape stands for (after the backslash).
    private mutating func parseEscape(inClass: Bool) throws -> [ClosedRange<UInt32>] {
        guard pos < chars.count else { throw error("trailing backslash") }
        let e = chars[pos]
        pos += 1
        func one(_ v: UInt32) -> [ClosedRange<UInt32>] { [v...v] }
        switch e {
        case "d": return Self.digit
        case "D": return UTF8Ranges.complement(Self.digit)
        case "w": return Self.word
        case "W": return UTF8Ranges.complement(Self.word)
        case "s": return Self.space
        case "S": return UTF8Ranges.complement(Self.space)
        case "n": return one(10)
        case "r": return one(13)
        case "t": return one(9)
        case "f": return one(12)
        case "v": return one(11)
        case "0": return one(0)
        case "b" where inClass: return one(8)
        case "b", "B": pos -= 2; throw error("word boundaries (\\\(e)) are not supported")
        case "1"..."9", "k": pos -= 2; throw error("backreferences are not supported")
        case "x": return one(try hex(2))
        case "u":
            if pos < chars.count, chars[pos] == "{" {
                pos += 1
                guard let close = chars[pos...].firstIndex(of: "}"),
                    let v = UInt32(String(String.UnicodeScalarView(chars[pos..<close])), radix: 16), v <= 0x10FFFF
                else { throw error("bad \\u{...} escape") }
                pos = close + 1
                return one(v)
            }
            return one(try hex(4))
        case "p", "P": pos -= 2; throw error("Unicode property escapes (\\\(e){...}) are not supported")
        default:
            if ("a"..."z").contains(e) || ("A"..."Z").contains(e) { pos -= 2; throw error("unknown escape '\\\(e)'") }
            return one(e.value)
        }
    }

    private mutating func hex(_ n: Int) throws -> UInt32 {
        guard pos + n <= chars.count, let v = UInt32(String(String.UnicodeScalarView(chars[pos..<pos + n])), radix: 16) else {
            throw error("expected \(n) hex digits")
        }
        pos += n
        return v
    }

    private func error(_ problem: String) -> GrammarError {
        GrammarError("regex at offset \(pos): \(problem)")
    }
}
