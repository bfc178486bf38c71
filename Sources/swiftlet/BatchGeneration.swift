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
        let items = try lines.enumerated().map { try parse($1, line: $0 + 1, loaded: loaded) }
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
                    switch c.stopReason {
                    case .token(let t): d["stop_reason"] = t
                    case .string(let s): d["stop_reason"] = s
                    case nil: break
                    }
                    return d
                },
            ]
            if let p = item.prompt { record["prompt"] = p }
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

    private func parse(_ text: String, line: Int, loaded: LoadedModel) throws -> Item {
        guard let json = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
            throw ValidationError("line \(line): not valid JSON")
        }
        var obj: [String: Any]
        if let s = json as? String { obj = ["prompt": s] } else if let o = json as? [String: Any] { obj = o } else {
            throw ValidationError("line \(line): expected a string or an object")
        }
        var params = SamplingParams(maxTokens: command.maxTokens, temperature: command.temperature, ignoreEOS: command.ignoreEos)
        func int(_ key: String) throws -> Int? {
            guard let v = obj[key], !(v is NSNull) else { return nil }
            guard let n = v as? Int else { throw ValidationError("line \(line): \(key) must be an integer") }
            return n
        }
        if let v = try int("max_tokens") { params.maxTokens = v }
        if let v = try int("min_tokens") { params.minTokens = v }
        if let v = try int("n") { params.n = v }
        if let v = try int("seed") { params.seed = UInt64(truncatingIfNeeded: v) }
        if let v = obj["temperature"] as? Double { params.temperature = v }
        if let v = obj["ignore_eos"] as? Bool { params.ignoreEOS = v }
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
        let ids = loaded.tokenizer.encode(prompt, addSpecialTokens: true, parseSpecial: command.chat)
        return Item(id: id, prompt: original, promptIDs: ids, params: params, priority: try int("priority") ?? 0)
    }
}
