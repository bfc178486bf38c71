import Foundation

/// A value seen by a Jinja template: the plain JSON-like data a chat template receives
/// (messages, tools, flags) plus the few runtime kinds templates create themselves.
///
/// Semantics follow Python, because expected renderings come from Python's `jinja2`:
/// `True`/`None` print as such, lists and dicts print as their Python `repr`, `1 == 1.0`.
public enum JinjaValue: Sendable {
    /// A missing variable, attribute or key. It prints as nothing, is falsy and iterates as empty,
    /// but most other uses fail with `hint` (e.g. `'x' is undefined`), as in Jinja.
    case undefined(hint: String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaValue])
    case object(JinjaObject)
    /// The mutable object `namespace()` returns; shared by reference so loops can update it.
    case namespace(JinjaNamespace)
    case function(JinjaFunction)

    /// Undefined with Jinja's message for a missing variable.
    static func undefinedName(_ name: String) -> JinjaValue { .undefined(hint: "'\(name)' is undefined") }

    public var isUndefined: Bool { if case .undefined = self { return true } else { return false } }
    public var isNone: Bool { if case .none = self { return true } else { return false } }

    /// Python truthiness.
    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        case .namespace, .function: return true
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var arrayValue: [JinjaValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: JinjaObject? { if case .object(let o) = self { return o } else { return nil } }

    /// Python's type name, used in error messages the way Jinja phrases them.
    public var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        }
    }

    /// Numeric view for arithmetic; Python treats `bool` as an `int`.
    var asNumber: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    var asInt: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
}

/// A dictionary that keeps insertion order, as Python's does: key order is visible in
/// `tojson`, `items()` and iteration, and renderings must match byte for byte.
public struct JinjaObject: Sendable {
    /// Keys in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]
    private var nonStringKeys: [String: JinjaValue] = [:]

    public init() {}

    public init(_ pairs: [(String, JinjaValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Reads or sets a value; a new key goes last, setting nil removes the key.
    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
                nonStringKeys[key] = nil
            }
        }
    }

    /// Entries in insertion order.
    public var pairs: [(key: String, value: JinjaValue)] { keys.map { ($0, storage[$0]!) } }
    public var values: [JinjaValue] { keys.map { storage[$0]! } }

    // Python dicts may have non-string keys (e.g. `{4096: 512}` in a template); those are stored
    // under a string starting with a Unicode noncharacter that never occurs in real text.
    private static let keyTag = "\u{10FFFE}"

    /// The storage key for a Python key value; nil for unhashable values (lists, dicts).
    static func storageKey(_ v: JinjaValue) -> String? {
        switch v {
        case .string(let s): return s
        case .int(let i): return keyTag + "i" + String(i)
        case .bool(let b): return keyTag + "i" + (b ? "1" : "0")
        case .double(let d):
            // Python: 1.0 and 1 are the same key.
            if d.rounded() == d, abs(d) < 9e18 { return keyTag + "i" + String(Int(d)) }
            return keyTag + "f" + d.description
        case .none: return keyTag + "n"
        default: return nil
        }
    }

    /// Stores `value` under a Python key; like Python, the first key object inserted is kept
    /// (`{2.0: 'a', 2: 'b'}` has the key `2.0`). Returns false for unhashable keys.
    mutating func set(key: JinjaValue, _ value: JinjaValue) -> Bool {
        guard let k = Self.storageKey(key) else { return false }
        if case .string = key {} else if self[k] == nil { nonStringKeys[k] = key }
        self[k] = value
        return true
    }

    /// The Python key value a storage key stands for.
    func keyValue(_ k: String) -> JinjaValue { nonStringKeys[k] ?? .string(k) }

    /// Keys as the template sees them.
    var keyValues: [JinjaValue] { keys.map { keyValue($0) } }

    /// `(key, value)` pairs as the template sees them.
    var itemPairs: [JinjaValue] { keys.map { .array([keyValue($0), storage[$0]!]) } }
}

/// Mutable attribute bag for `namespace(...)`; a class because Jinja namespaces are shared
/// across scopes (that is their whole purpose: carrying values out of loops).
public final class JinjaNamespace: @unchecked Sendable {
    // Only touched by the single render that created it.
    var attributes: JinjaObject

    init(_ attributes: JinjaObject) { self.attributes = attributes }
}

/// A callable: a global like `range`, a bound method like `'a b'.split`, or a macro.
public final class JinjaFunction: @unchecked Sendable {
    public typealias Body = (_ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue
    let name: String
    let body: Body

    /// Wraps a Swift closure so templates can call it, e.g. as an `extra` global.
    public init(name: String, _ body: @escaping Body) {
        self.name = name
        self.body = body
    }

    func call(_ args: [JinjaValue], _ kwargs: [(String, JinjaValue)] = []) throws -> JinjaValue {
        try body(args, kwargs)
    }
}

// MARK: - Literals

extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .object(JinjaObject(elements)) }
    public init(nilLiteral: ()) { self = .none }
}

// MARK: - Equality and ordering (Python semantics)

extension JinjaValue: Equatable {
    /// Python `==`: numbers compare by value across int/float/bool, containers element-wise,
    /// undefined equals only undefined, reference kinds by identity.
    public static func == (lhs: JinjaValue, rhs: JinjaValue) -> Bool {
        switch (lhs, rhs) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (k, v) in a.pairs { guard let w = b[k], w == v else { return false } }
            return true
        case (.namespace(let a), .namespace(let b)): return a === b
        case (.function(let a), .function(let b)): return a === b
        default:
            if let a = lhs.asInt, let b = rhs.asInt { return a == b }
            if let a = lhs.asNumber, let b = rhs.asNumber { return a == b }
            return false
        }
    }
}

extension JinjaValue {
    /// Python's `<` ordering; nil when Python would raise `TypeError`.
    func pythonLess(than other: JinjaValue) -> Bool? {
        switch (self, other) {
        case (.string(let a), .string(let b)):
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
        case (.array(let a), .array(let b)):
            for (x, y) in zip(a, b) where x != y { return x.pythonLess(than: y) }
            return a.count < b.count
        default:
            if let a = asInt, let b = other.asInt { return a < b }
            if let a = asNumber, let b = other.asNumber { return a < b }
            return nil
        }
    }
}
