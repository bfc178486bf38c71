/// Splits a reasoning model's `<think>...</think>` from its answer (vLLM's `--reasoning-parser`,
/// under its names): the thinking goes to `reasoning_content`, the rest to `content`.
public enum ReasoningFormat: String, Sendable, CaseIterable {
    /// DeepSeek-R1: the template opens `<think>` in the prompt, so the output may start inside the
    /// thinking without the tag; everything before `</think>` is reasoning, and an answer that
    /// never closes it is all reasoning.
    case deepseekR1 = "deepseek_r1"
    /// Qwen3: thinking only when the output opens with `<think>`; otherwise all of it is content
    /// (as with `enable_thinking=False`), as in vLLM's parser that needs both tags.
    case qwen3
}

/// The two parts of an output.
struct ReasoningSplit: Equatable {
    var reasoning: String
    var content: String
    /// Whether the thinking is over, so that `content` may carry text.
    var thinkingDone: Bool
}

struct ReasoningParser: Sendable {
    let format: ReasoningFormat

    private static let open = "<think>", close = "</think>"

    /// Splits the text generated so far. While it grows (`final` false) a tail that may be the
    /// start of a tag is held back, so both parts only grow from one call to the next.
    func split(_ text: String, final: Bool) -> ReasoningSplit {
        var body = Substring(text)
        let lead = body.prefix { $0.isWhitespace }
        let afterLead = body.dropFirst(lead.count)
        var opened = false
        if afterLead.hasPrefix(Self.open) {
            body = afterLead.dropFirst(Self.open.count)
            opened = true
        } else if !final, Self.open.hasPrefix(afterLead) {
            return ReasoningSplit(reasoning: "", content: "", thinkingDone: false)
        }
        if !opened, format == .qwen3 {
            return ReasoningSplit(reasoning: "", content: text, thinkingDone: true)
        }
        if let r = body.range(of: Self.close) {
            let answer = body[r.upperBound...]
            return ReasoningSplit(reasoning: String(body[..<r.lowerBound]), content: String(answer.drop { $0.isNewline }),
                                  thinkingDone: true)
        }
        return ReasoningSplit(reasoning: String(final ? body : Self.holdingBack(Self.close, from: body)), content: "", thinkingDone: false)
    }

    /// `s` without a tail that is a proper prefix of `tag`.
    private static func holdingBack(_ tag: String, from s: Substring) -> Substring {
        for n in stride(from: min(tag.count - 1, s.count), to: 0, by: -1) where s.hasSuffix(tag.prefix(n)) {
            return s.dropLast(n)
        }
        return s
    }
}
