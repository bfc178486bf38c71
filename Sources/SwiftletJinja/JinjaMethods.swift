/// The Python `str`, `dict` and `list` methods chat templates call, bound to their receiver.
extension JinjaBuiltins {
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
