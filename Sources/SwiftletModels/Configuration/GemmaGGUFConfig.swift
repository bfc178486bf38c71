import Foundation
import SwiftletFormats

extension ModelConfig {
    /// What Gemma GGUF files leave unsaid and llama.cpp supplies by architecture: the
    /// activation (tanh GELU), the stop token `<end_of_turn>` that ends every chat turn, and for
    /// Gemma 3 without `{arch}.attention.sliding_window_pattern` which layers slide: every sixth
    /// layer is global, as llama.cpp sets it.
    mutating func readGemmaGGUF(_ gguf: GGUFFile, architecture arch: String) throws {
        hiddenActivation = "gelu_pytorch_tanh"
        if let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array,
           let id = tokens.firstIndex(where: { $0.string == "<end_of_turn>" }), !eosTokenIds.contains(id) {
            eosTokenIds.append(id)
        }
        if arch == "gemma3", slidingWindow != nil, slidingLayers == nil {
            slidingLayers = (0..<numLayers).map { ($0 + 1) % 6 != 0 }
        }
    }
}
