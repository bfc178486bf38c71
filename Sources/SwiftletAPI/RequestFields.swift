import Foundation
import SwiftletFormats

/// The fields of a JSON request body, read with OpenAI's rules: a missing field or an explicit
/// `null` means "use the default", and a value of the wrong type is a 400 naming the field.
package struct RequestFields: Sendable {
    /// The body, a JSON object.
    package let json: JSONValue

    /// Parses a body; anything but a JSON object is a 400.
    package init(body: Data) throws {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw OpenAIError.invalidRequest("The request body is not valid JSON: \(error)")
        }
        guard value.object != nil else { throw OpenAIError.invalidRequest("The request body must be a JSON object.") }
        json = value
    }

    package init(object: JSONValue) {
        json = object
    }

    /// The fields' names, in the order sent.
    package var keys: [String] { json.object?.map(\.0) ?? [] }

    /// The raw value, nil when absent or null.
    package func value(_ key: String) -> JSONValue? {
        let v = json[key]
        // Not a ternary: JSONValue is nil-literal-expressible, and `nil` there would be `.null`.
        if v.isNull { return nil }
        return v
    }

    package func typeError(_ key: String, _ expected: String) -> OpenAIError {
        .invalidRequest("'\(key)' must be \(expected).", param: key)
    }

    package func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw typeError(key, "a string") }
        return s
    }

    package func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        switch v {
        case .int(let i): return i
        // Some clients send whole numbers as floats (e.g. 16.0).
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        default: throw typeError(key, "an integer")
        }
    }

    package func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw typeError(key, "a number")
        }
    }

    package func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw typeError(key, "a boolean") }
        return b
    }

    package func object(_ key: String) throws -> RequestFields? {
        guard let v = value(key) else { return nil }
        guard v.object != nil else { throw typeError(key, "an object") }
        return RequestFields(object: v)
    }

    /// A string or a list of strings (OpenAI's `stop`).
    package func strings(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        switch v {
        case .string(let s): return [s]
        case .array(let a):
            return try a.map {
                guard case .string(let s) = $0 else { throw typeError(key, "a string or a list of strings") }
                return s
            }
        default: throw typeError(key, "a string or a list of strings")
        }
    }

    package func ints(_ key: String) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v else { throw typeError(key, "a list of integers") }
        return try a.map {
            guard case .int(let i) = $0 else { throw typeError(key, "a list of integers") }
            return i
        }
    }
}
