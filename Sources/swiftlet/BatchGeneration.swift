import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletModels

/// `swiftlet generate --input prompts.jsonl --output out.jsonl`: every prompt of a file through
/// the batching engine, results in input order.
struct BatchGeneration {
    let command: GenerateCommand

    /// One input line.
    struct Item {
        var id: String
        var prompt: String?
        var promptIDs: [Int]
        var params: SamplingParams
        var priority: Int
    }

    func run(inputPath: String) throws {
        let lines = try String(contentsOfFile: inputPath, encoding: .utf8)
            .split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let loaded = try command.options.load()
        let items = try lines.enumerated().map { try parse($1, line: $0 + 1, index: $0, loaded: loaded) }
        let cache = try command.options.makeCache(for: loaded.config)
        let llm = try LLM(loaded: loaded, cache: cache, config: command.engineOptions.config)
        command.engineOptions.attach(to: llm.engine)
        var bar = ProgressBar()
        let start = Date()
        var last: GenerationProgress?
        let outputs = try llm.generate(promptTokenIDs: items.map(\.promptIDs), params: items.map(\.params),
                                       priorities: items.map(\.priority)) { p in
            last = p
            bar.update(p, force: p.finishedRequests == p.totalRequests)
        }
        bar.finish()
        let elapsed = Date().timeIntervalSince(start)

        var out = ""
        for (item, o) in zip(items, outputs) {
            var record: [String: Any] = [
                "id": item.id,
                "num_prompt_tokens": o.promptTokenIDs.count,
                "num_cached_tokens": o.numCachedTokens,
                "outputs": o.outputs.map { c -> [String: Any] in
                    var d: [String: Any] = ["index": c.index, "text": c.text, "token_ids": c.tokenIDs,
                                            "finish_reason": c.finishReason?.rawValue ?? NSNull()]
                    if item.params.needsLogprobs { d["cumulative_logprob"] = c.cumulativeLogprob }
                    if let lps = c.logprobs { d["logprobs"] = lps.map(Self.json) }
                    switch c.stopReason {
                    case .token(let t): d["stop_reason"] = t
                    case .string(let s): d["stop_reason"] = s
                    case nil: break
                    }
                    return d
                },
            ]
            if let p = item.prompt { record["prompt"] = p }
            if let pl = o.promptLogprobs { record["prompt_logprobs"] = pl.map { p -> Any in p.map(Self.json) ?? NSNull() } }
            if let e = o.error { record["error"] = e }
            let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])
            out += String(decoding: data, as: UTF8.self) + "\n"
        }
        if let path = command.output {
            try out.write(toFile: path, atomically: true, encoding: .utf8)
        } else {
            FileHandle.standardOutput.write(out.data(using: .utf8)!)
        }
        let s = llm.engine.statistics
        let generated = last?.generatedTokens ?? s.generationTokens
        writeStandardError(String(format: "%d requests in %.2f s: %.1f output tok/s, %d prompt tokens computed, prefix cache hits %d/%d, preemptions %d recompute / %d swap\n",
                                  items.count, elapsed, Double(generated) / elapsed, s.promptTokens, s.prefixCacheHits,
                                  s.prefixCacheQueries, s.preemptionsRecompute, s.preemptionsSwap))
    }

    /// A position's logprobs as vLLM's dictionary: token id (as a string) -> logprob and rank.
    static func json(_ p: PositionLogprobs) -> [String: Any] {
        var d: [String: Any] = [:]
        for t in p.top + [p.chosen] { d[String(t.tokenID)] = ["logprob": Double(t.logprob), "rank": t.rank] }
        return d
    }

    private func parse(_ text: String, line: Int, index: Int, loaded: LoadedModel) throws -> Item {
        guard let json = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
            throw ValidationError("line \(line): not valid JSON")
        }
        var obj: [String: Any]
        if let s = json as? String { obj = ["prompt": s] } else if let o = json as? [String: Any] { obj = o } else {
            throw ValidationError("line \(line): expected a string or an object")
        }
        var params = command.sampling.params(maxTokens: command.maxTokens, ignoreEOS: command.ignoreEos, index: index)
        func int(_ key: String) throws -> Int? {
            guard let v = obj[key], !(v is NSNull) else { return nil }
            guard let n = v as? Int else { throw ValidationError("line \(line): \(key) must be an integer") }
            return n
        }
        func double(_ key: String) throws -> Double? {
            guard let v = obj[key], !(v is NSNull) else { return nil }
            guard let n = v as? Double else { throw ValidationError("line \(line): \(key) must be a number") }
            return n
        }
        func bool(_ key: String) throws -> Bool? {
            guard let v = obj[key], !(v is NSNull) else { return nil }
            guard let b = v as? Bool else { throw ValidationError("line \(line): \(key) must be true or false") }
            return b
        }
        if let v = try int("max_tokens") { params.maxTokens = v }
        if let v = try int("min_tokens") { params.minTokens = v }
        if let v = try int("n") { params.n = v }
        if let v = try int("best_of") { params.bestOf = v }
        if let v = try int("seed") { params.seed = UInt64(truncatingIfNeeded: v) }
        if let v = try int("top_k") { params.topK = v }
        if let v = try int("logprobs") { params.logprobs = v }
        if let v = try int("prompt_logprobs") { params.promptLogprobs = v }
        if let v = try double("temperature") { params.temperature = v }
        if let v = try double("top_p") { params.topP = v }
        if let v = try double("min_p") { params.minP = v }
        if let v = try double("repetition_penalty") { params.repetitionPenalty = v }
        if let v = try double("presence_penalty") { params.presencePenalty = v }
        if let v = try double("frequency_penalty") { params.frequencyPenalty = v }
        if let v = try double("length_penalty") { params.lengthPenalty = v }
        if let v = try bool("ignore_eos") { params.ignoreEOS = v }
        if let v = try bool("use_beam_search") { params.useBeamSearch = v }
        if let v = try bool("include_stop_str_in_output") { params.includeStopStringInOutput = v }
        if let v = try bool("skip_special_tokens") { params.skipSpecialTokens = v }
        if let v = obj["early_stopping"] {
            if let b = v as? Bool { params.earlyStopping = b ? .always : .heuristic }
            else if (v as? String) == "never" { params.earlyStopping = .never }
            else { throw ValidationError("line \(line): early_stopping must be true, false or \"never\"") }
        }
        if let v = obj["logit_bias"] {
            guard let d = v as? [String: Any] else { throw ValidationError("line \(line): logit_bias must map token ids to numbers") }
            params.logitBias = [:]
            for (k, b) in d {
                guard let t = Int(k), let x = b as? Double else { throw ValidationError("line \(line): logit_bias must map token ids to numbers") }
                params.logitBias[t] = x
            }
        }
        if let v = obj["stop"] as? String { params.stop = [v] } else if let v = obj["stop"] as? [String] { params.stop = v }
        if let v = obj["stop_token_ids"] as? [Int] { params.stopTokenIDs = v }
        if let p = params.problem() { throw ValidationError("line \(line): \(p)") }

        let id = (obj["id"] as? String) ?? (obj["id"] as? Int).map(String.init) ?? "\(line)"
        if let ids = obj["prompt_token_ids"] as? [Int] {
            return Item(id: id, prompt: nil, promptIDs: ids, params: params, priority: try int("priority") ?? 0)
        }
        guard var prompt = obj["prompt"] as? String else { throw ValidationError("line \(line): no \"prompt\" or \"prompt_token_ids\"") }
        let original = prompt
        if command.chat { prompt = try renderChatPrompt(loaded: loaded, userMessage: prompt) }
        let ids = loaded.tokenizer.encode(prompt)
        return Item(id: id, prompt: original, promptIDs: ids, params: params, priority: try int("priority") ?? 0)
    }
}
