import ArgumentParser
import Foundation
import SwiftletKernels
import SwiftletEngine
import SwiftletModels
import SwiftletTokenizers

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Continue a prompt, or a file of prompts with the batching engine.",
        discussion: """
        The sampling options (temperature, top-k/p, min-p, penalties, n, best-of, beam search, logprobs, \
        stop strings, and one output constraint: --json-schema, --regex, --grammar or --choice) apply to --prompt and are the defaults of --input lines. With --input, every line of the \
        JSONL file is a prompt: a JSON string, or an object with "prompt" (or "prompt_token_ids") and \
        optionally "id", "priority" and any of vLLM's sampling parameters: "max_tokens", "min_tokens", \
        "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty", \
        "frequency_penalty", "logit_bias", "seed", "n", "best_of", "use_beam_search", "length_penalty", \
        "early_stopping", "stop", "stop_token_ids", "include_stop_str_in_output", "ignore_eos", "logprobs", \
        "prompt_logprobs", "skip_special_tokens", and vLLM's "structured_outputs" object (one of "json", a \
        schema; "regex"; "choice", a list of strings; "grammar", GBNF; "json_object": true). Results go to --output (or standard output), one line per \
        prompt in input order.
        """)

    @OptionGroup var options: ModelOptions

    @OptionGroup(title: "Engine (with --input)") var engineOptions: EngineOptions

    @Option(name: .long, help: "The prompt text.")
    var prompt: String?

    @Option(name: .long, help: "A JSONL file of prompts to run as one batch.")
    var input: String?

    @Option(name: .long, help: "Where to write the JSONL results of --input (default: standard output).")
    var output: String?

    @OptionGroup(title: "Sampling") var sampling: SamplingOptions

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
        let cache = try options.makeCache(for: loaded.config, groups: engineOptions.config.kvCacheGroups(for: loaded.model))
        var text = prompt
        if chat {
            text = try renderChatPrompt(loaded: loaded, userMessage: prompt)
        }
        // Special-token strings in the prompt ("<|im_start|>") become those tokens, as with the
        // server, `LLM.generate`, vLLM and Hugging Face tokenizers. A rendered chat prompt gets no
        // BOS from the tokenizer: the template writes its own (Gemma's would otherwise have two).
        let ids = loaded.tokenizer.encode(text, addSpecialTokens: !chat, parseSpecial: true)
        if showTokens { FileHandle.standardError.write("prompt ids: \(ids)\n".data(using: .utf8)!) }
        try runEngine(loaded: loaded, cache: cache, promptIDs: ids)
    }
}

extension GenerateCommand {
    /// One prompt through the engine, for anything beyond greedy decoding: streams the text of a
    /// single completion, prints several (or the best of several) when they are done.
    func runEngine(loaded: LoadedModel, cache: PagedKVCache, promptIDs: [Int]) throws {
        let llm = try LLM(loaded: loaded, cache: cache, config: engineOptions.config)
        let params = sampling.params(maxTokens: maxTokens, ignoreEOS: ignoreEos)
        try llm.engine.addRequest(id: "prompt", promptTokenIDs: promptIDs, params: params)
        let streams = params.n == 1 && params.streamsPartialOutputs
        let start = Date()
        var first: Date?
        var final: RequestOutput?
        while llm.engine.hasUnfinishedRequests {
            for o in llm.engine.step() {
                if first == nil, !(o.outputs.first?.tokenIDs.isEmpty ?? true) { first = Date() }
                // The engine's incremental detokenizer hands out each piece of text once it is complete UTF-8.
                if streams { FileHandle.standardOutput.write(o.outputs[0].newText.data(using: .utf8)!) }
                if o.finished { final = o }
            }
        }
        guard let out = final else { return }
        if let e = out.error { throw ValidationError(e) }
        let tokenizer = loaded.tokenizer
        for c in out.outputs {
            if streams {
                print("")
            } else {
                print("--- completion \(c.index) (\(c.finishReason?.rawValue ?? "?"), cumulative logprob \(String(format: "%.4f", c.cumulativeLogprob)))")
                print(c.text)
            }
            if showTokens { FileHandle.standardError.write("generated ids: \(c.tokenIDs)\n".data(using: .utf8)!) }
            for (i, lp) in (c.logprobs ?? []).enumerated() {
                let alternatives = lp.top.map { String(format: "%@ %.4f", tokenizer.decode([$0.tokenID]).debugDescription, $0.logprob) }
                print(String(format: "  %3d %@ %.4f (rank %d)  top: %@", i, tokenizer.decode([lp.chosen.tokenID]).debugDescription,
                             lp.chosen.logprob, lp.chosen.rank, alternatives.joined(separator: ", ")))
            }
        }
        let generated = out.outputs.reduce(0) { $0 + $1.tokenIDs.count }
        let end = Date()
        let ttft = first.map { $0.timeIntervalSince(start) } ?? 0
        let decodeTime = end.timeIntervalSince(first ?? end)
        let perSequence = out.outputs.map(\.tokenIDs.count).max() ?? 0
        let rate = perSequence > 1 && decodeTime > 0 ? Double(generated - out.outputs.count) / decodeTime : 0
        FileHandle.standardError.write(String(format: "\n%d prompt tokens, %d generated in %.2f s; first token %.3f s, decode %.1f tok/s\n",
                                              promptIDs.count, generated, end.timeIntervalSince(start), ttft, rate).data(using: .utf8)!)
    }
}

/// Renders one user message with the model's own chat template.
func renderChatPrompt(loaded: LoadedModel, userMessage: String) throws -> String {
    guard let template = loaded.chatTemplate else { throw ValidationError("this model has no chat template") }
    return try template.render(messages: [ChatMessage(role: "user", content: userMessage)], addGenerationPrompt: true)
}
