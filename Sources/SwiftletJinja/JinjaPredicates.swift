/// Jinja's built-in tests (`value is defined`, `value is divisibleby 3`, ...), matching `jinja2` 3.1.
enum JinjaPredicates {
    static func run(_ name: String, _ value: JinjaValue, _ args: [JinjaValue], _ interp: JinjaInterpreter, _ pos: JinjaPosition) throws -> Bool {
        func arg() throws -> JinjaValue {
            guard let a = args.first else { throw JinjaError(.runtime, "test '\(name)' needs an argument", at: pos) }
            return a
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "number":
            switch value {
            case .int, .double, .bool: return true
            default: return false
            }
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .object = value { return true } else { return false }
        case "iterable":
            switch value {
            case .array, .object, .string, .undefined: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .array, .object, .string: return true
            default: return false
            }
        case "callable": if case .function = value { return true } else { return false }
        case "escaped": return false
        case "odd", "even":
            guard let i = value.asInt else { throw JinjaError(.runtime, "test '\(name)' needs an integer", at: pos) }
            return (i % 2 != 0) == (name == "odd")
        case "divisibleby":
            guard let i = value.asInt, let d = try arg().asInt, d != 0 else {
                throw JinjaError(.runtime, "divisibleby needs non-zero integers", at: pos)
            }
            return i % d == 0
        case "lower":
            let s = value.pythonStr
            return s.contains { $0.isCased } && s == s.lowercased()
        case "upper":
            let s = value.pythonStr
            return s.contains { $0.isCased } && s == s.uppercased()
        case "sameas":
            let other = try arg()
            switch (value, other) {
            case (.array, _), (.object, _): return false
            default: return value == other && value.typeName == other.typeName
            }
        case "in": return try JinjaOperators.contains(try arg(), value, pos)
        case "eq", "equalto", "==": return try JinjaOperators.compare("==", value, try arg(), pos)
        case "ne", "!=": return try JinjaOperators.compare("!=", value, try arg(), pos)
        case "lt", "lessthan", "<": return try JinjaOperators.compare("<", value, try arg(), pos)
        case "le", "<=": return try JinjaOperators.compare("<=", value, try arg(), pos)
        case "gt", "greaterthan", ">": return try JinjaOperators.compare(">", value, try arg(), pos)
        case "ge", ">=": return try JinjaOperators.compare(">=", value, try arg(), pos)
        case "filter", "test":
            guard case .string(let n) = value else { return false }
            return name == "filter" ? knownFilters.contains(n) : knownTests.contains(n)
        default:
            throw JinjaError(.runtime, "no test named '\(name)'", at: pos)
        }
    }

    static let knownTests: Set<String> = [
        "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string", "mapping",
        "iterable", "sequence", "callable", "escaped", "odd", "even", "divisibleby", "lower", "upper", "sameas", "in",
        "eq", "equalto", "ne", "lt", "lessthan", "le", "gt", "greaterthan", "ge", "filter", "test", "==", "!=", "<", "<=", ">", ">=",
    ]

    static let knownFilters: Set<String> = [
        "default", "d", "length", "count", "upper", "lower", "capitalize", "title", "trim", "string", "safe", "e", "escape",
        "forceescape", "tojson", "items", "list", "join", "first", "last", "reverse", "map", "select", "reject", "selectattr",
        "rejectattr", "unique", "sort", "dictsort", "min", "max", "sum", "abs", "int", "float", "round", "replace", "indent",
        "center", "truncate", "wordcount", "striptags", "attr", "format", "pprint", "batch", "slice",
    ]
}

private extension Character {
    var isCased: Bool { unicodeScalars.contains { $0.properties.isCased } }
}
