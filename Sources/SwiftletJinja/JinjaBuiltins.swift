import Foundation

/// Global functions, attribute and item access, and the Python methods templates call on
/// strings, dicts and lists.
enum JinjaBuiltins {
    /// Largest `range()` a template may build.
    static let maxRange = 1 << 20

    static func globals() -> [String: JinjaValue] {
        var g: [String: JinjaValue] = [:]
        g["range"] = .function(JinjaFunction(name: "range") { args, _ in
            let ints = try args.map { v -> Int in
                guard let i = v.asInt else { throw JinjaError(.runtime, "'\(v.typeName)' object cannot be interpreted as an integer") }
                return i
            }
            var start = 0, stop = 0, step = 1
            switch ints.count {
            case 1: stop = ints[0]
            case 2: (start, stop) = (ints[0], ints[1])
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw JinjaError(.runtime, "range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw JinjaError(.runtime, "range() arg 3 must not be zero") }
            let (span, overflow) = step > 0 ? stop.subtractingReportingOverflow(start) : start.subtractingReportingOverflow(stop)
            if !overflow && span <= 0 { return .array([]) }
            guard !overflow, span.magnitude / step.magnitude < UInt(maxRange) else {
                throw JinjaError(.runtime, "range too big (more than \(maxRange) items)")
            }
            return .array(stride(from: start, to: stop, by: step).map { .int($0) })
        })
        g["dict"] = .function(JinjaFunction(name: "dict") { args, kwargs in
            var o = JinjaObject()
            if let first = args.first {
                switch first {
                case .object(let src): o = src
                case .array(let pairs):
                    for p in pairs {
                        guard case .array(let kv) = p, kv.count == 2, case .string(let k) = kv[0] else {
                            throw JinjaError(.runtime, "dictionary update sequence element has wrong shape")
                        }
                        o[k] = kv[1]
                    }
                default: throw JinjaError(.runtime, "'\(first.typeName)' object is not iterable")
                }
            }
            for (k, v) in kwargs { o[k] = v }
            return .object(o)
        })
        g["namespace"] = .function(JinjaFunction(name: "namespace") { args, kwargs in
            var o = JinjaObject()
            if case .object(let src)? = args.first { o = src }
            for (k, v) in kwargs { o[k] = v }
            // transformers rejects these to keep templates away from Python internals.
            if let bad = o.keys.first(where: { $0.hasPrefix("_") }) {
                throw JinjaError(.runtime, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(bad)'.")
            }
            return .namespace(JinjaNamespace(o))
        })
        g["raise_exception"] = .function(JinjaFunction(name: "raise_exception") { args, _ in
            throw JinjaError(.raised, args.first?.pythonStr ?? "")
        })
        g["strftime_now"] = .function(JinjaFunction(name: "strftime_now") { args, _ in
            guard case .string(let fmt)? = args.first else { throw JinjaError(.runtime, "strftime_now() expects a format string") }
            return .string(Strftime.format(fmt, Date()))
        })
        g["joiner"] = .function(JinjaFunction(name: "joiner") { args, kwargs in
            let sep = (try JinjaArguments(args, kwargs).bind(["sep"], "joiner")[0] ?? .string(", ")).pythonStr
            let state = JinjaNamespace(JinjaObject())
            return .function(JinjaFunction(name: "joiner") { _, _ in
                if state.attributes["used"] == nil {
                    state.attributes["used"] = .bool(true)
                    return .string("")
                }
                return .string(sep)
            })
        })
        g["cycler"] = .function(JinjaFunction(name: "cycler") { items, _ in
            guard !items.isEmpty else { throw JinjaError(.runtime, "at least one item has to be provided") }
            let state = JinjaNamespace(JinjaObject([("pos", .int(0))]))
            let ns = JinjaNamespace(JinjaObject([("current", items[0])]))
            ns.attributes["next"] = .function(JinjaFunction(name: "next") { _, _ in
                let p = state.attributes["pos"]?.asInt ?? 0
                state.attributes["pos"] = .int((p + 1) % items.count)
                ns.attributes["current"] = items[(p + 1) % items.count]
                return items[p]
            })
            ns.attributes["reset"] = .function(JinjaFunction(name: "reset") { _, _ in
                state.attributes["pos"] = .int(0)
                ns.attributes["current"] = items[0]
                return .none
            })
            return .namespace(ns)
        })
        return g
    }

    // MARK: Attribute and item access

    private static let dictMethods: Set<String> = ["items", "keys", "values", "get", "copy", "clear", "pop", "popitem", "setdefault", "update"]

    /// `value.name`: Python attribute first (methods), then item, then undefined.
    static func getAttribute(_ value: JinjaValue, _ name: String) -> JinjaValue {
        switch value {
        case .object(let o):
            if dictMethods.contains(name) { return method(value, name)! }
            return o[name] ?? missingAttribute(value, name)
        case .namespace(let ns):
            return ns.attributes[name] ?? .undefined(hint: "'Namespace' object has no attribute '\(name)'")
        case .none:
            return .undefined(hint: "'None' has no attribute '\(name)'")
        default:
            return method(value, name) ?? missingAttribute(value, name)
        }
    }

    /// `value[key]`: item first, then a Python attribute of that name, then undefined.
    static func getItem(_ value: JinjaValue, _ key: JinjaValue) -> JinjaValue {
        switch (value, key) {
        case (.object(let o), _):
            if let sk = JinjaObject.storageKey(key), let v = o[sk] { return v }
            if case .string(let k) = key { return method(value, k) ?? missingAttribute(value, k) }
            return .undefined(hint: "'dict object' has no attribute '\(key.pythonStr)'")
        case (.array(let a), _) where key.asInt != nil:
            let i = key.asInt!
            let idx = i < 0 ? i + a.count : i
            return a.indices.contains(idx) ? a[idx] : .undefined(hint: "list object has no element \(i)")
        case (.string(let s), _) where key.asInt != nil:
            let chars = Array(s.unicodeScalars)
            let i = key.asInt!
            let idx = i < 0 ? i + chars.count : i
            return chars.indices.contains(idx) ? .string(String(chars[idx])) : .undefined(hint: "str object has no element \(i)")
        case (.namespace(let ns), .string(let k)):
            return ns.attributes[k] ?? .undefined(hint: "'Namespace' object has no attribute '\(k)'")
        case (_, .string(let k)):
            return method(value, k) ?? missingAttribute(value, k)
        default:
            return .undefined(hint: "'\(value.typeName) object' has no attribute '\(key.pythonStr)'")
        }
    }

    private static func missingAttribute(_ value: JinjaValue, _ name: String) -> JinjaValue {
        .undefined(hint: "'\(value.typeName) object' has no attribute '\(name)'")
    }

    /// Python slicing `value[start:stop:step]` for lists and strings.
    static func slice(_ value: JinjaValue, _ start: JinjaValue?, _ stop: JinjaValue?, _ step: JinjaValue?, _ pos: JinjaPosition) throws -> JinjaValue {
        func intOrNil(_ v: JinjaValue?) throws -> Int? {
            guard let v, !v.isNone else { return nil }
            guard let i = v.asInt else { throw JinjaError(.runtime, "slice indices must be integers or None", at: pos) }
            return i
        }
        let st = try intOrNil(step) ?? 1
        guard st != 0 else { throw JinjaError(.runtime, "slice step cannot be zero", at: pos) }
        func indices(_ n: Int) throws -> [Int] {
            func clamp(_ v: Int?, _ dflt: Int) -> Int {
                guard var v else { return dflt }
                if v < 0 { v += n }
                return st > 0 ? min(max(v, 0), n) : min(max(v, -1), n - 1)
            }
            let lo = clamp(try intOrNil(start), st > 0 ? 0 : n - 1)
            let hi = clamp(try intOrNil(stop), st > 0 ? n : -1)
            return Array(stride(from: lo, to: hi, by: st))
        }
        switch value {
        case .array(let a): return .array(try indices(a.count).map { a[$0] })
        case .string(let s):
            let c = Array(s.unicodeScalars)
            return .string(PyString.make(try indices(c.count).map { c[$0] }))
        default:
            throw JinjaError(.runtime, "'\(value.typeName)' object is not subscriptable", at: pos)
        }
    }

    // MARK: Methods

    private static func fn(_ name: String, _ body: @escaping (JinjaArguments) throws -> JinjaValue) -> JinjaValue {
        .function(JinjaFunction(name: name) { args, kwargs in try body(JinjaArguments(args, kwargs)) })
    }

    private static func str(_ v: JinjaValue?, _ what: String) throws -> String {
        guard case .string(let s)? = v else {
            throw JinjaError(.runtime, "\(what) must be str, not \(v?.typeName ?? "None")")
        }
        return s
    }

    /// A bound method `value.name`, or nil if that type has no such method.
    static func method(_ value: JinjaValue, _ name: String) -> JinjaValue? {
        switch value {
        case .string(let s): return stringMethod(s, name)
        case .object(let o): return dictMethod(o, name)
        case .array(let a): return listMethod(a, name)
        default: return nil
        }
    }

    private static func stringMethod(_ s: String, _ name: String) -> JinjaValue? {
        switch name {
        case "strip", "lstrip", "rstrip":
            return fn(name) { a in
                let chars = try a.bind(["chars"], name)[0].orNone.map { try str($0, "chars") }
                return .string(PyString.strip(s, chars, leading: name != "rstrip", trailing: name != "lstrip"))
            }
        case "split", "rsplit":
            return fn(name) { a in
                let b = try a.bind(["sep", "maxsplit"], name)
                let sep = try b[0].orNone.map { try str($0, "sep") }
                if sep == "" { throw JinjaError(.runtime, "empty separator") }
                let max = b[1]?.asInt ?? -1
                let parts = name == "split" ? PyString.split(s, sep, max) : PyString.rsplit(s, sep, max)
                return .array(parts.map { .string($0) })
            }
        case "splitlines":
            return fn(name) { a in
                let keep = try a.bind(["keepends"], name)[0]?.isTruthy ?? false
                return .array(PyString.splitlines(s, keepends: keep).map { .string($0) })
            }
        case "startswith", "endswith":
            return fn(name) { a in
                let b = try a.bind(["prefix", "start", "end"], name)
                let target = try JinjaBuiltins.slice(.string(s), b[1], b[2], nil, JinjaPosition(line: 0, column: 0)).stringValue ?? s
                let candidates: [JinjaValue]
                if case .array(let arr)? = b[0] { candidates = arr } else { candidates = [b[0] ?? .none] }
                for c in candidates {
                    let p = try str(c, "\(name) first arg")
                    let t = target.unicodeScalars, ps = p.unicodeScalars
                    if name == "startswith" ? t.starts(with: ps) : t.reversed().starts(with: ps.reversed()) { return .bool(true) }
                }
                return .bool(false)
            }
        case "upper": return fn(name) { _ in .string(PyString.upper(s)) }
        case "lower", "casefold": return fn(name) { _ in .string(PyString.lower(s)) }
        case "title": return fn(name) { _ in .string(PyString.title(s)) }
        case "capitalize": return fn(name) { _ in .string(PyString.capitalize(s)) }
        case "swapcase": return fn(name) { _ in .string(PyString.swapcase(s)) }
        case "replace":
            return fn(name) { a in
                let b = try a.bind(["old", "new", "count"], name)
                return .string(PyString.replace(s, try str(b[0], "replace() argument 1"), try str(b[1], "replace() argument 2"), b[2]?.asInt ?? -1))
            }
        case "find", "rfind", "index", "rindex":
            return fn(name) { a in
                let sub = try str(try a.bind(["sub"], name)[0], "\(name) argument")
                let i = PyString.find(s, sub, reverse: name.hasPrefix("r"))
                if i < 0 && name.hasSuffix("index") { throw JinjaError(.runtime, "substring not found") }
                return .int(i)
            }
        case "count":
            return fn(name) { a in .int(PyString.count(s, try str(try a.bind(["sub"], name)[0], "count argument"))) }
        case "join":
            return fn(name) { a in
                guard case .array(let items)? = try a.bind(["iterable"], name)[0] else {
                    throw JinjaError(.runtime, "can only join an iterable")
                }
                return .string(try items.map { try str($0, "sequence item") }.joined(separator: s))
            }
        case "center", "ljust", "rjust":
            return fn(name) { a in
                let b = try a.bind(["width", "fillchar"], name)
                let width = b[0]?.asInt ?? 0
                let fill = try b[1].map { try str($0, "fillchar") } ?? " "
                let pad = max(0, width - s.unicodeScalars.count)
                switch name {
                case "ljust": return .string(s + String(repeating: fill, count: pad))
                case "rjust": return .string(String(repeating: fill, count: pad) + s)
                default: return .string(PyString.center(s, width, fill))
                }
            }
        case "zfill":
            return fn(name) { a in
                let width = try a.bind(["width"], name)[0]?.asInt ?? 0
                var body = s
                var sign = ""
                if body.hasPrefix("-") || body.hasPrefix("+") { sign = String(body.removeFirst()) }
                let pad = max(0, width - s.unicodeScalars.count)
                return .string(sign + String(repeating: "0", count: pad) + body)
            }
        case "isdigit", "isnumeric", "isdecimal": return fn(name) { _ in .bool(PyString.isDigitString(s)) }
        case "isalpha": return fn(name) { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic }) }
        case "isalnum":
            return fn(name) { _ in
                .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
            }
        case "isspace": return fn(name) { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.isPythonWhitespace }) }
        case "isupper", "islower":
            return fn(name) { _ in
                let cased = s.unicodeScalars.filter { PyString.isCased($0) }
                let ok = cased.allSatisfy { name == "isupper" ? !$0.properties.isLowercase : !$0.properties.isUppercase }
                return .bool(!cased.isEmpty && ok)
            }
        case "istitle": return fn(name) { _ in .bool(s.contains { $0.isLetter } && PyString.title(s) == s) }
        case "partition", "rpartition":
            return fn(name) { a in
                let sep = try str(try a.bind(["sep"], name)[0], "sep")
                let i = PyString.find(s, sep, reverse: name == "rpartition")
                let c = Array(s.unicodeScalars)
                if i < 0 {
                    return name == "partition" ? [.string(s), "", ""] : ["", "", .string(s)]
                }
                let n = sep.unicodeScalars.count
                return [.string(PyString.make(c[..<i])), .string(sep), .string(PyString.make(c[(i + n)...]))]
            }
        case "removeprefix", "removesuffix":
            return fn(name) { a in
                let p = try str(try a.bind(["affix"], name)[0], "argument")
                let c = Array(s.unicodeScalars), pc = Array(p.unicodeScalars)
                if name == "removeprefix", c.starts(with: pc) { return .string(PyString.make(c.dropFirst(pc.count))) }
                if name == "removesuffix", !pc.isEmpty, c.reversed().starts(with: pc.reversed()) {
                    return .string(PyString.make(c.dropLast(pc.count)))
                }
                return .string(s)
            }
        case "format":
            return fn(name) { a in .string(try formatString(s, a)) }
        default:
            return nil
        }
    }

    private static func dictMethod(_ o: JinjaObject, _ name: String) -> JinjaValue? {
        switch name {
        case "items": return fn(name) { _ in .array(o.itemPairs) }
        case "keys": return fn(name) { _ in .array(o.keyValues) }
        case "values": return fn(name) { _ in .array(o.values) }
        case "copy": return fn(name) { _ in .object(o) }
        case "get":
            return fn(name) { a in
                let b = try a.bind(["key", "default"], name)
                guard let k = b[0].flatMap(JinjaObject.storageKey) else { return b[1] ?? .none }
                return o[k] ?? b[1] ?? .none
            }
        case "clear", "pop", "popitem", "setdefault", "update":
            return unsafe(name, "dict")
        default: return nil
        }
    }

    private static func listMethod(_ a: [JinjaValue], _ name: String) -> JinjaValue? {
        switch name {
        case "index":
            return fn(name) { args in
                let x = try args.bind(["value"], name)[0] ?? .none
                guard let i = a.firstIndex(of: x) else { throw JinjaError(.runtime, "\(x.pythonRepr) is not in list") }
                return .int(i)
            }
        case "count":
            return fn(name) { args in
                let x = try args.bind(["value"], name)[0] ?? .none
                return .int(a.filter { $0 == x }.count)
            }
        case "copy": return fn(name) { _ in .array(a) }
        case "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear":
            return unsafe(name, "list")
        default: return nil
        }
    }

    /// transformers renders with an immutable sandbox: mutating methods exist but refuse to run.
    private static func unsafe(_ name: String, _ type: String) -> JinjaValue {
        fn(name) { _ in throw JinjaError(.runtime, "access to attribute '\(name)' of '\(type)' object is unsafe.") }
    }

    /// `str.format` with `{}`, `{0}`, `{name}` and `{{`/`}}`; format specs are not supported.
    static func formatString(_ s: String, _ a: JinjaArguments) throws -> String {
        var out = ""
        var auto = 0
        var it = Array(s.unicodeScalars)[...]
        while let c = it.popFirst() {
            if c == "{" {
                if it.first == "{" {
                    it.removeFirst()
                    out += "{"
                    continue
                }
                var field = ""
                while let d = it.popFirst(), d != "}" { field.unicodeScalars.append(d) }
                let key = field.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
                let v: JinjaValue
                if key.isEmpty {
                    guard auto < a.positional.count else { throw JinjaError(.runtime, "Replacement index \(auto) out of range") }
                    v = a.positional[auto]
                    auto += 1
                } else if let i = Int(key) {
                    guard i < a.positional.count else { throw JinjaError(.runtime, "Replacement index \(i) out of range") }
                    v = a.positional[i]
                } else {
                    guard let kv = a.keywords.first(where: { $0.0 == key }) else { throw JinjaError(.runtime, "KeyError: '\(key)'") }
                    v = kv.1
                }
                out += v.pythonStr
            } else if c == "}" {
                if it.first == "}" { it.removeFirst() }
                out += "}"
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// C-locale `strftime` for `strftime_now`, which templates use to print today's date.
enum Strftime {
    static func format(_ fmt: String, _ date: Date, timeZone: TimeZone = .current) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday, .nanosecond], from: date)
        let dayOfYear = cal.ordinality(of: .day, in: .year, for: date) ?? 1
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        let year = c.year ?? 1970, month = c.month ?? 1, day = c.day ?? 1
        let hour = c.hour ?? 0, minute = c.minute ?? 0, second = c.second ?? 0
        let weekday = (c.weekday ?? 1) - 1
        func pad(_ v: Int, _ w: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        var out = ""
        var it = fmt.makeIterator()
        while let ch = it.next() {
            guard ch == "%" else {
                out.append(ch)
                continue
            }
            guard let d = it.next() else {
                out.append("%")
                break
            }
            switch d {
            case "Y": out += String(year)
            case "y": out += pad(year % 100)
            case "m": out += pad(month)
            case "d": out += pad(day)
            case "e": out += (day < 10 ? " " : "") + String(day)
            case "B": out += months[month - 1]
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "A": out += days[weekday]
            case "a": out += String(days[weekday].prefix(3))
            case "H": out += pad(hour)
            case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12)
            case "M": out += pad(minute)
            case "S": out += pad(second)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "j": out += pad(dayOfYear, 3)
            case "w": out += String(weekday)
            case "f": out += pad((c.nanosecond ?? 0) / 1000, 6)
            case "F": out += "\(year)-\(pad(month))-\(pad(day))"
            case "T": out += "\(pad(hour)):\(pad(minute)):\(pad(second))"
            case "Z": out += timeZone.abbreviation(for: date) ?? ""
            case "z":
                let off = timeZone.secondsFromGMT(for: date) / 60
                out += (off < 0 ? "-" : "+") + pad(abs(off) / 60) + pad(abs(off) % 60)
            case "%": out += "%"
            default:
                out.append("%")
                out.append(d)
            }
        }
        return out
    }
}
