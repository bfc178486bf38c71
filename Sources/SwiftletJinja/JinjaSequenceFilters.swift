import Foundation

extension JinjaFilters.Call {
    /// Filters over lists, dicts and other iterables.
    func sequenceFilter() throws -> JinjaValue? {
        switch name {
        case "length", "count":
            try noArgs()
            switch value {
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let x): return .int(x.count)
            case .object(let o): return .int(o.count)
            case .undefined: return .int(0)
            default: throw fail("object of type '\(value.typeName)' has no len()")
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
            if let attr = b[1].orNone { list = try list.map { try JinjaFilters.attribute($0, attr) } }
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
                    let v = try JinjaFilters.attribute(item, attr)
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
                let v = try attr.map { try JinjaFilters.attribute(item, $0) } ?? item
                let ok = try testName.map { try interp.runTest($0, v, args, pos) } ?? v.isTruthy
                return ok == keep
            })
        case "unique":
            let b = try a.bind(["case_sensitive", "attribute"], name)
            let cs = b[0]?.isTruthy ?? false
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for item in try items(value) {
                var key = try b[1].orNone.map { try JinjaFilters.attribute(item, $0) } ?? item
                if !cs { key = JinjaFilters.ignoreCase(key) }
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
                    key = .array(try attrs.map { try JinjaFilters.attribute(item, $0) })
                    if attrs.count == 1, case .array(let k) = key { key = k[0] }
                } else {
                    key = item
                }
                return cs ? key : JinjaFilters.ignoreCase(key)
            }
            return .array(try JinjaFilters.stableSort(list, keys, reverse: reverse, pos).map { list[$0] })
        case "dictsort":
            let b = try a.bind(["case_sensitive", "by", "reverse"], name)
            guard case .object(let o) = value else { throw fail("dictsort requires a mapping") }
            let cs = b[0]?.isTruthy ?? false
            let byValue = b[1]?.pythonStr == "value"
            let pairs = o.pairs
            let keys = pairs.map { p -> JinjaValue in
                let k = byValue ? p.value : o.keyValue(p.key)
                return cs ? k : JinjaFilters.ignoreCase(k)
            }
            return .array(try JinjaFilters.stableSort(pairs.map { _ in JinjaValue.none }, keys, reverse: b[2]?.isTruthy ?? false, pos).map {
                .array([o.keyValue(pairs[$0].key), pairs[$0].value])
            })
        case "min", "max":
            let b = try a.bind(["case_sensitive", "attribute"], name)
            let cs = b[0]?.isTruthy ?? false
            let list = try items(value)
            guard !list.isEmpty else { return .undefined(hint: "No aggregated item, sequence was empty.") }
            let keys = try list.map { item -> JinjaValue in
                let k = try b[1].orNone.map { try JinjaFilters.attribute(item, $0) } ?? item
                return cs ? k : JinjaFilters.ignoreCase(k)
            }
            let order = try JinjaFilters.stableSort(list, keys, reverse: false, pos)
            return list[name == "min" ? order.first! : order.last!]
        case "sum":
            let b = try a.bind(["attribute", "start"], name)
            var total = b[1] ?? .int(0)
            for item in try items(value) {
                let v = try b[0].orNone.map { try JinjaFilters.attribute(item, $0) } ?? item
                total = try JinjaOperators.binary("+", total, v, pos)
            }
            return total
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
            return nil
        }
    }
}

extension JinjaFilters {
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

    fileprivate static func ignoreCase(_ v: JinjaValue) -> JinjaValue {
        if case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// Indices of `items` ordered by `keys`, stable like Python's sort.
    fileprivate static func stableSort(_ items: [JinjaValue], _ keys: [JinjaValue], reverse: Bool, _ pos: JinjaPosition) throws -> [Int] {
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
}
