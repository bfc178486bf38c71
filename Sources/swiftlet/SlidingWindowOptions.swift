import ArgumentParser
import SwiftletEngine
import SwiftletKernels
import SwiftletModels

/// Whether sliding-window layers free their KV blocks, for every command that lays out an
/// engine's KV cache (the engine's commands and `bench model`).
struct SlidingWindowOptions: ParsableArguments {
    @Flag(name: .long, help: """
        Keep every KV block of sliding-window layers (llama.cpp's --swa-full) instead of freeing the blocks \
        behind the window: prompts that share a long prefix keep hitting the prefix cache, but each sequence holds \
        its whole length in those layers too, so the same memory holds fewer tokens (for long sequences about \
        six times fewer on Gemma 3, whose sliding layers otherwise share blocks with its global ones).
        """)
    var swaFull = false

    /// How `model`'s layers share the KV cache under this choice, as the engine lays it out.
    func kvCacheGroups(for model: any CausalLanguageModel) -> KVCacheGroups {
        var config = EngineConfig()
        config.freesSlidingWindowBlocks = !swaFull
        return config.kvCacheGroups(for: model)
    }
}
