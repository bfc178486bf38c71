import SwiftletFormats

/// `allOf` as one schema: the members' keywords combined (properties and `required` united,
/// types intersected, bounds tightened), which is what the usual `allOf` of objects means.
/// Keywords that conflict in a way a single schema cannot express throw.
enum JSONSchemaMerge {
    /// Keywords that never change validity.
    static let annotations: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "contentEncoding", "contentMediaType", "$anchor", "$defs", "definitions", "discriminator",
    ]
    private static let lowerBounds: Set<String> = ["minimum", "exclusiveMinimum", "minLength", "minItems"]
    private static let upperBounds: Set<String> = ["maximum", "exclusiveMaximum", "maxLength", "maxItems"]

    static func merge(_ schemas: [JSONValue], resolve: (String) throws -> JSONValue, path: String) throws -> JSONValue {
        var result: [(String, JSONValue)] = []
        func index(_ key: String) -> Int? { result.firstIndex { $0.0 == key } }
        for var schema in schemas {
            var seen: Set<String> = []
            while let ref = schema["$ref"].string {
                guard seen.insert(ref).inserted else { throw GrammarError("$ref cycle at \(path): \(ref)") }
                let rest = (schema.object ?? []).filter { $0.0 != "$ref" }
                schema = rest.isEmpty ? try resolve(ref) : try merge([try resolve(ref), .object(rest)], resolve: resolve, path: path)
            }
            if schema == .bool(true) { continue }
            guard let entries = schema.object else { throw GrammarError("allOf at \(path) holds a schema that allows nothing or is not an object") }
            if let nested = schema["allOf"].array {
                let flat = try merge(nested + [.object(entries.filter { $0.0 != "allOf" })], resolve: resolve, path: path)
                for (key, value) in flat.object ?? [] { try combine(key, value) }
                continue
            }
            for (key, value) in entries where !annotations.contains(key) { try combine(key, value) }
        }
        return .object(result)

        func combine(_ key: String, _ value: JSONValue) throws {
            guard let i = index(key) else { result.append((key, value)); return }
            let old = result[i].1
            if old == value { return }
            switch key {
            case "properties":
                var merged = old.object ?? []
                for (name, sub) in value.object ?? [] {
                    if let j = merged.firstIndex(where: { $0.0 == name }) {
                        merged[j].1 = .object([("allOf", .array([merged[j].1, sub]))])
                    } else {
                        merged.append((name, sub))
                    }
                }
                result[i].1 = .object(merged)
            case "required":
                let names = (old.array ?? []) + (value.array ?? []).filter { !(old.array ?? []).contains($0) }
                result[i].1 = .array(names)
            case "type":
                let a = old.array?.compactMap(\.string) ?? old.string.map { [$0] } ?? []
                let b = value.array?.compactMap(\.string) ?? value.string.map { [$0] } ?? []
                var both = a.filter { b.contains($0) || ($0 == "number" && b.contains("integer")) }
                if a.contains("integer"), b.contains("number"), !both.contains("integer") { both.append("integer") }
                both = both.map { $0 == "number" && (b.contains("integer") && !b.contains("number")) ? "integer" : $0 }
                guard !both.isEmpty else { throw GrammarError("allOf at \(path) asks for types \(a) and \(b) at once") }
                result[i].1 = both.count == 1 ? .string(both[0]) : .array(both.map { .string($0) })
            case "additionalProperties":
                if old == .bool(false) || value == .bool(false) { result[i].1 = .bool(false) }
                else if old == .bool(true) { result[i].1 = value }
                else if value != .bool(true) { result[i].1 = .object([("allOf", .array([old, value]))]) }
            case "items":
                result[i].1 = .object([("allOf", .array([old, value]))])
            case _ where lowerBounds.contains(key):
                if let a = old.double, let b = value.double { result[i].1 = a >= b ? old : value }
            case _ where upperBounds.contains(key):
                if let a = old.double, let b = value.double { result[i].1 = a <= b ? old : value }
            default:
                throw GrammarError("allOf at \(path) gives '\(key)' two different values, which one schema cannot hold")
            }
        }
    }
}
