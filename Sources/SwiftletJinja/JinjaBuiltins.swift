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
}
