/// Parses llama.cpp's GBNF (as vLLM's `guided_grammar` takes it) into `GrammarRules`.
///
/// Rules are `name ::= body`; a body is alternatives (`|`) of sequences of string literals
/// (`"..."` with `\n \r \t \\ \" \xHH \uHHHH \UHHHHHHHH` escapes), character classes (`[a-z]`,
/// negated `[^...]`), `.` (any character), rule names and groups, each optionally followed by
/// `*`, `+`, `?`, `{m}`, `{m,}` or `{m,n}`. `#` starts a comment. A body may span lines; it ends
/// where the next `name ::=` begins. The start rule is `root`.
struct GBNFParser {
    private let text: [UInt8]
    private var pos = 0

    init(_ text: String) { self.text = Array(text.utf8) }

    static func parse(_ text: String, root: String = "root") throws -> GrammarRules {
        var parser = GBNFParser(text)
        return try parser.parseGrammar(root: root)
    }

    private mutating func parseGrammar(root: String) throws -> GrammarRules {
        var builder = GrammarBuilder()
        var bodies: [(String, GrammarExpr)] = []
        skipSpace()
        if pos == text.count { throw GrammarError("the grammar is empty") }
        while pos < text.count {
            let (line, column) = place(pos)
            guard let name = readName() else { throw error("expected a rule name") }
            skipSpace()
            guard consume("::=") else { throw error("expected '::=' after rule name '\(name)'") }
            if builder.isDefined(name) { throw GrammarError("line \(line), column \(column): rule '\(name)' is defined twice") }
            skipSpace()
            let body = try parseAlternatives(depth: 0)
            try builder.define(name, body)
            bodies.append((name, body))
            skipSpace()
        }
        for (_, body) in bodies {
            if let (name, line, column) = GrammarBuilder.undefinedReferences(body, defined: { builder.isDefined($0) }) {
                throw GrammarError("line \(line), column \(column): undefined rule '\(name)'")
            }
        }
        return try builder.rules(root: root)
    }

    private mutating func parseAlternatives(depth: Int) throws -> GrammarExpr {
        var options = [try parseSequence(depth: depth)]
        while pos < text.count, text[pos] == UInt8(ascii: "|") {
            pos += 1
            skipSpace()
            options.append(try parseSequence(depth: depth))
        }
        return options.count == 1 ? options[0] : .choice(options)
    }

    private mutating func parseSequence(depth: Int) throws -> GrammarExpr {
        var items: [GrammarExpr] = []
        while pos < text.count {
            let c = text[pos]
            if c == UInt8(ascii: "|") { break }
            if c == UInt8(ascii: ")") {
                if depth == 0 { throw error("unbalanced ')'") }
                break
            }
            if isNameByte(c), startsRule() {
                if depth > 0 { throw error("unbalanced '(': a new rule starts before the group is closed") }
                break
            }
            var item = try parseElement(depth: depth)
            skipSpace()
            item = try parsePostfix(item)
            items.append(item)
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func parseElement(depth: Int) throws -> GrammarExpr {
        let c = text[pos]
        switch c {
        case UInt8(ascii: "\""):
            pos += 1
            var bytes: [UInt8] = []
            while true {
                guard pos < text.count, text[pos] != UInt8(ascii: "\n") else { throw error("unterminated string literal") }
                if text[pos] == UInt8(ascii: "\"") { pos += 1; break }
                bytes += UTF8Ranges.encode(try readChar())
            }
            skipSpace()
            return .literal(bytes)
        case UInt8(ascii: "["):
            pos += 1
            var negated = false
            if pos < text.count, text[pos] == UInt8(ascii: "^") { negated = true; pos += 1 }
            var ranges: [ClosedRange<UInt32>] = []
            while true {
                guard pos < text.count, text[pos] != UInt8(ascii: "\n") else { throw error("unterminated character class") }
                if text[pos] == UInt8(ascii: "]") { pos += 1; break }
                let lo = try readChar()
                var hi = lo
                if pos + 1 < text.count, text[pos] == UInt8(ascii: "-"), text[pos + 1] != UInt8(ascii: "]") {
                    pos += 1
                    hi = try readChar()
                    if hi < lo { throw error("character range is out of order") }
                }
                ranges.append(lo...hi)
            }
            skipSpace()
            return .codePoints(ranges, negated: negated)
        case UInt8(ascii: "."):
            pos += 1
            skipSpace()
            return .codePoints([], negated: true)
        case UInt8(ascii: "("):
            let open = pos
            pos += 1
            skipSpace()
            // Bounded so that a hostile grammar cannot exhaust a server thread's stack.
            if depth >= 100 { throw error("groups nested more than 100 deep") }
            let inner = try parseAlternatives(depth: depth + 1)
            guard pos < text.count, text[pos] == UInt8(ascii: ")") else {
                pos = open
                throw error("unbalanced '(': no matching ')'")
            }
            pos += 1
            skipSpace()
            return inner
        default:
            let (line, column) = place(pos)
            guard let name = readName() else { throw error("unexpected character '\(printable(c))'") }
            skipSpace()
            return .ruleRef(name, line: line, column: column)
        }
    }

    private mutating func parsePostfix(_ item: GrammarExpr) throws -> GrammarExpr {
        var item = item
        while pos < text.count {
            switch text[pos] {
            case UInt8(ascii: "*"): pos += 1; item = .repetition(item, min: 0, max: nil)
            case UInt8(ascii: "+"): pos += 1; item = .repetition(item, min: 1, max: nil)
            case UInt8(ascii: "?"): pos += 1; item = .repetition(item, min: 0, max: 1)
            case UInt8(ascii: "{"):
                pos += 1
                skipSpace()
                guard let m = readInt() else { throw error("expected a number after '{'") }
                skipSpace()
                var n: Int? = m
                if consume(",") {
                    skipSpace()
                    n = readInt()
                    skipSpace()
                }
                guard consume("}") else { throw error("expected '}' to close the repetition") }
                if let n, n < m { throw error("repetition {\(m),\(n)} has its maximum below its minimum") }
                item = .repetition(item, min: m, max: n)
            default: return item
            }
            skipSpace()
        }
        return item
    }

    /// One character of a literal or class, escapes decoded, as a code point.
    private mutating func readChar() throws -> UInt32 {
        let c = text[pos]
        if c != UInt8(ascii: "\\") { return try readUTF8() }
        pos += 1
        guard pos < text.count else { throw error("unterminated escape") }
        let e = text[pos]
        pos += 1
        switch e {
        case UInt8(ascii: "n"): return 10
        case UInt8(ascii: "r"): return 13
        case UInt8(ascii: "t"): return 9
        case UInt8(ascii: "x"): return try readHex(2)
        case UInt8(ascii: "u"): return try readHex(4)
        case UInt8(ascii: "U"): return try readHex(8)
        case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "-"), UInt8(ascii: "^"):
            return UInt32(e)
        default:
            pos -= 2
            throw error("unknown escape '\\\(printable(e))'")
        }
    }

    private mutating func readHex(_ digits: Int) throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<digits {
            guard pos < text.count, let d = hexValue(text[pos]) else { throw error("expected \(digits) hex digits in escape") }
            v = v << 4 | d
            pos += 1
        }
        if v > 0x10FFFF || (0xD800...0xDFFF).contains(v) { throw error("escape is not a Unicode scalar value") }
        return v
    }

    private mutating func readUTF8() throws -> UInt32 {
        let b = text[pos]
        let n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
        guard pos + n <= text.count else { throw error("truncated UTF-8") }
        var v = n == 1 ? UInt32(b) : UInt32(b) & (0xFF >> UInt32(n + 1))
        for i in 1..<max(n, 1) { v = v << 6 | UInt32(text[pos + i] & 0x3F) }
        pos += n
        return v
    }

    private func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    private mutating func readInt() -> Int? {
        var v = 0, any = false
        while pos < text.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[pos]) {
            v = min(v * 10 + Int(text[pos] - UInt8(ascii: "0")), Int(Int32.max))
            pos += 1; any = true
        }
        return any ? v : nil
    }

    private func isNameByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
    }

    private mutating func readName() -> String? {
        let start = pos
        while pos < text.count, isNameByte(text[pos]) { pos += 1 }
        return pos > start ? String(decoding: text[start..<pos], as: UTF8.self) : nil
    }

    /// Whether a `name ::=` starts here: the end of the current rule's body.
    private mutating func startsRule() -> Bool {
        let saved = pos
        defer { pos = saved }
        _ = readName()
        skipSpace()
        return consume("::=")
    }

    private mutating func consume(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard pos + bytes.count <= text.count, Array(text[pos..<pos + bytes.count]) == bytes else { return false }
        pos += bytes.count
        return true
    }

    private mutating func skipSpace() {
        while pos < text.count {
            let c = text[pos]
            if c == UInt8(ascii: "#") {
                while pos < text.count, text[pos] != UInt8(ascii: "\n") { pos += 1 }
            } else if c == 32 || c == 9 || c == 10 || c == 13 {
                pos += 1
            } else {
                return
            }
        }
    }

    private func place(_ offset: Int) -> (Int, Int) {
        var line = 1, lineStart = 0
        for i in 0..<min(offset, text.count) where text[i] == 10 { line += 1; lineStart = i + 1 }
        return (line, offset - lineStart + 1)
    }

    private func error(_ problem: String) -> GrammarError {
        let (line, column) = place(pos)
        return GrammarError("line \(line), column \(column): \(problem)")
    }

    private func printable(_ c: UInt8) -> String { c >= 32 && c < 127 ? String(UnicodeScalar(c)) : "\\x\(String(c, radix: 16))" }
}
