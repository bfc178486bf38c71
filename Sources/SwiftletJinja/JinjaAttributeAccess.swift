/// Python lookup rules for `.name`, `[key]` and `[start:stop:step]`: templates rely on dicts
/// answering both attribute and item syntax.
extension JinjaBuiltins {
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
}
