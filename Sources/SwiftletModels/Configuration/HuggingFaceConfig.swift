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

    /// The value of `key` read by `read`; nil when absent or null, an error naming the key when
    /// `read` cannot read it.
    private func optional<T>(_ key: String, _ expected: String, _ read: (JSONValue) -> T?) throws -> T? {
        let v = root[key]
        if v.isNull { return nil }
        guard let value = read(v) else { throw wrongType(key, expected) }
        return value
    }

    /// Integers written as `2` or `2.0`; fractions and magnitudes beyond 2^53 are not integers.
    private static func integer(_ v: JSONValue) -> Int? {
        guard let i = v.int, abs(i) < 1 << 53 else { return nil }
        return i
    }

    /// An object as itself (not a ternary: JSONValue is nil-literal-expressible, so `nil` there
    /// would be `.null`).
    private static func object(_ v: JSONValue) -> JSONValue? {
        if v.object == nil { return nil }
        return v
    }

    public func optionalInt(_ key: String) throws -> Int? { try optional(key, "an integer", Self.integer) }
    public func optionalDouble(_ key: String) throws -> Double? { try optional(key, "a number", \.double) }
    public func optionalBool(_ key: String) throws -> Bool? { try optional(key, "a boolean", \.bool) }
    public func optionalString(_ key: String) throws -> String? { try optional(key, "a string", \.string) }

    public func int(_ key: String) throws -> Int {
        guard let i = try optionalInt(key) else { throw missing(key) }
        return i
    }

    public func double(_ key: String) throws -> Double {
        guard let d = try optionalDouble(key) else { throw missing(key) }
        return d
    }

    /// An integer or a list of integers (`eos_token_id` is either).
    public func intList(_ key: String) throws -> [Int] {
        try optional(key, "an integer or a list of integers") { v in
            if let i = Self.integer(v) { return [i] }
            let ints = v.array?.compactMap(Self.integer)
            return ints?.count == v.array?.count ? ints : nil
        } ?? []
    }

    /// Rotary scaling from `rope_scaling`, or else from `rope_parameters`, where transformers 5
    /// writes it (top-level keys, when present, win as in older configs).
    public func ropeScaling() throws -> RopeScaling? {
        if !root["rope_scaling"].isNull { return try ropeScaling(in: "rope_scaling") }
        return try ropeScaling(in: "rope_parameters")
    }

    /// transformers' `layer_types` as per-layer sliding flags (`sliding_attention` true,
    /// `full_attention` false); nil when absent. Other layer types are refused by name.
    public func slidingLayerTypes() throws -> [Bool]? {
        guard let types = try optional("layer_types", "a list", \.array) else { return nil }
        return try types.map { t in
            switch t.string {
            case "sliding_attention": return true
            case "full_attention": return false
            default: throw ModelLoadError.unsupported(path: path, reason: "layer type \(t.serialized()) (supported: sliding_attention, full_attention)")
            }
        }
    }

    /// `rope_theta`, or else `rope_parameters.rope_theta` (transformers 5).
    public func ropeTheta() throws -> Double? {
        if let theta = try optionalDouble("rope_theta") { return theta }
        guard let v = try optional("rope_parameters", "an object", Self.object) else { return nil }
        guard let theta = try HuggingFaceConfig(root: v, path: path).optionalDouble("rope_theta") else { return nil }
        guard theta > 0, theta.isFinite else {
            throw ModelLoadError.malformed(path: path, reason: "rope_parameters.rope_theta \(theta) is not positive")
        }
        return theta
    }

    func ropeScaling(in object: String) throws -> RopeScaling? {
        guard let v = try optional(object, "an object", Self.object) else { return nil }
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
        case "longrope", "su":
            // "su" is the name early Phi-3 128k configs give LongRoPE.
            return try longRopeScaling(sub, in: object)
        default:
            throw ModelLoadError.unsupported(path: path, reason: "\(object) type '\(type)' (supported: default, linear, llama3, longrope)")
        }
    }
}
