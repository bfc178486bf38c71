import SwiftletFormats

extension ModelConfig {
    /// Which layers slide, from `{arch}.attention.sliding_window_pattern` when the file has it
    /// (with a sliding window): a period (every period-th layer is global) or one flag per layer,
    /// as llama.cpp reads it for any architecture. Without it every layer slides (Mistral), unless
    /// the family says otherwise.
    mutating func readSlidingWindowPattern(_ gguf: GGUFFile, architecture arch: String) throws {
        let key = "\(arch).attention.sliding_window_pattern"
        guard slidingWindow != nil, let v = gguf.metadata[key] else { return }
        if let period = v.int {
            guard period > 0 else { throw ModelLoadError.malformed(path: gguf.path, reason: "'\(key)' \(period) is not positive") }
            slidingLayers = (0..<numLayers).map { ($0 + 1) % period != 0 }
        } else {
            guard let values = v.array, case let flags = values.compactMap(\.bool), flags.count == values.count,
                  flags.count == numLayers else {
                throw ModelLoadError.malformed(path: gguf.path, reason: "'\(key)' is neither a period nor one flag per layer")
            }
            slidingLayers = flags
        }
    }
}
