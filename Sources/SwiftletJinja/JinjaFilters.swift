import Foundation

/// Jinja's built-in filters (with transformers' `tojson`), matching `jinja2` 3.1 behaviour.
enum JinjaFilters {
    static func apply(_ name: String, _ value: JinjaValue, _ a: JinjaArguments, _ interp: JinjaInterpreter, _ pos: JinjaPosition) throws -> JinjaValue {
        func fail(_ m: String) -> JinjaError { JinjaError(.runtime, m, at: pos) }
        func items(_ v: JinjaValue) throws -> [JinjaValue] { try interp.iterate(v, pos) }
        func noArgs() throws {
            if !a.positional.isEmpty || !a.keywords.isEmpty { throw fail("filter '\(name)' takes no arguments") }
        }

        switch name {
        case "default", "d":
            let b = try a.bind(["default_value", "boolean"], name)
            let boolean = b[1]?.isTruthy ?? false
            if value.isUndefined || (boolean && !value.isTruthy) { return b[0] ?? .string("") }
            return value
        case "length", "count":
            try noArgs()
            switch value {
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let x): return .int(x.count)
            case .object(let o): return .int(o.count)
            case .undefined: return .int(0)
            default: throw fail("object of type '\(value.typeName)' has no len()")
            }
        case "upper":
            try noArgs()
            return .string(PyString.upper(value.pythonStr))
        case "lower":
            try noArgs()
            return .string(PyString.lower(value.pythonStr))
        case "capitalize":
            try noArgs()
            return .string(PyString.capitalize(value.pythonStr))
        case "title":
            try noArgs()
            return .string(titleFilter(value.pythonStr))
        case "trim":
            let chars = try a.bind(["chars"], name)[0].orNone?.pythonStr
            return .string(PyString.strip(value.pythonStr, chars, leading: true, trailing: true))
        case "string":
            try noArgs()
            return .string(value.pythonStr)
        case "safe", "e", "escape", "forceescape":
            try noArgs()
            if name == "safe" { return value }
            return .string(htmlEscape(value.pythonStr))
        case "tojson":
            let b = try a.bind(["ensure_ascii", "indent", "separators", "sort_keys"], name)
            var o = JinjaValue.JSONOptions()
            o.ensureASCII = b[0]?.isTruthy ?? false
            switch b[1] {
            case .int(let n)?: o.indent = String(repeating: " ", count: max(0, n))
            case .string(let s)?: o.indent = s
            default: break
            }
            if case .array(let seps)? = b[2], seps.count == 2 { o.separators = (seps[0].pythonStr, seps[1].pythonStr) }
            o.sortKeys = b[3]?.isTruthy ?? false
            do {
                return .string(try value.pythonJSON(o))
            } catch var e as JinjaError {
                e.position = pos
                throw e
            }
        case "items":
            try noArgs()
            switch value {
            case .object(let o): return .array(o.itemPairs)
            case .undefined: return .array([])
            default: throw fail("Can only get item pairs from a mapping.")
            }
        case "list":
            try noArgs()
            return .array(try items(value))
        case "join":
            let b = try a.bind(["d", "attribute"], name)
            let sep = b[0]?.pythonStr ?? ""
            var list = try items(value)
            if let attr = b[1].orNone { list = try list.map { try attribute($0, attr) } }
            return .string(list.map(\.pythonStr).joined(separator: sep))
        case "first", "last":
            try noArgs()
            let list = try items(value)
            guard let v = name == "first" ? list.first : list.last else {
                return .undefined(hint: "No \(name) item, sequence was empty.")
            }
            return v
        case "reverse":
            try noArgs()
            if case .string(let s) = value { return .string(PyString.make(s.unicodeScalars.reversed())) }
            return .array(try items(value).reversed())
        case "map":
            // Jinja maps and selects over falsy values (none included) as over nothing.
            if !value.isTruthy { return .array([]) }
            var list = try items(value)
            if a.positional.isEmpty {
                let b = try a.bind(["attribute", "default"], name)
                guard let attr = b[0] else { throw fail("map requires a filter name or attribute=") }
                list = try list.map { item in
                    let v = try attribute(item, attr)
                    if v.isUndefined, let d = b[1] { return d }
                    return v
                }
            } else {
                let filterName = a.positional[0].pythonStr
                let rest = Array(a.positional.dropFirst())
                list = try list.map { try interp.applyFilter(filterName, $0, rest, a.keywords, pos) }
            }
            return .array(list)
        case "select", "reject", "selectattr", "rejectattr":
            if !value.isTruthy { return .array([]) }
            let byAttr = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            var args = a.positional
            var attr: JinjaValue? = nil
            if byAttr {
                guard !args.isEmpty else { throw fail("\(name) requires an attribute name") }
                attr = args.removeFirst()
            }
            let testName = args.isEmpty ? nil : args.removeFirst().pythonStr
            return .array(try items(value).filter { item in
                let v = try attr.map { try attribute(item, $0) } ?? item
                let ok = try testName.map { try interp.runTest($0, v, args, pos) } ?? v.isTruthy
                return ok == keep
            })
        case "unique":
            let b = try a.bind(["case_sensitive", "attribute"], name)
            let cs = b[0]?.isTruthy ?? false
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for item in try items(value) {
                var key = try b[1].orNone.map { try attribute(item, $0) } ?? item
                if !cs { key = ignoreCase(key) }
                if !seen.contains(key) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .array(out)
        case "sort":
            let b = try a.bind(["reverse", "case_sensitive", "attribute"], name)
            let reverse = b[0]?.isTruthy ?? false
            let cs = b[1]?.isTruthy ?? false
            let list = try items(value)
            let attrs = b[2].orNone.map { $0.pythonStr.split(separator: ",").map { JinjaValue.string(String($0).trimmingCharacters(in: .whitespaces)) } }
            let keys: [JinjaValue] = try list.map { item in
                var key: JinjaValue
                if let attrs {
                    key = .array(try attrs.map { try attribute(item, $0) })
                    if attrs.count == 1, case .array(let k) = key { key = k[0] }
                } else {
                    key = item
                }
                return cs ? key : ignoreCase(key)
            }
            return .array(try stableSort(list, keys, reverse: reverse, pos).map { list[$0] })
        case "dictsort":
            let b = try a.bind(["case_sensitive", "by", "reverse"], name)
            guard case .object(let o) = value else { throw fail("dictsort requires a mapping") }
            let cs = b[0]?.isTruthy ?? false
            let byValue = b[1]?.pythonStr == "value"
            let pairs = o.pairs
            let keys = pairs.map { p -> JinjaValue in
                let k = byValue ? p.value : o.keyValue(p.key)
                return cs ? k : ignoreCase(k)
            }
            return .array(try stableSort(pairs.map { _ in JinjaValue.none }, keys, reverse: b[2]?.isTruthy ?? false, pos).map {
                .array([o.keyValue(pairs[$0].key), pairs[$0].value])
            })
        case "min", "max":
            let b = try a.bind(["case_sensitive", "attribute"], name)
            let cs = b[0]?.isTruthy ?? false
            let list = try items(value)
            guard !list.isEmpty else { return .undefined(hint: "No aggregated item, sequence was empty.") }
            let keys = try list.map { item -> JinjaValue in
                let k = try b[1].orNone.map { try attribute(item, $0) } ?? item
                return cs ? k : ignoreCase(k)
            }
            let order = try stableSort(list, keys, reverse: false, pos)
            return list[name == "min" ? order.first! : order.last!]
        case "sum":
            let b = try a.bind(["attribute", "start"], name)
            var total = b[1] ?? .int(0)
            for item in try items(value) {
                let v = try b[0].orNone.map { try attribute(item, $0) } ?? item
                total = try JinjaOperators.binary("+", total, v, pos)
            }
            return total
        case "abs":
            try noArgs()
            switch value {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            case .bool(let x): return .int(x ? 1 : 0)
            default: throw fail("bad operand type for abs(): '\(value.typeName)'")
            }
        case "int":
            let b = try a.bind(["default", "base"], name)
            return toInt(value, base: b[1]?.asInt ?? 10) ?? b[0] ?? .int(0)
        case "float":
            let b = try a.bind(["default"], name)
            return toFloat(value).map { .double($0) } ?? b[0] ?? .double(0)
        case "round":
            let b = try a.bind(["precision", "method"], name)
            let precision = b[0]?.asInt ?? 0
            let method = b[1]?.pythonStr ?? "common"
            guard let x = value.asNumber else { throw fail("round requires a number") }
            let scale = pow(10.0, Double(precision))
            switch method {
            case "common":
                if case .int = value, precision >= 0 { return value }
                return .double(pythonRound(x, precision))
            case "ceil": return .double((x * scale).rounded(.up) / scale)
            case "floor": return .double((x * scale).rounded(.down) / scale)
            default: throw fail("method must be common, ceil or floor")
            }
        case "replace":
            let b = try a.bind(["old", "new", "count"], name)
            guard let old = b[0], let new = b[1] else { throw fail("replace requires old and new") }
            return .string(PyString.replace(value.pythonStr, old.pythonStr, new.pythonStr, b[2].orNone?.asInt ?? -1))
        case "indent":
            let b = try a.bind(["width", "first", "blank"], name)
            let indent: String
            if case .string(let s)? = b[0] { indent = s } else { indent = String(repeating: " ", count: b[0]?.asInt ?? 4) }
            let s = value.pythonStr + "\n"
            var rv: String
            if b[2]?.isTruthy ?? false {
                rv = PyString.splitlines(s).joined(separator: "\n" + indent)
            } else {
                var lines = PyString.splitlines(s)
                rv = lines.isEmpty ? "" : lines.removeFirst()
                if !lines.isEmpty {
                    rv += "\n" + lines.map { $0.isEmpty ? $0 : indent + $0 }.joined(separator: "\n")
                }
            }
            if b[1]?.isTruthy ?? false { rv = indent + rv }
            return .string(rv)
        case "center":
            let width = try a.bind(["width"], name)[0]?.asInt ?? 80
            return .string(PyString.center(value.pythonStr, width))
        case "truncate":
            let b = try a.bind(["length", "killwords", "end", "leeway"], name)
            let length = b[0]?.asInt ?? 255
            let end = b[2]?.pythonStr ?? "..."
            let leeway = b[3].orNone?.asInt ?? 5
            let c = Array(value.pythonStr.unicodeScalars)
            if c.count <= length + leeway { return .string(value.pythonStr) }
            let cut = PyString.make(c.prefix(max(0, length - end.unicodeScalars.count)))
            if b[1]?.isTruthy ?? false { return .string(cut + end) }
            return .string((PyString.rsplit(cut, " ", 1).first ?? "") + end)
        case "wordcount":
            try noArgs()
            var n = 0
            var inWord = false
            for c in value.pythonStr.unicodeScalars {
                let w = c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
                if w && !inWord { n += 1 }
                inWord = w
            }
            return .int(n)
        case "striptags":
            try noArgs()
            var s = value.pythonStr
            for pattern in ["<!--.*?-->", "<[^>]*>"] {
                s = s.replacingOccurrences(of: pattern, with: "", options: .regularExpression)
            }
            s = PyString.split(s, nil, -1).joined(separator: " ")
            // Markup.striptags also unescapes what remains.
            for (entity, char) in [("&lt;", "<"), ("&gt;", ">"), ("&#34;", "\""), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
                s = s.replacingOccurrences(of: entity, with: char)
            }
            return .string(s)
        case "attr":
            // Attributes only: unlike `.name` syntax, `attr` never falls back to dict items.
            let key = (try a.bind(["name"], name)[0] ?? .none).pythonStr
            switch value {
            case .namespace: return JinjaBuiltins.getAttribute(value, key)
            default: return JinjaBuiltins.method(value, key) ?? .undefined(hint: "'\(value.typeName) object' has no attribute '\(key)'")
            }
        case "format":
            let args: JinjaValue = a.keywords.isEmpty ? .array(a.positional) : .object(JinjaObject(a.keywords))
            return .string(try JinjaOperators.percentFormat(value.pythonStr, args, pos))
        case "pprint":
            return .string(value.pythonRepr)
        case "batch":
            let b = try a.bind(["linecount", "fill_with"], name)
            guard let n = b[0]?.asInt, n > 0 else { throw fail("batch requires a positive line count") }
            var out: [JinjaValue] = []
            var cur: [JinjaValue] = []
            for item in try items(value) {
                cur.append(item)
                if cur.count == n {
                    out.append(.array(cur))
                    cur = []
                }
            }
            if !cur.isEmpty {
                if let fill = b[1].orNone { cur += Array(repeating: fill, count: n - cur.count) }
                out.append(.array(cur))
            }
            return .array(out)
        case "slice":
            let b = try a.bind(["slices", "fill_with"], name)
            guard let n = b[0]?.asInt, n > 0 else { throw fail("slice requires a positive count") }
            let seq = try items(value)
            let per = seq.count / n, extra = seq.count % n
            var offset = 0
            var out: [JinjaValue] = []
            for i in 0..<n {
                let start = offset + i * per
                if i < extra { offset += 1 }
                let end = offset + (i + 1) * per
                var part = Array(seq[start..<end])
                if let fill = b[1].orNone, i >= extra { part.append(fill) }
                out.append(.array(part))
            }
            return .array(out)
        default:
            throw fail("no filter named '\(name)'")
        }
    }

    /// Jinja's `make_attrgetter`: dotted paths, integer parts as indices, item lookup first.
    static func attribute(_ item: JinjaValue, _ attr: JinjaValue) throws -> JinjaValue {
        if let i = attr.asInt { return JinjaBuiltins.getItem(item, .int(i)) }
        var v = item
        for part in attr.pythonStr.split(separator: ".", omittingEmptySubsequences: false) {
            if case .undefined(let hint) = v { throw JinjaError(.runtime, hint) }
            if let i = Int(part) {
                v = JinjaBuiltins.getItem(v, .int(i))
            } else {
                v = JinjaBuiltins.getItem(v, .string(String(part)))
            }
        }
        return v
    }

    private static func ignoreCase(_ v: JinjaValue) -> JinjaValue {
        if case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// Indices of `items` ordered by `keys`, stable like Python's sort.
    private static func stableSort(_ items: [JinjaValue], _ keys: [JinjaValue], reverse: Bool, _ pos: JinjaPosition) throws -> [Int] {
        var failure: JinjaError? = nil
        let order = Array(items.indices).sorted { i, j in
            let (x, y) = reverse ? (keys[j], keys[i]) : (keys[i], keys[j])
            guard let less = x.pythonLess(than: y) else {
                failure = JinjaError(.runtime, "'<' not supported between instances of '\(x.typeName)' and '\(y.typeName)'", at: pos)
                return i < j
            }
            if less { return true }
            if let greater = y.pythonLess(than: x), greater { return false }
            return i < j
        }
        if let failure { throw failure }
        return order
    }

    /// Jinja's `title` filter, which capitalises after spaces, dashes and opening brackets.
    private static func titleFilter(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for c in s.unicodeScalars {
            let separator = c.isPythonWhitespace || "-({[<".unicodeScalars.contains(c)
            if separator {
                out.unicodeScalars.append(c)
                atWordStart = true
            } else if atWordStart {
                out += c.properties.uppercaseMapping
                atWordStart = false
            } else {
                out += c.properties.lowercaseMapping
            }
        }
        return out
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    private static func toInt(_ v: JinjaValue, base: Int) -> JinjaValue? {
        switch v {
        case .int, .bool: return .int(v.asInt!)
        case .double(let d): return d.isFinite ? .int(Int(d.rounded(.towardZero))) : nil
        case .string(let s):
            var t = s.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "_", with: "")
            var negative = false
            if t.hasPrefix("-") || t.hasPrefix("+") {
                negative = t.hasPrefix("-")
                t.removeFirst()
            }
            var radix = base
            let lower = t.lowercased()
            if base == 16 && lower.hasPrefix("0x") || base == 8 && lower.hasPrefix("0o") || base == 2 && lower.hasPrefix("0b") {
                t.removeFirst(2)
            } else if base == 0 {
                radix = lower.hasPrefix("0x") ? 16 : lower.hasPrefix("0o") ? 8 : lower.hasPrefix("0b") ? 2 : 10
                if radix != 10 { t.removeFirst(2) }
            }
            if let i = Int(t, radix: radix) { return .int(negative ? -i : i) }
            if let d = toFloat(v), d.isFinite { return .int(Int(d.rounded(.towardZero))) }
            return nil
        default: return nil
        }
    }

    private static func toFloat(_ v: JinjaValue) -> Double? {
        switch v {
        case .int, .bool, .double: return v.asNumber
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "_", with: "").lowercased()
            switch t {
            case "inf", "+inf", "infinity", "+infinity": return .infinity
            case "-inf", "-infinity": return -.infinity
            case "nan", "+nan", "-nan": return .nan
            default:
                guard !t.isEmpty, t.allSatisfy({ "0123456789.e+-".contains($0) }) else { return nil }
                return Double(t)
            }
        default: return nil
        }
    }

    /// Python's `round(x, n)`: round half to even on the exact decimal value.
    private static func pythonRound(_ x: Double, _ n: Int) -> Double {
        guard x.isFinite else { return x }
        // Python rounds the exactly represented value; formatting with enough digits and
        // letting Foundation round half-even reproduces that for all practical inputs.
        let s = String(format: "%.\(max(0, n))f", x)
        if n >= 0 { return Double(s) ?? x }
        let scale = pow(10.0, Double(-n))
        return (x / scale).rounded(.toNearestOrEven) * scale
    }
}
