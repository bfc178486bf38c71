import Foundation
import SwiftletFormats

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
    /// Python's `json.dumps` options (which transformers' `tojson` filter passes on), with its
    /// defaults: `", "` and `": "` on one line, `","` and `": "` when indented.
    static func pythonJSONOptions(ensureASCII: Bool = false, indent: String? = nil, separators: (String, String)? = nil,
                                  sortKeys: Bool = false) -> JSONWriteOptions {
        JSONWriteOptions(indent: indent, sortKeys: sortKeys, ensureASCII: ensureASCII,
                         separators: separators ?? (indent == nil ? (", ", ": ") : (",", ": ")), nonFinite: .python)
    }

    /// Serialises exactly as Python's `json.dumps` would, so `tojson` output matches byte for byte.
    func pythonJSON(_ options: JSONWriteOptions = pythonJSONOptions()) throws -> String {
        try jsonValue().serialized(options)
    }

    /// The value as JSON; `json.dumps` turns non-string keys into their JSON text and refuses
    /// what JSON has no form for.
    public func jsonValue() throws -> JSONValue {
        switch self {
        case .none: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .array(let a): return .array(try a.map { try $0.jsonValue() })
        case .object(let obj):
            return .object(try obj.keys.map { k in
                let key: String
                switch obj.keyValue(k) {
                case .string(let s): key = s
                case .none: key = "null"
                case let other: key = (try? other.pythonJSON()) ?? k
                }
                return (key, try obj[k]!.jsonValue())
            })
        case .undefined, .namespace, .function:
            throw JinjaError(.runtime, "Object of type \(typeName) is not JSON serializable")
        }
    }

    /// The value a template sees for a JSON document: objects keep their key order.
    public init(_ json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(JinjaValue.init))
        case .object(let o): self = .object(JinjaObject(o.map { ($0.0, JinjaValue($0.1)) }))
        }
    }

    /// Parses JSON text as Python's `json.loads` does (`NaN` and `Infinity` included).
    public init(json text: String) throws {
        do { self.init(try JSONValue.parse(text, allowNonFinite: true)) } catch let e as JSONError {
            throw JinjaError(.syntax, e.description)
        }
    }

    /// Parses JSON bytes; see `init(json:)`.
    public init(json data: Data) throws {
        try self.init(json: String(decoding: data, as: UTF8.self))
    }
}
