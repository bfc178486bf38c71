import SwiftletEngine

/// Most choices (`n`) and candidates (`best_of`) one request may ask for: OpenAI's limit on `n`.
/// Each is a sequence in the engine, so an unbounded count would let one request exhaust memory.
package let maxChoices = 128

/// Reads the sampling controls shared by /v1/completions and /v1/chat/completions: OpenAI's
/// parameters plus vLLM's extra ones (`top_k`, `min_p`, `repetition_penalty`, `min_tokens`,
/// `stop_token_ids`, `ignore_eos`, `include_stop_str_in_output`, `skip_special_tokens`,
/// `use_beam_search`, `length_penalty`).
///
/// `max_tokens` stays nil when absent: the caller caps it at what the context leaves once the
/// prompt is known, as vLLM does.
package func samplingParams(_ f: RequestFields, chat: Bool) throws -> SamplingParams {
    var p = SamplingParams(maxTokens: nil)
    if let n = try f.int("n") { p.n = n }
    p.bestOf = try f.int("best_of")
    for (name, count) in [("n", p.n), ("best_of", p.bestOf ?? 1)] where count > maxChoices {
        throw OpenAIError.invalidRequest("\(name) must be at most \(maxChoices), got \(count).", param: name)
    }
    if let t = try f.double("temperature") { p.temperature = t }
    if let t = try f.double("top_p") { p.topP = t }
    if let k = try f.int("top_k") { p.topK = k }
    if let m = try f.double("min_p") { p.minP = m }
    if let r = try f.double("repetition_penalty") { p.repetitionPenalty = r }
    if let x = try f.double("presence_penalty") { p.presencePenalty = x }
    if let x = try f.double("frequency_penalty") { p.frequencyPenalty = x }
    if let bias = try f.object("logit_bias") {
        for key in bias.keys {
            guard let id = Int(key) else {
                throw OpenAIError.invalidRequest("logit_bias keys must be token ids, got '\(key)'.", param: "logit_bias")
            }
            guard let b = try bias.double(key) else { continue }
            p.logitBias[id] = b
        }
    }
    if let seed = try f.int("seed") { p.seed = UInt64(bitPattern: Int64(seed)) }
    if let stop = try f.strings("stop") { p.stop = stop }
    if let ids = try f.ints("stop_token_ids") { p.stopTokenIDs = ids }
    if let b = try f.bool("include_stop_str_in_output") { p.includeStopStringInOutput = b }
    if let b = try f.bool("ignore_eos") { p.ignoreEOS = b }
    if let b = try f.bool("skip_special_tokens") { p.skipSpecialTokens = b }
    if let m = try f.int("min_tokens") { p.minTokens = m }
    let maxKey = chat && f.value("max_completion_tokens") != nil ? "max_completion_tokens" : "max_tokens"
    if let m = try f.int(maxKey) {
        guard m > 0 else { throw OpenAIError.invalidRequest("\(maxKey) must be at least 1, got \(m).", param: maxKey) }
        p.maxTokens = m
    }
    if chat {
        if try f.bool("logprobs") == true {
            p.logprobs = try f.int("top_logprobs") ?? 0
        } else if f.value("top_logprobs") != nil {
            throw OpenAIError.invalidRequest("top_logprobs needs logprobs set to true.", param: "top_logprobs")
        }
    } else {
        p.logprobs = try f.int("logprobs")
    }
    if let k = try f.int("prompt_logprobs") { p.promptLogprobs = k }
    if let b = try f.bool("use_beam_search") { p.useBeamSearch = b }
    if let l = try f.double("length_penalty") { p.lengthPenalty = l }
    return p
}

/// Checks the parameters against the engine's rules and fills in `max_tokens` for one prompt;
/// out-of-range values and prompts that leave no room are 400s.
package func finalize(_ params: SamplingParams, promptLength: Int, maxModelLen: Int, vocabSize: Int,
              promptParam: String) throws -> SamplingParams {
    var p = params
    if promptLength == 0 { throw OpenAIError.invalidRequest("The prompt is empty.", param: promptParam) }
    let requested = p.maxTokens ?? max(maxModelLen - promptLength, 1)
    // Compared without adding: a max_tokens near Int.max would overflow the sum and pass.
    if promptLength >= maxModelLen || requested > maxModelLen - promptLength {
        let (total, overflow) = promptLength.addingReportingOverflow(requested)
        throw OpenAIError(status: 400,
                          message: "This model's maximum context length is \(maxModelLen) tokens. However, you requested "
                              + "\(overflow ? "more than \(Int.max)" : "\(total)") tokens (\(promptLength) in the prompt, \(requested) in the completion). "
                              + "Please reduce the length of the prompt or the completion.",
                          type: "invalid_request_error", param: promptParam, code: "context_length_exceeded")
    }
    p.maxTokens = requested
    if let problem = p.problem(vocabSize: vocabSize) {
        throw OpenAIError.invalidRequest(problem.prefix(1).uppercased() + problem.dropFirst() + ".", param: parameterName(in: problem))
    }
    return p
}

/// The parameter a `SamplingParams.problem` message starts with (they name it first).
private func parameterName(in message: String) -> String? {
    let name = message.prefix { $0.isLetter || $0 == "_" }
    return name.isEmpty ? nil : String(name)
}
