import Foundation

/// Arithmetic, comparison and membership with Python's rules (integer floor division,
/// sign of `%` following the divisor, `str * int`, `TypeError` on mixed kinds).
enum JinjaOperators {
    /// Largest string or list a template may build by repetition or concatenation.
    static let maxBuiltLength = 32 << 20

    static func binary(_ op: String, _ a: JinjaValue, _ b: JinjaValue, _ pos: JinjaPosition) throws -> JinjaValue {
        if case .undefined(let hint) = a { throw JinjaError(.runtime, hint, at: pos) }
        if case .undefined(let hint) = b { throw JinjaError(.runtime, hint, at: pos) }
        func unsupported() -> JinjaError {
            JinjaError(.runtime, "unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'", at: pos)
        }
        func overflow() -> JinjaError { JinjaError(.runtime, "integer overflow in \(op)", at: pos) }
        switch op {
        case "+":
            switch (a, b) {
            case (.string(let x), .string(let y)):
                guard x.utf8.count + y.utf8.count <= maxBuiltLength else { throw JinjaError(.runtime, "string too long", at: pos) }
                return .string(x + y)
            case (.array(let x), .array(let y)): return .array(x + y)
            default: break
            }
            if let x = a.asInt, let y = b.asInt {
                let (r, o) = x.addingReportingOverflow(y)
                if o { throw overflow() }
                return .int(r)
            }
            if let x = a.asNumber, let y = b.asNumber { return .double(x + y) }
            throw unsupported()
        case "-":
            if let x = a.asInt, let y = b.asInt {
                let (r, o) = x.subtractingReportingOverflow(y)
                if o { throw overflow() }
                return .int(r)
            }
            if let x = a.asNumber, let y = b.asNumber { return .double(x - y) }
            throw unsupported()
        case "*":
            switch (a, b) {
            case (.string(let s), _) where b.asInt != nil: return try repeatString(s, b.asInt!, pos)
            case (_, .string(let s)) where a.asInt != nil: return try repeatString(s, a.asInt!, pos)
            case (.array(let l), _) where b.asInt != nil: return try repeatArray(l, b.asInt!, pos)
            case (_, .array(let l)) where a.asInt != nil: return try repeatArray(l, a.asInt!, pos)
            default: break
            }
            if let x = a.asInt, let y = b.asInt {
                let (r, o) = x.multipliedReportingOverflow(by: y)
                if o { throw overflow() }
                return .int(r)
            }
            if let x = a.asNumber, let y = b.asNumber { return .double(x * y) }
            throw unsupported()
        case "/":
            guard let x = a.asNumber, let y = b.asNumber else { throw unsupported() }
            if y == 0 { throw JinjaError(.runtime, "division by zero", at: pos) }
            return .double(x / y)
        case "//":
            if let x = a.asInt, let y = b.asInt {
                if y == 0 { throw JinjaError(.runtime, "integer division or modulo by zero", at: pos) }
                return .int(floorDiv(x, y))
            }
            guard let x = a.asNumber, let y = b.asNumber else { throw unsupported() }
            if y == 0 { throw JinjaError(.runtime, "float floor division by zero", at: pos) }
            return .double((x / y).rounded(.down))
        case "%":
            if case .string(let fmt) = a { return .string(try percentFormat(fmt, b, pos)) }
            if let x = a.asInt, let y = b.asInt {
                if y == 0 { throw JinjaError(.runtime, "integer division or modulo by zero", at: pos) }
                return .int(x - floorDiv(x, y) * y)
            }
            guard let x = a.asNumber, let y = b.asNumber else { throw unsupported() }
            if y == 0 { throw JinjaError(.runtime, "float modulo", at: pos) }
            var r = fmod(x, y)
            if r != 0 && (r < 0) != (y < 0) { r += y }
            return .double(r)
        case "**":
            if let x = a.asInt, let y = b.asInt, y >= 0 {
                var result = 1
                for _ in 0..<y {
                    let (r, o) = result.multipliedReportingOverflow(by: x)
                    if o { throw overflow() }
                    result = r
                    if result == 0 || result == 1 { break }
                }
                return .int(result)
            }
            guard let x = a.asNumber, let y = b.asNumber else { throw unsupported() }
            return .double(pow(x, y))
        default:
            throw JinjaError(.runtime, "unknown operator \(op)", at: pos)
        }
    }

    private static func floorDiv(_ x: Int, _ y: Int) -> Int {
        let q = x / y
        return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q
    }

    private static func repeatString(_ s: String, _ n: Int, _ pos: JinjaPosition) throws -> JinjaValue {
        guard n > 0 else { return .string("") }
        guard s.utf8.count * n <= maxBuiltLength else { throw JinjaError(.runtime, "string too long", at: pos) }
        return .string(String(repeating: s, count: n))
    }

    private static func repeatArray(_ l: [JinjaValue], _ n: Int, _ pos: JinjaPosition) throws -> JinjaValue {
        guard n > 0 else { return .array([]) }
        guard l.count * n <= maxBuiltLength else { throw JinjaError(.runtime, "list too long", at: pos) }
        return .array(Array([[JinjaValue]](repeating: l, count: n).joined()))
    }

    static func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue, _ pos: JinjaPosition) throws -> Bool {
        switch op {
        case "==": return a == b
        case "!=": return a != b
        case "in": return try contains(b, a, pos)
        case "notin": return !(try contains(b, a, pos))
        default:
            if case .undefined(let hint) = a { throw JinjaError(.runtime, hint, at: pos) }
            if case .undefined(let hint) = b { throw JinjaError(.runtime, hint, at: pos) }
            let less: Bool?
            switch op {
            case "<": less = a.pythonLess(than: b)
            case ">": less = b.pythonLess(than: a)
            case "<=": less = b.pythonLess(than: a).map { !$0 }
            case ">=": less = a.pythonLess(than: b).map { !$0 }
            default: less = nil
            }
            guard let less else {
                throw JinjaError(.runtime, "'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", at: pos)
            }
            return less
        }
    }

    /// Python `needle in container`.
    static func contains(_ container: JinjaValue, _ needle: JinjaValue, _ pos: JinjaPosition) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let n) = needle else {
                if case .undefined(let hint) = needle { throw JinjaError(.runtime, hint, at: pos) }
                throw JinjaError(.runtime, "'in <string>' requires string as left operand, not \(needle.typeName)", at: pos)
            }
            return n.isEmpty || s.unicodeScalars.firstRange(of: n.unicodeScalars) != nil
        case .array(let a): return a.contains(needle)
        case .object(let o):
            return JinjaObject.storageKey(needle).map { o[$0] != nil } ?? false
        case .undefined: return false
        default:
            throw JinjaError(.runtime, "argument of type '\(container.typeName)' is not iterable", at: pos)
        }
    }

    /// Python's `format % values` for the conversions templates use (`%s`, `%d`, `%.2f`, ...).
    static func percentFormat(_ format: String, _ values: JinjaValue, _ pos: JinjaPosition) throws -> String {
        let chars = Array(format.unicodeScalars)
        var args: [JinjaValue]
        if case .array(let a) = values { args = a } else { args = [values] }
        let mapping = values.objectValue
        var out = String.UnicodeScalarView()
        var i = 0
        var argIndex = 0
        func fail(_ m: String) -> JinjaError { JinjaError(.runtime, m, at: pos) }
        while i < chars.count {
            let c = chars[i]
            guard c == "%" else {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < chars.count else { throw fail("incomplete format") }
            var key: String? = nil
            if chars[i] == "(" {
                guard let close = chars[i...].firstIndex(of: ")") else { throw fail("incomplete format key") }
                key = String(String.UnicodeScalarView(chars[(i + 1)..<close]))
                i = close + 1
            }
            var flags = ""
            while i < chars.count, "-+ 0#".unicodeScalars.contains(chars[i]) {
                flags.unicodeScalars.append(chars[i])
                i += 1
            }
            var width = ""
            while i < chars.count, ("0"..."9").contains(chars[i]) {
                width.unicodeScalars.append(chars[i])
                i += 1
            }
            var precision: Int? = nil
            if i < chars.count, chars[i] == "." {
                i += 1
                var p = ""
                while i < chars.count, ("0"..."9").contains(chars[i]) {
                    p.unicodeScalars.append(chars[i])
                    i += 1
                }
                precision = Int(p) ?? 0
            }
            guard i < chars.count else { throw fail("incomplete format") }
            let conv = chars[i]
            i += 1
            if conv == "%" {
                out.append("%")
                continue
            }
            let arg: JinjaValue
            if let key {
                guard let mapping, let v = mapping[key] else { throw fail("format requires a mapping with key '\(key)'") }
                arg = v
            } else {
                guard argIndex < args.count else { throw fail("not enough arguments for format string") }
                arg = args[argIndex]
                argIndex += 1
            }
            var body: String
            switch conv {
            case "s": body = arg.pythonStr
            case "r", "a": body = arg.pythonRepr
            case "d", "i", "u":
                guard let n = arg.asNumber else { throw fail("%\(conv) format: a real number is required, not \(arg.typeName)") }
                let v = arg.asInt ?? Int(n.rounded(.towardZero))
                body = String(abs(v))
                if let precision, body.count < precision { body = String(repeating: "0", count: precision - body.count) + body }
                if v < 0 { body = "-" + body } else if flags.contains("+") { body = "+" + body } else if flags.contains(" ") { body = " " + body }
            case "f", "F", "e", "E", "g", "G":
                guard let n = arg.asNumber else { throw fail("must be real number, not \(arg.typeName)") }
                body = String(format: "%\(flags.contains("+") ? "+" : "")\(flags.contains("#") ? "#" : "").\(precision ?? 6)\(Character(conv))", n)
            case "x", "X", "o":
                guard let v = arg.asInt else { throw fail("%\(conv) format: an integer is required, not \(arg.typeName)") }
                body = String(abs(v), radix: conv == "o" ? 8 : 16, uppercase: conv == "X")
                if v < 0 { body = "-" + body }
            case "c":
                if let v = arg.asInt, let u = Unicode.Scalar(UInt32(clamping: v)) { body = String(Character(u)) } else { body = arg.pythonStr }
            default:
                throw fail("unsupported format character '\(Character(conv))'")
            }
            if conv == "s" || conv == "r", let precision { body = String(body.unicodeScalars.prefix(precision).map(Character.init)) }
            if let w = Int(width), body.unicodeScalars.count < w {
                let padCount = w - body.unicodeScalars.count
                if flags.contains("-") {
                    body += String(repeating: " ", count: padCount)
                } else if flags.contains("0") && conv != "s" && conv != "r" {
                    let signed = body.hasPrefix("-") || body.hasPrefix("+")
                    let sign = signed ? String(body.removeFirst()) : ""
                    body = sign + String(repeating: "0", count: padCount) + body
                } else {
                    body = String(repeating: " ", count: padCount) + body
                }
            }
            out.append(contentsOf: body.unicodeScalars)
        }
        if mapping == nil && argIndex < args.count && values.arrayValue != nil {
            throw fail("not all arguments converted during string formatting")
        }
        return String(out)
    }
}
