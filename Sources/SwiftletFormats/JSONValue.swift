import Foundation

/// One JSON document, as every floor above reads and writes it: request bodies, responses,
/// `tokenizer.json`, `config.json`, safetensors headers and the values a chat template sees.
///
/// Object keys keep their order (tool schemas are rendered through `tojson` in the order the
/// client sent them) and integers stay apart from doubles (`1` and `1.0` render differently).
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The member named `key`, or `.null` when there is none or this is not an object. A key
    /// given twice means its last value, as in Python's and Foundation's readers.
    public subscript(key: String) -> JSONValue {
        if case .object(let entries) = self { return entries.last { $0.0 == key }?.1 ?? .null }
        return .null
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// An integer, also from a double with no fraction (`2.0`), as `tokenizer.json` writers vary.
    public var int: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9.0e18: return Int(d)
        default: return nil
        }
    }
    /// A number of either kind.
    public var double: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    /// The members in document order.
    public var object: [(String, JSONValue)]? { if case .object(let o) = self { return o } else { return nil } }
}

/// Literals build documents in code; `nil` is deliberately not one, since an optional JSONValue
/// would then read `nil` as `.null` and never as absent.
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
}

extension Optional where Wrapped == String {
    /// The string, or `null`.
    public var json: JSONValue { map { .string($0) } ?? .null }
}
