import Foundation
import SwiftletFormats

/// A Hugging Face `config.json`, read once, with typed access whose errors name the file and key.
/// Each architecture turns it into its `ModelConfig` (and its own options); nothing reads the file
/// a second time.
public struct HuggingFaceConfig: Sendable {
    public let root: JSONValue
    /// The file, for error messages.
    public let path: String

    /// Reads `config.json` from a model directory.
    public init(directory: URL) throws {
        let url = directory.appendingPathComponent("config.json")
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelLoadError.io(path: url.path, reason: "cannot read config.json: \(error.localizedDescription)")
        }
        try self.init(data: data, path: url.path)
    }

    public init(data: Data, path: String = "config.json") throws {
        guard let root = try? JSONValue.parse(data), root.object != nil else {
            throw ModelLoadError.malformed(path: path, reason: "config.json is not a JSON object")
        }
        self.init(root: root, path: path)
    }

    init(root: JSONValue, path: String) {
        self.root = root
        self.path = path
    }

    func missing(_ key: String) -> ModelLoadError { .malformed(path: path, reason: "config.json is missing required key '\(key)'") }
    func wrongType(_ key: String, _ expected: String) -> ModelLoadError {
        .malformed(path: path, reason: "config.json key '\(key)' is not \(expected): \(root[key].serialized())")
    }

    private func present(_ key: String) -> JSONValue? {
        let v = root[key]
        // Not a ternary: JSONValue is nil-literal-expressible, and `nil` there would be `.null`.
        if v.isNull { return nil }
        return v
    }

    /// Integers written as `2` or `2.0`; fractions and magnitudes beyond 2^53 are not integers.
    private static func integer(_ v: JSONValue) -> Int? {
        guard let i = v.int, abs(i) < 1 << 53 else { return nil }
        return i
    }

    public func optionalInt(_ key: String) throws -> Int? {
        guard let v = present(key) else { return nil }
        guard let i = Self.integer(v) else { throw wrongType(key, "an integer") }
        return i
    }

    public func int(_ key: String) throws -> Int {
        guard let i = try optionalInt(key) else { throw missing(key) }
        return i
    }

    public func optionalDouble(_ key: String) throws -> Double? {
        guard let v = present(key) else { return nil }
        guard let d = v.double else { throw wrongType(key, "a number") }
        return d
    }

    public func double(_ key: String) throws -> Double {
        guard let d = try optionalDouble(key) else { throw missing(key) }
        return d
    }

    public func optionalBool(_ key: String) throws -> Bool? {
        guard let v = present(key) else { return nil }
        guard let b = v.bool else { throw wrongType(key, "a boolean") }
        return b
    }

    public func optionalString(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v.string else { throw wrongType(key, "a string") }
        return s
    }

    /// An integer or a list of integers (`eos_token_id` is either).
    public func intList(_ key: String) throws -> [Int] {
        guard let v = present(key) else { return [] }
        if let i = Self.integer(v) { return [i] }
        if let a = v.array {
            let ints = a.compactMap(Self.integer)
            if ints.count == a.count { return ints }
        }
        throw wrongType(key, "an integer or a list of integers")
    }

    /// Rotary scaling from `rope_scaling`, or else from `rope_parameters`, where transformers 5
    /// writes it (top-level keys, when present, win as in older configs).
    public func ropeScaling() throws -> RopeScaling? {
        if present("rope_scaling") != nil { return try ropeScaling(in: "rope_scaling") }
        return try ropeScaling(in: "rope_parameters")
    }

    /// `rope_theta`, or else `rope_parameters.rope_theta` (transformers 5).
    public func ropeTheta() throws -> Double? {
        if let theta = try optionalDouble("rope_theta") { return theta }
        guard let v = present("rope_parameters") else { return nil }
        guard v.object != nil else { throw wrongType("rope_parameters", "an object") }
        guard let theta = try HuggingFaceConfig(root: v, path: path).optionalDouble("rope_theta") else { return nil }
        guard theta > 0, theta.isFinite else {
            throw ModelLoadError.malformed(path: path, reason: "rope_parameters.rope_theta \(theta) is not positive")
        }
        return theta
    }

    private func ropeScaling(in object: String) throws -> RopeScaling? {
        guard let v = present(object) else { return nil }
        guard v.object != nil else { throw wrongType(object, "an object") }
        let sub = HuggingFaceConfig(root: v, path: path)
        let type = try sub.optionalString("rope_type") ?? sub.optionalString("type") ?? "default"
        func required(_ k: String) throws -> Double {
            guard let d = try sub.optionalDouble(k) else { throw missing("\(object).\(k)") }
            return d
        }
        switch type {
        case "default":
            return nil
        case "linear":
            return RopeScaling(kind: .linear, factor: try required("factor"))
        case "llama3":
            return RopeScaling(kind: .llama3, factor: try required("factor"),
                               lowFreqFactor: try required("low_freq_factor"),
                               highFreqFactor: try required("high_freq_factor"),
                               originalMaxPositionEmbeddings: try required("original_max_position_embeddings"))
        default:
            throw ModelLoadError.unsupported(path: path, reason: "\(object) type '\(type)' (supported: default, linear, llama3)")
        }
    }
}
