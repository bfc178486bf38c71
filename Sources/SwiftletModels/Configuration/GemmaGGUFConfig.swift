import Foundation
import SwiftletFormats

extension ModelConfig {
    /// What Gemma GGUF files leave unsaid and llama.cpp supplies by architecture: the
    /// activation (tanh GELU), the stop token `<end_of_turn>` that ends every chat turn, and for
    /// Gemma 3 which layers slide (`{arch}.attention.sliding_window_pattern` when present: a
    /// period, or one flag per layer; else every sixth layer is global, as llama.cpp sets it).
    mutating func readGemmaGGUF(_ gguf: GGUFFile, architecture arch: String) throws {
        hiddenActivation = "gelu_pytorch_tanh"
        if let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array,
           let id = tokens.firstIndex(where: { $0.string == "<end_of_turn>" }), !eosTokenIds.contains(id) {
            eosTokenIds.append(id)
        }
        guard arch == "gemma3", slidingWindow != nil else { return }
        let key = "\(arch).attention.sliding_window_pattern"
        switch gguf.metadata[key] {
        case nil:
            slidingLayers = (0..<numLayers).map { ($0 + 1) % 6 != 0 }
        case let v? where v.int != nil:
            let period = v.int!
            guard period > 0 else { throw ModelLoadError.malformed(path: gguf.path, reason: "'\(key)' \(period) is not positive") }
            slidingLayers = (0..<numLayers).map { ($0 + 1) % period != 0 }
        case let v?:
            guard let flags = v.array?.compactMap(\.bool), flags.count == numLayers else {
                throw ModelLoadError.malformed(path: gguf.path, reason: "'\(key)' is neither a period nor one flag per layer")
            }
            slidingLayers = flags
        }
    }
}
