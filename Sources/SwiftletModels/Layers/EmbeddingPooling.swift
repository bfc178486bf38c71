import Foundation
import SwiftletFormats

/// How an encoder's per-token hidden states become one vector per input, as a sentence-transformers
/// model directory describes it: `modules.json` lists the pipeline (Transformer, Pooling, and
/// optionally Normalize), and the Pooling module's `config.json` picks the pooling modes.
public struct EmbeddingPooling: Sendable, Equatable {
    /// sentence-transformers' pooling modes. When several are on, their results are concatenated
    /// in the order of `allCases`, as sentence-transformers does.
    public enum Mode: String, Sendable, CaseIterable {
        /// The first token's state ([CLS]).
        case cls = "pooling_mode_cls_token"
        /// The element-wise maximum over tokens.
        case max = "pooling_mode_max_tokens"
        /// The mean over tokens.
        case mean = "pooling_mode_mean_tokens"
        /// The sum over tokens divided by the square root of their count.
        case meanSqrtLength = "pooling_mode_mean_sqrt_len_tokens"
        /// The mean weighted by position (1, 2, ..., n), favouring later tokens.
        case weightedMean = "pooling_mode_weightedmean_tokens"
        /// The last token's state.
        case lastToken = "pooling_mode_lasttoken"
    }

    public var modes: [Mode]
    /// Scale every embedding to unit L2 norm (a `Normalize` module).
    public var normalize: Bool

    /// Module types of `modules.json` that this pipeline runs.
    public static let supportedModules = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                                          "sentence_transformers.models.Normalize"]

    public init(modes: [Mode], normalize: Bool) {
        self.modes = modes
        self.normalize = normalize
    }

    /// Reads `modules.json` and the Pooling module's config from a model directory. A directory
    /// without `modules.json` is a plain transformers model, which sentence-transformers wraps with
    /// mean pooling and no normalization; so does this.
    ///
    /// - Throws: `ModelLoadError` for modules this pipeline cannot run (for example `Dense`).
    public init(directory: URL) throws {
        let modulesURL = directory.appendingPathComponent("modules.json")
        guard FileManager.default.fileExists(atPath: modulesURL.path) else {
            self.init(modes: [.mean], normalize: false)
            return
        }
        guard let data = try? Data(contentsOf: modulesURL), let list = (try? JSONValue.parse(data))?.array,
              list.allSatisfy({ $0.object != nil }) else {
            throw ModelLoadError.malformed(path: modulesURL.path, reason: "modules.json is not a list of objects")
        }
        var modes: [Mode] = [.mean]
        var normalize = false
        for module in list {
            let type = module["type"].string ?? "?"
            switch type {
            case "sentence_transformers.models.Transformer":
                break
            case "sentence_transformers.models.Pooling":
                let url = directory.appendingPathComponent(module["path"].string ?? "").appendingPathComponent("config.json")
                guard let data = try? Data(contentsOf: url), let config = try? JSONValue.parse(data), config.object != nil else {
                    throw ModelLoadError.malformed(path: url.path, reason: "cannot read the pooling configuration")
                }
                modes = try Self.modes(config: config, path: url.path)
            case "sentence_transformers.models.Normalize":
                normalize = true
            default:
                throw ModelLoadError.unsupported(path: modulesURL.path,
                                                 reason: "module \(type) (supported: \(Self.supportedModules.joined(separator: ", ")))")
            }
        }
        self.init(modes: modes, normalize: normalize)
    }

    /// The modes a Pooling `config.json` turns on: the `pooling_mode_*` switches, or the single
    /// `pooling_mode` name newer sentence-transformers versions also write.
    static func modes(config: JSONValue, path: String) throws -> [Mode] {
        var modes = Mode.allCases.filter { config[$0.rawValue].bool == true }
        if modes.isEmpty, let name = config["pooling_mode"].string {
            let names: [String: Mode] = ["cls": .cls, "max": .max, "mean": .mean, "mean_sqrt_len_tokens": .meanSqrtLength,
                                         "weightedmean": .weightedMean, "lasttoken": .lastToken]
            guard let mode = names[name] else {
                throw ModelLoadError.unsupported(path: path, reason: "pooling_mode '\(name)' (supported: \(names.keys.sorted().joined(separator: ", ")))")
            }
            modes = [mode]
        }
        guard !modes.isEmpty else { throw ModelLoadError.malformed(path: path, reason: "no pooling mode is enabled") }
        return modes
    }

    /// Width of a pooled embedding for hidden states of `hiddenSize`.
    public func dimensions(hiddenSize: Int) -> Int { modes.count * hiddenSize }

    /// Pools the hidden states of a flat batch (`hidden` holds `sequenceLengths.reduce(0, +)` rows
    /// of `hiddenSize`), one embedding per sequence, in order.
    public func pool(_ hidden: [Float], hiddenSize D: Int, sequenceLengths: [Int]) -> [[Float]] {
        precondition(hidden.count == sequenceLengths.reduce(0, +) * D, "hidden states and lengths disagree")
        var out: [[Float]] = []
        out.reserveCapacity(sequenceLengths.count)
        var start = 0
        hidden.withUnsafeBufferPointer { h in
            for n in sequenceLengths {
                precondition(n > 0, "cannot pool an empty sequence")
                var embedding: [Float] = []
                embedding.reserveCapacity(modes.count * D)
                let rows = h.baseAddress! + start * D
                for mode in modes {
                    // Sums run in Double: a 256-token mean of fp32 rows would otherwise lose digits
                    // the comparison with sentence-transformers can see.
                    var acc = [Double](repeating: mode == .max ? -.infinity : 0, count: D)
                    switch mode {
                    case .cls:
                        for d in 0..<D { acc[d] = Double(rows[d]) }
                    case .lastToken:
                        for d in 0..<D { acc[d] = Double(rows[(n - 1) * D + d]) }
                    case .max:
                        for t in 0..<n { for d in 0..<D { acc[d] = Swift.max(acc[d], Double(rows[t * D + d])) } }
                    case .mean, .meanSqrtLength:
                        for t in 0..<n { for d in 0..<D { acc[d] += Double(rows[t * D + d]) } }
                        let divisor = mode == .mean ? Double(n) : Double(n).squareRoot()
                        for d in 0..<D { acc[d] /= divisor }
                    case .weightedMean:
                        for t in 0..<n { for d in 0..<D { acc[d] += Double(t + 1) * Double(rows[t * D + d]) } }
                        let total = Double(n * (n + 1) / 2)
                        for d in 0..<D { acc[d] /= total }
                    }
                    embedding.append(contentsOf: acc.map { Float($0) })
                }
                if normalize {
                    // sentence-transformers' Normalize clamps the norm at 1e-12 (F.normalize).
                    let norm = Swift.max(embedding.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot(), 1e-12)
                    for i in embedding.indices { embedding[i] = Float(Double(embedding[i]) / norm) }
                }
                out.append(embedding)
                start += n
            }
        }
        return out
    }
}
