import Foundation

/// How a JSON text is written: compact for HTTP responses; Python's `json.dumps` options for the
/// chat templates' `tojson`, which must match transformers byte for byte.
public struct JSONWriteOptions: Sendable {
    /// Non-finite doubles, which JSON cannot spell.
    public enum NonFinite: Sendable {
        /// `null` for NaN, `-9999.0` / `9999.0` for infinities: vLLM reports an impossible
        /// token's logprob as -9999.
        case clamp
        /// `NaN`, `Infinity`, `-Infinity`, as Python writes them.
        case python
    }

    public var indent: String?
    public var sortKeys: Bool
    public var ensureASCII: Bool
    public var separators: (item: String, key: String)
    public var nonFinite: NonFinite

    public init(indent: String? = nil, sortKeys: Bool = false, ensureASCII: Bool = false,
                separators: (item: String, key: String) = (",", ":"), nonFinite: NonFinite = .clamp) {
        self.indent = indent
        self.sortKeys = sortKeys
        self.ensureASCII = ensureASCII
        self.separators = separators
        self.nonFinite = nonFinite
    }

    /// Compact, for the wire.
    public static let compact = JSONWriteOptions()
}

extension JSONValue {
    /// The JSON text.
    public func serialized(_ options: JSONWriteOptions = .compact) -> String {
        var out = ""
        write(into: &out, options, level: 0)
        return out
    }

    public func data(_ options: JSONWriteOptions = .compact) -> Data { Data(serialized(options).utf8) }

    private func write(into out: inout String, _ o: JSONWriteOptions, level: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isFinite {
                out += d.description
            } else if o.nonFinite == .python {
                out += d.isNaN ? "NaN" : d < 0 ? "-Infinity" : "Infinity"
            } else {
                out += d.isNaN ? "null" : d < 0 ? "-9999.0" : "9999.0"
            }
        case .string(let s): Self.writeString(s, into: &out, ensureASCII: o.ensureASCII)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            let newline = o.indent.map { "\n" + String(repeating: $0, count: level + 1) }
            if let newline { out += newline }
            for (i, v) in a.enumerated() {
                if i > 0 { out += o.separators.item + (newline ?? "") }
                v.write(into: &out, o, level: level + 1)
            }
            if let indent = o.indent { out += "\n" + String(repeating: indent, count: level) }
            out += "]"
        case .object(let entries):
            if entries.isEmpty { out += "{}"; return }
            out += "{"
            let newline = o.indent.map { "\n" + String(repeating: $0, count: level + 1) }
            if let newline { out += newline }
            let ordered = o.sortKeys
                ? entries.sorted { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) } : entries
            for (i, (k, v)) in ordered.enumerated() {
                if i > 0 { out += o.separators.item + (newline ?? "") }
                Self.writeString(k, into: &out, ensureASCII: o.ensureASCII)
                out += o.separators.key
                v.write(into: &out, o, level: level + 1)
            }
            if let indent = o.indent { out += "\n" + String(repeating: indent, count: level) }
            out += "}"
        }
    }

    private static func writeString(_ s: String, into out: inout String, ensureASCII: Bool) {
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
                        v.append(contentsOf: (hex4(0xD800 + (u >> 10)) + hex4(0xDC00 + (u & 0x3FF))).unicodeScalars)
                    } else {
                        v.append(contentsOf: hex4(c.value).unicodeScalars)
                    }
                } else {
                    v.append(c)
                }
            }
        }
        v.append("\"")
        out.append(String(v))
    }

    private static func hex4(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - h.count)) + h
    }
}
