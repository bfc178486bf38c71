import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletKernels
import SwiftletModels

/// Options shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A GGUF model file, a Hugging Face model directory, or an alias of a model scripts/bootstrap.sh installs: "
            + ModelAliases.files.keys.sorted().joined(separator: ", ") + " (default: the SmolLM2-135M-Instruct Q4_1 cache copy).",
        discussion: "GGUF: " + ModelRegistry.ggufArchitectures.joined(separator: ", ") + ". Directories (config.json, safetensors, tokenizer.json): "
            + ModelRegistry.huggingFaceClasses(.generation).joined(separator: ", ") + "."))
    var model: String?

    @Option(name: .long, help: "Matmul precision: fast (quantized/bf16) or fp32.")
    var precision: ComputePrecision = .fast

    @Option(name: .long, help: "KV cache element type: bf16, fp32, or int8 (one scale per token and head; about half the memory of bf16).")
    var kvCacheDtype: KVCacheDType = .bf16

    @Option(name: .long, help: "Tokens per KV block.")
    var blockSize: Int = 16

    @Option(name: .long, help: "KV cache budget in bytes, or a fraction of RAM when below 1 (e.g. 0.1).")
    var kvCacheMemory: Double = 256 * 1024 * 1024

    var modelPath: String { model.map(ModelAliases.resolve) ?? DefaultModel.path }

    func validate() throws {
        guard blockSize > 0 && blockSize <= 256 else { throw ValidationError("--block-size must be in 1...256") }
        guard kvCacheMemory > 0 else { throw ValidationError("--kv-cache-memory must be positive") }
    }

    /// Loads the model, reporting progress and its shape and memory on standard error.
    /// Under tensor parallelism `shard` says which slice of the weights this rank holds.
    func load(quiet: Bool = false, shard: TensorShard? = nil) throws -> LoadedModel {
        let start = Date()
        var lastShown = -1
        let loaded = try loadModel(path: modelPath, precision: precision, shard: shard) { done, total in
            guard !quiet else { return }
            let pct = done * 100 / max(total, 1)
            if pct / 10 != lastShown / 10 || done == total {
                lastShown = pct
                let bar = String(repeating: "#", count: pct / 5) + String(repeating: ".", count: 20 - pct / 5)
                FileHandle.standardError.write("\rloading [\(bar)] \(pct)%".data(using: .utf8)!)
            }
        }
        if !quiet {
            let c = loaded.config
            let mib = { (b: Int) in String(format: "%.1f MiB", Double(b) / 1_048_576) }
            let msg = """

            model: \(c.architecture), \(c.numLayers) layers, hidden \(c.hiddenSize), ffn \(c.intermediateSize), \
            heads \(c.numHeads) (kv \(c.numKVHeads), dim \(c.headDim)), vocab \(c.vocabSize), context \(c.maxPositionEmbeddings)
            \(KernelLevel.banner)
            memory: file \(mib(loaded.fileBytes)) mapped, \(mib(loaded.model.residentBytes)) prepared weights (\(precision.rawValue)); \
            loaded in \(String(format: "%.2f", Date().timeIntervalSince(start))) s

            """
            FileHandle.standardError.write(msg.data(using: .utf8)!)
        }
        return loaded
    }

    /// A KV cache sized from the budget, holding `kvHeads` heads per layer (a tensor-parallel
    /// rank's share; all of the model's by default), laid out for the engine's KV cache `groups`
    /// (one storage layer per model layer without them): a block then holds one group's layers,
    /// so the budget buys more blocks.
    func makeCache(for c: ModelConfig, kvHeads: Int? = nil, groups: KVCacheGroups? = nil, quiet: Bool = false) throws -> PagedKVCache {
        let groups = groups ?? .single(numLayers: c.numLayers)
        let budget = KVCacheBudget(budget: kvCacheMemory, config: c, blockSize: blockSize, dtype: kvCacheDtype, groups: groups,
                                   kvHeads: kvHeads)
        let blocks = budget.numBlocks, perToken = budget.bytesPerToken
        guard blocks > 0 else { throw ValidationError("--kv-cache-memory \(budget.budgetBytes) bytes holds no block of \(perToken * blockSize) bytes") }
        if !quiet {
            let mib = String(format: "%.1f", Double(blocks * blockSize * perToken) / 1_048_576)
            // With groups a block holds one group's layers, so blocks times block size is not a token count.
            let held = groups.count > 1 ? "blocks of \(groups.layersPerGroup) of \(c.numLayers) layers" : "\(blocks * blockSize) tokens"
            let named = groups.count > 1 ? "; groups: \(groups)" : ""
            FileHandle.standardError.write("kv cache: \(blocks) blocks of \(blockSize) tokens (\(held), \(mib) MiB, \(kvCacheDtype.rawValue))\(named)\n".data(using: .utf8)!)
        }
        return try PagedKVCache(numBlocks: blocks, blockSize: blockSize, groups: groups, numKVHeads: kvHeads ?? c.numKVHeads,
                                headDim: c.headDim, dtype: kvCacheDtype)
    }
}

extension ComputePrecision: ExpressibleByArgument {}
extension KVCacheDType: ExpressibleByArgument {}
