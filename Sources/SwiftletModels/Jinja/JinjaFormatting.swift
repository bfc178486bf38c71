import Foundation

extension JinjaValue {
    /// What `{{ value }}` prints: Python's `str()`, with undefined as the empty string.
    public var pythonStr: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return pythonRepr
        }
    }

    /// Python's `repr()`, which is how values print inside lists and dicts.
    public var pythonRepr: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return Self.pythonFloatRepr(d)
        case .string(let s): return Self.pythonStringRepr(s)
        case .array(let a): return "[" + a.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.pairs.map { o.keyValue($0.key).pythonRepr + ": " + $0.value.pythonRepr }.joined(separator: ", ") + "}"
        case .namespace(let ns): return "<Namespace " + JinjaValue.object(ns.attributes).pythonRepr + ">"
        case .function(let f): return "<function \(f.name)>"
        }
    }

    /// Swift's shortest round-trip description matches Python's `repr(float)`, including the
    /// switch to exponent form at 1e16 and below 1e-4.
    static func pythonFloatRepr(_ d: Double) -> String { d.description }

    static func pythonStringRepr(_ s: String) -> String {
        let quote: Unicode.Scalar = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for c in s.unicodeScalars {
            switch c {
            case quote, "\\":
                out.append("\\")
                out.append(c)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            default:
                if c.value < 0x20 || c.value == 0x7F {
                    out.append(contentsOf: String(format: "\\x%02x", c.value).unicodeScalars)
                } else if c.value < 0x7F || c.isPythonPrintable {
                    out.append(c)
                } else if c.value <= 0xFF {
                    out.append(contentsOf: String(format: "\\x%02x", c.value).unicodeScalars)
                } else if c.value <= 0xFFFF {
                    out.append(contentsOf: String(format: "\\u%04x", c.value).unicodeScalars)
                } else {
                    out.append(contentsOf: String(format: "\\U%08x", c.value).unicodeScalars)
                }
            }
        }
        out.append(quote)
        return String(out)
    }
}

extension Unicode.Scalar {
    /// Python's `str.isprintable` for one character.
    var isPythonPrintable: Bool {
        if value == 0x20 { return true }
        switch properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }
}

// MARK: - JSON

extension JinjaValue {
    /// Options of Python's `json.dumps`, which transformers' `tojson` filter calls.
    struct JSONOptions {
        var ensureASCII = false
        /// nil: one line. Otherwise the string repeated per nesting level, with newlines.
        var indent: String? = nil
        var separators: (item: String, key: String)? = nil
        var sortKeys = false
    }

    /// Serialises exactly as Python's `json.dumps` would, so `tojson` output matches byte for byte.
    func pythonJSON(_ options: JSONOptions = JSONOptions()) throws -> String {
        var out = ""
        let seps = options.separators ?? (options.indent == nil ? (", ", ": ") : (",", ": "))
        try writeJSON(&out, options, seps, level: 0)
        return out
    }

    private func writeJSON(_ out: inout String, _ o: JSONOptions, _ seps: (item: String, key: String), level: Int) throws {
        switch self {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += d.description }
        case .string(let s): Self.writeJSONString(&out, s, ensureASCII: o.ensureASCII)
        case .array(let a):
            if a.isEmpty {
                out += "[]"
                return
            }
            out += "["
            let newline = o.indent.map { "\n" + String(repeating: $0, count: level + 1) }
            if let newline { out += newline }
            for (i, v) in a.enumerated() {
                if i > 0 { out += seps.item + (newline ?? "") }
                try v.writeJSON(&out, o, seps, level: level + 1)
            }
            if let indent = o.indent { out += "\n" + String(repeating: indent, count: level) }
            out += "]"
        case .object(let obj):
            if obj.isEmpty {
                out += "{}"
                return
            }
            out += "{"
            let newline = o.indent.map { "\n" + String(repeating: $0, count: level + 1) }
            if let newline { out += newline }
            let keys = o.sortKeys ? obj.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) } : obj.keys
            for (i, k) in keys.enumerated() {
                if i > 0 { out += seps.item + (newline ?? "") }
                // json.dumps turns non-string keys into their JSON text.
                let key: String
                switch obj.keyValue(k) {
                case .string(let s): key = s
                case .none: key = "null"
                case let other: key = (try? other.pythonJSON()) ?? k
                }
                Self.writeJSONString(&out, key, ensureASCII: o.ensureASCII)
                out += seps.key
                try obj[k]!.writeJSON(&out, o, seps, level: level + 1)
            }
            if let indent = o.indent { out += "\n" + String(repeating: indent, count: level) }
            out += "}"
        case .undefined, .namespace, .function:
            throw JinjaError(.runtime, "Object of type \(typeName) is not JSON serializable")
        }
    }

    private static func writeJSONString(_ out: inout String, _ s: String, ensureASCII: Bool) {
        var v = String.UnicodeScalarView()
        v.append("\"")
        for c in s.unicodeScalars {
            switch c {
            case "\"": v.append(contentsOf: "\\\"".unicodeScalars)
            case "\\": v.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": v.append(contentsOf: "\\n".unicodeScalars)
            case "\r": v.append(contentsOf: "\\r".unicodeScalars)
            case "\t": v.append(contentsOf: "\\t".unicodeScalars)
            case "\u{08}": v.append(contentsOf: "\\b".unicodeScalars)
            case "\u{0C}": v.append(contentsOf: "\\f".unicodeScalars)
            default:
                if c.value < 0x20 || (ensureASCII && c.value > 0x7E) {
                    if c.value > 0xFFFF {
                        let u = c.value - 0x10000
                        v.append(contentsOf: String(format: "\\u%04x\\u%04x", 0xD800 + (u >> 10), 0xDC00 + (u & 0x3FF)).unicodeScalars)
                    } else {
                        v.append(contentsOf: String(format: "\\u%04x", c.value).unicodeScalars)
                    }
                } else {
                    v.append(c)
                }
            }
        }
        v.append("\"")
        out.append(String(v))
    }
}

extension JinjaValue {
    /// Parses JSON text, keeping object key order and the difference between `1` and `1.0`
    /// (both visible in renderings, e.g. of tool schemas through `tojson`).
    public init(json text: String) throws {
        var p = JSONReader(Array(text.utf8))
        self = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.b.count else { throw p.fail("trailing characters") }
    }

    /// Parses JSON bytes; see `init(json:)`.
    public init(json data: Data) throws {
        try self.init(json: String(decoding: data, as: UTF8.self))
    }

    /// Converts to `JSONSerialization`-style values (for callers that need Foundation types).
    public var foundationValue: Any {
        switch self {
        case .undefined, .none, .namespace, .function: return NSNull()
        case .bool(let b): return b
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        case .array(let a): return a.map(\.foundationValue)
        case .object(let o): return Dictionary(uniqueKeysWithValues: o.pairs.map { (o.keyValue($0.key).pythonStr, $0.value.foundationValue) })
        }
    }
}

private struct JSONReader {
    let b: [UInt8]
    var i = 0

    init(_ b: [UInt8]) { self.b = b }

    func fail(_ m: String) -> JinjaError { JinjaError(.syntax, "invalid JSON at byte \(i): \(m)") }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func literal(_ s: String, _ v: JinjaValue) throws -> JinjaValue {
        let u = Array(s.utf8)
        guard i + u.count <= b.count, Array(b[i..<i + u.count]) == u else { throw fail("unexpected token") }
        i += u.count
        return v
    }

    mutating func value(depth: Int) throws -> JinjaValue {
        guard depth < 512 else { throw fail("nesting too deep") }
        skipSpace()
        guard i < b.count else { throw fail("unexpected end") }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var o = JinjaObject()
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") {
                i += 1
                return .object(o)
            }
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let k = try string()
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                o[k] = try value(depth: depth + 1)
                skipSpace()
                guard i < b.count else { throw fail("unexpected end") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [JinjaValue] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") {
                i += 1
                return .array(a)
            }
            while true {
                a.append(try value(depth: depth + 1))
                skipSpace()
                guard i < b.count else { throw fail("unexpected end") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .none)
        case UInt8(ascii: "N"): return try literal("NaN", .double(.nan))
        case UInt8(ascii: "I"): return try literal("Infinity", .double(.infinity))
        default: return try number()
        }
    }

    mutating func number() throws -> JinjaValue {
        let start = i
        var isFloat = false
        if i < b.count, b[i] == UInt8(ascii: "-") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "I") { return try literal("Infinity", .double(-.infinity)) }
        }
        while i < b.count {
            let c = b[i]
            if c >= 0x30 && c <= 0x39 || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
                i += 1
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                isFloat = true
                i += 1
            } else {
                break
            }
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if !isFloat, let v = Int(text) { return .int(v) }
        guard !text.isEmpty, let d = Double(text) else { throw fail("invalid number '\(text)'") }
        return .double(d)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<i + 4], as: UTF8.self), radix: 16) else {
            throw fail("bad \\u escape")
        }
        i += 4
        return v
    }

    mutating func string() throws -> String {
        i += 1
        var bytes: [UInt8] = []
        while i < b.count {
            let c = b[i]
            i += 1
            if c == UInt8(ascii: "\"") { return String(decoding: bytes, as: UTF8.self) }
            guard c == UInt8(ascii: "\\") else {
                bytes.append(c)
                continue
            }
            guard i < b.count else { break }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if v >= 0xD800 && v < 0xDC00, i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                    i += 2
                    let lo = try hex4()
                    if lo >= 0xDC00 && lo < 0xE000 {
                        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                    } else {
                        bytes.append(contentsOf: Array(String(Character(Unicode.Scalar(0xFFFD)!)).utf8))
                        v = lo
                    }
                }
                let scalar = Unicode.Scalar(v) ?? Unicode.Scalar(0xFFFD)!
                bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: bytes.append(e)
            }
        }
        throw fail("unterminated string")
    }
}
