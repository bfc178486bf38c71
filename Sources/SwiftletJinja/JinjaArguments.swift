/// Positional and keyword arguments of a filter, test or method call, bound to a Python-style
/// signature.
struct JinjaArguments {
    var positional: [JinjaValue]
    var keywords: [(String, JinjaValue)]

    init(_ positional: [JinjaValue], _ keywords: [(String, JinjaValue)] = []) {
        self.positional = positional
        self.keywords = keywords
    }

    /// Binds to parameters `names` in order; missing ones are nil. Extra arguments are an
    /// error naming `function`, as Python's would be.
    func bind(_ names: [String], _ function: String) throws -> [JinjaValue?] {
        guard positional.count <= names.count else {
            throw JinjaError(.runtime, "\(function)() takes at most \(names.count) arguments (\(positional.count) given)")
        }
        var out = [JinjaValue?](repeating: nil, count: names.count)
        for (i, v) in positional.enumerated() { out[i] = v }
        for (k, v) in keywords {
            guard let idx = names.firstIndex(of: k) else {
                throw JinjaError(.runtime, "\(function)() got an unexpected keyword argument '\(k)'")
            }
            if out[idx] != nil { throw JinjaError(.runtime, "\(function)() got multiple values for argument '\(k)'") }
            out[idx] = v
        }
        return out
    }
}

extension Optional where Wrapped == JinjaValue {
    /// An argument value, treating an explicit `none` like a missing one where Python defaults to None.
    var orNone: JinjaValue? {
        switch self {
        case nil, .some(.none): return nil
        case .some(let v): return v
        }
    }
}
