/// One lexical unit of a template.
enum JinjaTokenKind: Equatable {
    case text(String)
    case variableBegin, variableEnd, blockBegin, blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
    case eof
}

struct JinjaToken {
    var kind: JinjaTokenKind
    var position: JinjaPosition
}

/// Splits template source into text and tag tokens, applying whitespace control the way
/// `jinja2` does with `trim_blocks` and `lstrip_blocks` on (transformers' settings): the first
/// newline after a block or comment tag is dropped, and whitespace between a line's start and a
/// block or comment tag is removed; `{%-`/`-%}` strip all adjacent whitespace, `{%+`/`+%}` none.
struct JinjaLexer {
    private let s: [Unicode.Scalar]
    private var lineStarts: [Int] = [0]
    private var tokens: [JinjaToken] = []
    /// Whether the last consumed tag ended a line: lstrip_blocks then also applies to a tag
    /// with no newline in front of it in the current text run.
    private var lineStarting = true

    init(source: String) {
        // Jinja normalises line endings and drops one trailing newline before lexing.
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(source.unicodeScalars.count)
        var it = source.unicodeScalars.makeIterator()
        var pendingCR = false
        while let c = it.next() {
            if pendingCR {
                pendingCR = false
                if c == "\n" { continue }
            }
            if c == "\r" {
                scalars.append("\n")
                pendingCR = true
            } else {
                scalars.append(c)
            }
        }
        if scalars.last == "\n" { scalars.removeLast() }
        s = scalars
        for (i, c) in s.enumerated() where c == "\n" { lineStarts.append(i + 1) }
    }

    static func tokenize(_ source: String) throws -> [JinjaToken] {
        var lexer = JinjaLexer(source: source)
        try lexer.run()
        return lexer.tokens
    }

    func position(_ offset: Int) -> JinjaPosition {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return JinjaPosition(line: lo + 1, column: offset - lineStarts[lo] + 1)
    }

    private func fail(_ message: String, _ offset: Int) -> JinjaError {
        JinjaError(.syntax, message, at: position(offset))
    }

    private func at(_ i: Int, _ lit: String) -> Bool {
        var j = i
        for c in lit.unicodeScalars {
            guard j < s.count, s[j] == c else { return false }
            j += 1
        }
        return true
    }

    private func skipWhitespace(_ i: Int) -> Int {
        var j = i
        while j < s.count, s[j].isPythonWhitespace { j += 1 }
        return j
    }

    private func string(_ r: Range<Int>) -> String {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: s[r])
        return String(v)
    }

    private mutating func emit(_ kind: JinjaTokenKind, _ offset: Int) {
        tokens.append(JinjaToken(kind: kind, position: position(offset)))
    }

    /// Emits template text that precedes a tag, after whitespace control.
    private mutating func emitText(_ start: Int, _ end: Int, sign: Unicode.Scalar?, lstrip: Bool) {
        var e = end
        if sign == "-" {
            while e > start, s[e - 1].isPythonWhitespace { e -= 1 }
        } else if sign != "+" && lstrip {
            var lineStart = e
            while lineStart > start, s[lineStart - 1] != "\n" { lineStart -= 1 }
            if lineStart > start || lineStarting,
                s[lineStart..<e].allSatisfy({ $0.isPythonWhitespace })
            {
                e = lineStart
            }
        }
        if e > start { emit(.text(string(start..<e)), start) }
    }

    private mutating func run() throws {
        var i = 0
        let n = s.count
        while i < n {
            var j = i
            var tagKind: Unicode.Scalar? = nil
            while j + 1 < n {
                if s[j] == "{", s[j + 1] == "{" || s[j + 1] == "%" || s[j + 1] == "#" {
                    tagKind = s[j + 1]
                    break
                }
                j += 1
            }
            guard let kind = tagKind else {
                emit(.text(string(i..<n)), i)
                break
            }
            let sign: Unicode.Scalar? = j + 2 < n && (s[j + 2] == "-" || s[j + 2] == "+") ? s[j + 2] : nil
            emitText(i, j, sign: sign, lstrip: kind != "{")
            lineStarting = false
            let bodyStart = j + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case "#":
                i = try lexComment(from: bodyStart, tagStart: j)
            case "%":
                if let afterRaw = rawBegin(bodyStart) {
                    i = try lexRaw(from: afterRaw, tagStart: j)
                } else {
                    emit(.blockBegin, j)
                    i = try lexTag(from: bodyStart, block: true, tagStart: j)
                }
            default:
                emit(.variableBegin, j)
                i = try lexTag(from: bodyStart, block: false, tagStart: j)
            }
        }
        emit(.eof, n)
    }

    /// Consumes a tag end at `i` if there is one: `-%}` eats all following whitespace,
    /// `%}` eats one newline (trim_blocks), `+%}` nothing. Returns the offset after it.
    private func tagEnd(_ i: Int, close: String, trimNewline: Bool) -> Int? {
        if at(i, "-" + close) { return skipWhitespace(i + 1 + close.unicodeScalars.count) }
        if trimNewline && at(i, "+" + close) { return i + 1 + close.unicodeScalars.count }
        if at(i, close) {
            let e = i + close.unicodeScalars.count
            return trimNewline && e < s.count && s[e] == "\n" ? e + 1 : e
        }
        return nil
    }

    private mutating func lexComment(from start: Int, tagStart: Int) throws -> Int {
        var k = start
        while k + 1 < s.count {
            if s[k] == "#" && s[k + 1] == "}" {
                let endStart = (k > start && (s[k - 1] == "-" || s[k - 1] == "+")) ? k - 1 : k
                let e = tagEnd(endStart, close: "#}", trimNewline: true)!
                lineStarting = s[e - 1] == "\n"
                return e
            }
            k += 1
        }
        throw fail("missing end of comment tag", tagStart)
    }

    /// Matches `{% raw %}` (after the `{%` and sign); returns the offset after it. Unlike other
    /// block tags, Jinja's raw-begin rule does not trim the following newline.
    private func rawBegin(_ i: Int) -> Int? {
        var j = skipWhitespace(i)
        guard at(j, "raw") else { return nil }
        j += 3
        let k = skipWhitespace(j)
        if at(k, "-%}") { return skipWhitespace(k + 3) }
        if at(k, "%}") { return k + 2 }
        return nil
    }

    private mutating func lexRaw(from start: Int, tagStart: Int) throws -> Int {
        lineStarting = s[start - 1] == "\n"
        var k = start
        while k + 1 < s.count {
            if s[k] == "{" && s[k + 1] == "%" {
                var j = k + 2
                let sign: Unicode.Scalar? = j < s.count && (s[j] == "-" || s[j] == "+") ? s[j] : nil
                if sign != nil { j += 1 }
                j = skipWhitespace(j)
                if at(j, "endraw") {
                    let e = skipWhitespace(j + 6)
                    if let end = tagEnd(e, close: "%}", trimNewline: true) {
                        emitText(start, k, sign: sign, lstrip: true)
                        lineStarting = s[end - 1] == "\n"
                        return end
                    }
                }
            }
            k += 1
        }
        throw fail("missing end of raw directive", tagStart)
    }

    private mutating func lexTag(from start: Int, block: Bool, tagStart: Int) throws -> Int {
        var i = start
        var balance: [Unicode.Scalar] = []
        let close = block ? "%}" : "}}"
        while true {
            guard i < s.count else {
                throw fail("unexpected end of template, expected '\(close)'", tagStart)
            }
            if balance.isEmpty, let e = tagEnd(i, close: close, trimNewline: block) {
                emit(block ? .blockEnd : .variableEnd, i)
                lineStarting = s[e - 1] == "\n"
                return e
            }
            let c = s[i]
            if c.isPythonWhitespace {
                i += 1
                continue
            }
            if let (tok, e) = try lexNumber(i) {
                emit(tok, i)
                i = e
                continue
            }
            if c == "_" || c.properties.isAlphabetic {
                var e = i + 1
                while e < s.count, s[e] == "_" || s[e].properties.isAlphabetic || s[e].properties.numericType != nil {
                    e += 1
                }
                emit(.name(string(i..<e)), i)
                i = e
                continue
            }
            if c == "'" || c == "\"" {
                let (value, e) = try lexString(i)
                emit(.string(value), i)
                i = e
                continue
            }
            var op: String? = nil
            for cand in ["//", "**", "==", "!=", ">=", "<="] where at(i, cand) {
                op = cand
                break
            }
            if op == nil, "+-/*%~[](){}><=.:|,;".unicodeScalars.contains(c) { op = String(c) }
            guard let op else { throw fail("unexpected char '\(Character(c))'", i) }
            switch op {
            case "(": balance.append(")")
            case "[": balance.append("]")
            case "{": balance.append("}")
            case ")", "]", "}":
                guard let expected = balance.popLast() else { throw fail("unexpected '\(op)'", i) }
                if String(expected) != op { throw fail("unexpected '\(op)', expected '\(expected)'", i) }
            default: break
            }
            emit(.op(op), i)
            i += op.unicodeScalars.count
        }
    }

    private func digits(_ i: Int, _ ok: (Unicode.Scalar) -> Bool) -> Int {
        // Python-style digit runs allow single underscores between digits.
        var e = i
        while e < s.count {
            if ok(s[e]) {
                e += 1
            } else if s[e] == "_", e > i, e + 1 < s.count, ok(s[e + 1]) {
                e += 1
            } else {
                break
            }
        }
        return e
    }

    private func lexNumber(_ i: Int) throws -> (JinjaTokenKind, Int)? {
        let isDigit: (Unicode.Scalar) -> Bool = { $0.value >= 48 && $0.value <= 57 }
        guard isDigit(s[i]) else { return nil }
        let clean: (Range<Int>) -> String = { r in string(r).replacingOccurrences(of: "_", with: "") }
        // Float: digits then a fraction and/or an exponent (never after a '.', so `a.0.1` stays an item path).
        if i == 0 || s[i - 1] != "." {
            let intEnd = digits(i, isDigit)
            var e = intEnd
            var isFloat = false
            if e + 1 < s.count, s[e] == ".", isDigit(s[e + 1]) {
                e = digits(e + 1, isDigit)
                isFloat = true
            }
            if e < s.count, s[e] == "e" || s[e] == "E" {
                var k = e + 1
                if k < s.count, s[k] == "+" || s[k] == "-" { k += 1 }
                if k < s.count, isDigit(s[k]) {
                    e = digits(k, isDigit)
                    isFloat = true
                }
            }
            if isFloat {
                guard let d = Double(clean(i..<e)) else { throw fail("invalid number", i) }
                return (.float(d), e)
            }
        }
        if s[i] == "0", i + 1 < s.count {
            let prefix = s[i + 1].properties.lowercaseMapping
            let radix: Int? = prefix == "b" ? 2 : prefix == "o" ? 8 : prefix == "x" ? 16 : nil
            if let radix {
                let e = digits(i + 2) { Int(String($0), radix: radix) != nil }
                if e > i + 2, let v = Int(clean(i + 2..<e), radix: radix) { return (.integer(v), e) }
            }
        }
        let e = digits(i, isDigit)
        guard let v = Int(clean(i..<e)) else { throw fail("integer literal too large", i) }
        return (.integer(v), e)
    }

    /// Reads a quoted string literal, decoding Python escapes as Jinja does.
    private func lexString(_ i: Int) throws -> (String, Int) {
        let quote = s[i]
        var out = String.UnicodeScalarView()
        var k = i + 1
        func hex(_ count: Int) -> Unicode.Scalar? {
            guard k + count < s.count else { return nil }
            let v = UInt32(string(k + 1..<k + 1 + count), radix: 16)
            return v.flatMap(Unicode.Scalar.init)
        }
        while k < s.count {
            let c = s[k]
            if c == quote { return (String(out), k + 1) }
            if c == "\\", k + 1 < s.count {
                let n = s[k + 1]
                switch n {
                case "\n": k += 2; continue
                case "\\", "'", "\"": out.append(n)
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "t": out.append("\t")
                case "v": out.append("\u{0B}")
                case "x", "u", "U":
                    let count = n == "x" ? 2 : n == "u" ? 4 : 8
                    k += 1
                    guard let v = hex(count) else { throw fail("invalid \\\(n) escape in string", k - 1) }
                    out.append(v)
                    k += count + 1
                    continue
                case "0"..."7":
                    var e = k + 1
                    while e < s.count, e < k + 4, ("0"..."7").contains(s[e]) { e += 1 }
                    if let v = UInt32(string(k + 1..<e), radix: 8), let u = Unicode.Scalar(v) { out.append(u) }
                    k = e
                    continue
                default:
                    out.append("\\")
                    out.append(n)
                }
                k += 2
                continue
            }
            out.append(c)
            k += 1
        }
        throw fail("unterminated string", i)
    }
}

extension Unicode.Scalar {
    /// Python's `str.isspace`: Unicode White_Space plus the ASCII separators U+001C...U+001F.
    var isPythonWhitespace: Bool {
        if value < 128 {
            return value == 32 || (value >= 9 && value <= 13) || (value >= 0x1C && value <= 0x1F)
        }
        return properties.isWhitespace
    }
}
