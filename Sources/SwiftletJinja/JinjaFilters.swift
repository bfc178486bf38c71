import Foundation

/// Jinja's built-in filters (with transformers' `tojson`), matching `jinja2` 3.1 behaviour.
enum JinjaFilters {
    static func apply(_ name: String, _ value: JinjaValue, _ a: JinjaArguments, _ interp: JinjaInterpreter, _ pos: JinjaPosition) throws -> JinjaValue {
        let call = Call(name: name, value: value, a: a, interp: interp, pos: pos)
        if let result = try call.valueFilter() ?? call.stringFilter() ?? call.sequenceFilter() ?? call.numberFilter() {
            return result
        }
        throw call.fail("no filter named '\(name)'")
    }

    /// One filter application. Each kind of filter is a method that answers nil for a name it does
    /// not define, so the kinds can live in their own files.
    struct Call {
        let name: String
        let value: JinjaValue
        let a: JinjaArguments
        let interp: JinjaInterpreter
        let pos: JinjaPosition

        func fail(_ m: String) -> JinjaError { JinjaError(.runtime, m, at: pos) }
        func items(_ v: JinjaValue) throws -> [JinjaValue] { try interp.iterate(v, pos) }
        func noArgs() throws {
            if !a.positional.isEmpty || !a.keywords.isEmpty { throw fail("filter '\(name)' takes no arguments") }
        }
    }
}

extension JinjaFilters.Call {
    /// Filters that apply to any value: defaults, serialization and attribute lookup.
    func valueFilter() throws -> JinjaValue? {
        switch name {
        case "default", "d":
            let b = try a.bind(["default_value", "boolean"], name)
            let boolean = b[1]?.isTruthy ?? false
            if value.isUndefined || (boolean && !value.isTruthy) { return b[0] ?? .string("") }
            return value
        case "tojson":
            let b = try a.bind(["ensure_ascii", "indent", "separators", "sort_keys"], name)
            var indent: String?
            switch b[1] {
            case .int(let n)?: indent = String(repeating: " ", count: max(0, n))
            case .string(let s)?: indent = s
            default: break
            }
            var seps: (String, String)? = nil
            if case .array(let s)? = b[2], s.count == 2 { seps = (s[0].pythonStr, s[1].pythonStr) }
            let o = JinjaValue.pythonJSONOptions(ensureASCII: b[0]?.isTruthy ?? false, indent: indent, separators: seps,
                                                 sortKeys: b[3]?.isTruthy ?? false)
            do {
                return .string(try value.pythonJSON(o))
            } catch var e as JinjaError {
                e.position = pos
                throw e
            }
        case "attr":
            // Attributes only: unlike `.name` syntax, `attr` never falls back to dict items.
            let key = (try a.bind(["name"], name)[0] ?? .none).pythonStr
            switch value {
            case .namespace: return JinjaBuiltins.getAttribute(value, key)
            default: return JinjaBuiltins.method(value, key) ?? .undefined(hint: "'\(value.typeName) object' has no attribute '\(key)'")
            }
        case "pprint":
            return .string(value.pythonRepr)
        default:
            return nil
        }
    }
}
