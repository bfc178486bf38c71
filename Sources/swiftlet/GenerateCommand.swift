import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletModels

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Continue a prompt (greedy), or a file of prompts with the batching engine.",
        discussion: """
        With --input, every line of the JSONL file is a prompt: a JSON string, or an object with "prompt" \
        (or "prompt_token_ids") and optionally "id", "max_tokens", "min_tokens", "temperature", "seed", "n", \
        "stop", "stop_token_ids", "ignore_eos", "priority". Results go to --output (or standard output), one \
        line per prompt in input order.
        """)

    @OptionGroup var options: ModelOptions

    @OptionGroup(title: "Engine (with --input)") var engineOptions: EngineOptions

    @Option(name: .long, help: "The prompt text.")
    var prompt: String?

    @Option(name: .long, help: "A JSONL file of prompts to run as one batch.")
    var input: String?

    @Option(name: .long, help: "Where to write the JSONL results of --input (default: standard output).")
    var output: String?

    @Option(name: .long, help: "Sampling temperature for --input prompts that give none (0 = greedy).")
    var temperature: Double = 0

    @Option(name: .long, help: "Number of tokens to generate.")
    var maxTokens: Int = 64

    @Flag(name: .long, help: "Format the prompt as a user message with the model's chat template.")
    var chat = false

    @Flag(name: .long, help: "Keep generating past end-of-sequence tokens.")
    var ignoreEos = false

    @Flag(name: .long, help: "Print the prompt and generated token ids on standard error.")
    var showTokens = false

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard (prompt == nil) != (input == nil) else { throw ValidationError("give either --prompt or --input") }
        if output != nil && input == nil { throw ValidationError("--output goes with --input") }
    }

    func run() throws {
        if let input {
            return try BatchGeneration(command: self).run(inputPath: input)
        }
        let prompt = prompt!
        let loaded = try options.load()
        let cache = try options.makeCache(for: loaded.config)
        var text = prompt
        if chat {
            text = try renderChatPrompt(loaded: loaded, userMessage: prompt)
        }
        let ids = loaded.tokenizer.encode(text, addSpecialTokens: true, parseSpecial: chat)
        if showTokens { FileHandle.standardError.write("prompt ids: \(ids)\n".data(using: .utf8)!) }
        let decoder = GreedyDecoder(model: loaded.model, cache: cache)
        // Print each new piece of text once it is complete UTF-8.
        var generated: [Int] = []
        var printed = ""
        let start = Date()
        var first: Date?
        let steps = try decoder.generate(prompt: ids, maxTokens: maxTokens,
                                         stopTokens: ignoreEos ? [] : Set(loaded.tokenizer.eosTokenIDs)) { step in
            if first == nil { first = Date() }
            generated.append(step.token)
            let text = loaded.tokenizer.decode(generated, skipSpecialTokens: true)
            if !text.hasSuffix("\u{FFFD}"), text.hasPrefix(printed) {
                FileHandle.standardOutput.write(String(text.dropFirst(printed.count)).data(using: .utf8)!)
                printed = text
            }
        }
        let full = loaded.tokenizer.decode(generated, skipSpecialTokens: true)
        FileHandle.standardOutput.write(((full.hasPrefix(printed) ? String(full.dropFirst(printed.count)) : "") + "\n").data(using: .utf8)!)
        let end = Date()
        if showTokens { FileHandle.standardError.write("\ngenerated ids: \(steps.map(\.token))\n".data(using: .utf8)!) }
        let ttft = first.map { $0.timeIntervalSince(start) } ?? 0
        let decodeTime = end.timeIntervalSince(first ?? end)
        let rate = steps.count > 1 ? Double(steps.count - 1) / decodeTime : 0
        FileHandle.standardError.write(String(format: "\n%d prompt tokens, %d generated; first token %.3f s, decode %.1f tok/s\n",
                                              ids.count, steps.count, ttft, rate).data(using: .utf8)!)
    }
}

/// Renders one user message with the model's own chat template.
func renderChatPrompt(loaded: LoadedModel, userMessage: String) throws -> String {
    guard let gguf = loaded.gguf else { throw ValidationError("this model has no chat template") }
    let template = try ChatTemplate(gguf: gguf)
    return try template.render(messages: [ChatMessage(role: "user", content: userMessage)], addGenerationPrompt: true)
}
