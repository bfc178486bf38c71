import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletModels
import SwiftletFormats
import SwiftletGrammar

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
        let cache = try command.options.makeCache(for: loaded.config, groups: command.engineOptions.config.kvCacheGroups(for: loaded.model))
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
            var record: [(String, JSONValue)] = [
                ("id", .string(item.id)),
                ("num_prompt_tokens", .int(o.promptTokenIDs.count)),
                ("num_cached_tokens", .int(o.numCachedTokens)),
                ("outputs", .array(o.outputs.map { c -> JSONValue in
                    var d: [(String, JSONValue)] = [("index", .int(c.index)), ("text", .string(c.text)),
                                                   ("token_ids", .array(c.tokenIDs.map { .int($0) })),
                                                   ("finish_reason", c.finishReason.map { .string($0.rawValue) } ?? .null)]
                    if item.params.needsLogprobs { d.append(("cumulative_logprob", .double(c.cumulativeLogprob))) }
                    if let lps = c.logprobs { d.append(("logprobs", .array(lps.map(Self.json)))) }
                    switch c.stopReason {
                    case .token(let t): d.append(("stop_reason", .int(t)))
                    case .string(let s): d.append(("stop_reason", .string(s)))
                    case nil: break
                    }
                    return .object(d)
                })),
            ]
            if let p = item.prompt { record.append(("prompt", .string(p))) }
            if let pl = o.promptLogprobs { record.append(("prompt_logprobs", .array(pl.map { $0.map(Self.json) ?? .null }))) }
            if let e = o.error { record.append(("error", .string(e))) }
            let line = JSONValue.object(record).serialized(JSONWriteOptions(sortKeys: true))
            out += line + "\n"
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
        if s.structuredTokens > 0 {
            writeStandardError(String(format: "structured outputs: %d constrained tokens, %d masks, %.1f us of grammar work per token; %d constraints compiled in %.1f ms\n",
                                      s.structuredTokens, s.grammarMasks, 1e6 * s.grammarSeconds / Double(s.structuredTokens),
                                      s.grammarCompiles, 1000 * s.grammarCompileSeconds))
        }
    }

    /// A position's logprobs as vLLM's dictionary: token id (as a string) -> logprob and rank.
    static func json(_ p: PositionLogprobs) -> JSONValue {
        var d: [(String, JSONValue)] = []
        for t in p.top + [p.chosen] where !d.contains(where: { $0.0 == String(t.tokenID) }) {
            d.append((String(t.tokenID), ["logprob": .double(Double(t.logprob)), "rank": .int(t.rank)]))
        }
        return .object(d)
    }

    /// vLLM's `structured_outputs` object of an input line: exactly one of `json` (a schema, as
    /// an object or its text), `regex`, `choice`, `grammar` or `json_object: true`.
    static func structuredOutput(_ v: JSONValue, line: Int) throws -> GrammarSpec? {
        let bad = { (why: String) in ValidationError("line \(line): structured_outputs \(why)") }
        guard v.object != nil else { throw bad("must be an object") }
        var found: [GrammarSpec] = []
        if case let j = v["json"], !j.isNull {
            let schema: JSONValue
            do { schema = try j.string.map { text in try JSONValue.parse(text) } ?? j } catch {
                throw bad("json is not valid JSON: \(error)")
            }
            guard schema.object != nil else { throw bad("json must be a JSON schema object") }
            found.append(.jsonSchema(schema.serialized()))
        }
        if case let r = v["regex"], !r.isNull {
            guard let s = r.string else { throw bad("regex must be a string") }
            found.append(.regex(s))
        }
        if case let c = v["choice"], !c.isNull {
            guard let items = c.array, !items.isEmpty, items.allSatisfy({ $0.string != nil }) else {
                throw bad("choice must be a non-empty list of strings")
            }
            found.append(.choice(items.compactMap(\.string)))
        }
        if case let g = v["grammar"], !g.isNull {
            guard let s = g.string else { throw bad("grammar must be a string") }
            found.append(.gbnf(s))
        }
        if v["json_object"].bool == true { found.append(.jsonObject) }
        guard found.count <= 1 else { throw bad("must hold only one constraint") }
        return found.first
    }

    private func parse(_ text: String, line: Int, index: Int, loaded: LoadedModel) throws -> Item {
        guard let json = try? JSONValue.parse(text) else { throw ValidationError("line \(line): not valid JSON") }
        let obj: JSONValue
        if let s = json.string { obj = ["prompt": .string(s)] } else if json.object != nil { obj = json } else {
            throw ValidationError("line \(line): expected a string or an object")
        }
        var params = command.sampling.params(maxTokens: command.maxTokens, ignoreEOS: command.ignoreEos, index: index)
        func int(_ key: String) throws -> Int? {
            let v = obj[key]
            guard !v.isNull else { return nil }
            guard let n = v.int else { throw ValidationError("line \(line): \(key) must be an integer") }
            return n
        }
        func double(_ key: String) throws -> Double? {
            let v = obj[key]
            guard !v.isNull else { return nil }
            guard let n = v.double else { throw ValidationError("line \(line): \(key) must be a number") }
            return n
        }
        func bool(_ key: String) throws -> Bool? {
            let v = obj[key]
            guard !v.isNull else { return nil }
            guard let b = v.bool else { throw ValidationError("line \(line): \(key) must be true or false") }
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
        if case let v = obj["early_stopping"], !v.isNull {
            if let b = v.bool { params.earlyStopping = b ? .always : .heuristic }
            else if v.string == "never" { params.earlyStopping = .never }
            else { throw ValidationError("line \(line): early_stopping must be true, false or \"never\"") }
        }
        if case let v = obj["logit_bias"], !v.isNull {
            guard let d = v.object else { throw ValidationError("line \(line): logit_bias must map token ids to numbers") }
            params.logitBias = [:]
            for (k, b) in d {
                guard let t = Int(k), let x = b.double else { throw ValidationError("line \(line): logit_bias must map token ids to numbers") }
                params.logitBias[t] = x
            }
        }
        if let v = obj["stop"].string { params.stop = [v] } else if let v = obj["stop"].array {
            guard v.allSatisfy({ $0.string != nil }) else { throw ValidationError("line \(line): stop must be a string or a list of strings") }
            params.stop = v.compactMap(\.string)
        }
        if let v = obj["stop_token_ids"].array {
            guard v.allSatisfy({ $0.int != nil }) else { throw ValidationError("line \(line): stop_token_ids must be a list of integers") }
            params.stopTokenIDs = v.compactMap(\.int)
        }
        if case let v = obj["structured_outputs"], !v.isNull {
            params.structuredOutput = try Self.structuredOutput(v, line: line)
        }
        if let p = params.problem() { throw ValidationError("line \(line): \(p)") }

        let id = obj["id"].string ?? obj["id"].int.map(String.init) ?? "\(line)"
        if let list = obj["prompt_token_ids"].array, list.allSatisfy({ $0.int != nil }) {
            let ids = list.compactMap(\.int)
            return Item(id: id, prompt: nil, promptIDs: ids, params: params, priority: try int("priority") ?? 0)
        }
        guard var prompt = obj["prompt"].string else { throw ValidationError("line \(line): no \"prompt\" or \"prompt_token_ids\"") }
        let original = prompt
        if command.chat { prompt = try renderChatPrompt(loaded: loaded, userMessage: prompt) }
        let ids = loaded.tokenizer.encode(prompt)
        return Item(id: id, prompt: original, promptIDs: ids, params: params, priority: try int("priority") ?? 0)
    }
}
