import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletModels

/// The paper's Fig. 2 on this engine: how much of the KV memory held for requests stores real
/// tokens, against contiguous reservations of the same requests over the same run.
///
/// After every step, for the requests then running: the paged figure is filled token slots over
/// the slots of the blocks they hold; the baselines reserve, per request, the maximum length
/// (Orca Max), the next power of two of its final length (Orca Pow2) or exactly its final length
/// (Orca Oracle), against the same tokens. Each figure is a ratio of sums over all steps, i.e. a
/// time average weighted by memory.
struct BenchMemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "KV cache use (tokens stored / memory held) of the paged engine beside contiguous-reservation baselines.")

    @OptionGroup var options: ModelOptions
    @OptionGroup(title: "Engine") var engineOptions: EngineOptions

    @Option(name: .long, help: "Number of requests.")
    var numPrompts: Int = 64

    @Option(name: .long, help: "Mean prompt length (ShareGPT in the paper's Fig. 11: 161).")
    var inputMean: Double = 161

    @Option(name: .long, help: "Mean output length (ShareGPT in the paper's Fig. 11: 338).")
    var outputMean: Double = 338

    @Option(name: .long, help: "The maximum sequence length a contiguous system reserves (Orca Max).")
    var reserveMax: Int = 2048

    @Option(name: .long, help: "Seed of the lengths and prompts.")
    var datasetSeed: UInt64 = 0

    func run() throws {
        let loaded = try options.load()
        let engine = try engineOptions.makeEngine(loaded: loaded, model: options)
        var rng = SeededGenerator(seed: datasetSeed)
        let inputs = Self.lengths(count: numPrompts, mean: inputMean, sigma: 0.9, range: 4...1024, rng: &rng)
        let outputs = Self.lengths(count: numPrompts, mean: outputMean, sigma: 0.8, range: 4...1024, rng: &rng)
        let vocab = loaded.config.vocabSize
        var finalLength: [String: Int] = [:]
        for i in 0..<numPrompts {
            let prompt = (0..<inputs[i]).map { _ in Int.random(in: 100..<vocab, using: &rng) }
            let id = "m\(i)"
            finalLength[id] = inputs[i] + outputs[i]
            try engine.addRequest(id: id, promptTokenIDs: prompt,
                                  params: SamplingParams(maxTokens: outputs[i], temperature: 0, ignoreEOS: true, detokenize: false))
        }
        print(String(format: "requests: %d, prompt mean %.1f (max %d), output mean %.1f (max %d); KV cache %d blocks x %d tokens = %d tokens",
                     numPrompts, Double(inputs.reduce(0, +)) / Double(numPrompts), inputs.max()!,
                     Double(outputs.reduce(0, +)) / Double(numPrompts), outputs.max()!,
                     engine.statistics.kvBlocksTotal, options.blockSize, engine.statistics.kvBlocksTotal * options.blockSize))

        var filled = 0, allocated = 0, pool = 0
        var used = 0, orcaMax = 0, pow2 = 0, oracle = 0
        var steps = 0
        let start = Date()
        var bar = ProgressBar()
        var done = 0
        var generated = 0
        while engine.hasUnfinishedRequests {
            for o in engine.step() where o.finished {
                done += 1
                generated += o.outputs[0].tokenIDs.count
            }
            steps += 1
            let occ = engine.kvOccupancy()
            filled += occ.filledSlots
            allocated += occ.allocatedSlots
            pool += engine.statistics.kvBlocksTotal * options.blockSize
            for r in occ.requests {
                let final = finalLength[r.requestID]!
                used += r.tokens
                orcaMax += max(reserveMax, final)
                pow2 += Self.nextPowerOfTwo(final)
                oracle += final
            }
            let s = engine.statistics
            bar.update(GenerationProgress(finishedRequests: done, totalRequests: numPrompts, promptTokens: s.promptTokens,
                                          generatedTokens: generated, elapsed: Date().timeIntervalSince(start), statistics: s),
                       force: done == numPrompts)
        }
        bar.finish()
        let s = engine.statistics
        func pct(_ a: Int, _ b: Int) -> String { String(format: "%.1f%%", 100 * Double(a) / Double(max(b, 1))) }
        print("steps: \(steps), preemptions: \(s.preemptionsRecompute) recompute / \(s.preemptionsSwap) swap, "
              + String(format: "%.1f s", Date().timeIntervalSince(start)))
        print("KV memory holding tokens (time average over the run):")
        print("  Swiftlet (paged, block \(options.blockSize)): \(pct(filled, allocated)) of the blocks in use; blocks in use were \(pct(allocated, pool)) of the cache")
        print("  Orca (Max, reserve \(reserveMax)):  \(pct(used, orcaMax))")
        print("  Orca (Pow2):             \(pct(used, pow2))")
        print("  Orca (Oracle):           \(pct(used, oracle))")
        print("(paper, Fig. 2: Orca Max 20.4%, Pow2 26.8%, Oracle 38.2%, vLLM 96.3%)")
    }

    /// Log-normal lengths scaled to the exact mean and clamped to `range` (ShareGPT-like: many short, a long tail).
    static func lengths(count: Int, mean: Double, sigma: Double, range: ClosedRange<Int>, rng: inout SeededGenerator) -> [Int] {
        var raw: [Double] = (0..<count).map { _ in
            // Box-Muller normal draw.
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng), u2 = Double.random(in: 0..<1, using: &rng)
            return exp(sigma * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
        }
        for _ in 0..<8 {
            let m = raw.reduce(0, +) / Double(count)
            raw = raw.map { min(Double(range.upperBound), max(Double(range.lowerBound), $0 * mean / m)) }
        }
        return raw.map { Int($0.rounded()) }
    }

    static func nextPowerOfTwo(_ n: Int) -> Int {
        var p = 1
        while p < n { p <<= 1 }
        return p
    }
}
