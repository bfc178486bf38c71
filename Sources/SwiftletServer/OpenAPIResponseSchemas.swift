import SwiftletFormats

/// The response bodies of the OpenAPI document, as the endpoints write them.
extension OpenAPISchema {
    /// The fields every completion-like response starts with.
    private static func envelope(object kind: String) -> [(String, JSONValue)] {
        [("id", string(nullable: false)), ("object", string(values: [kind], nullable: false)),
         ("created", integer(nullable: false)), ("model", string(nullable: false))]
    }

    /// OpenAI's legacy logprobs object (`CompletionContext.logprobsJSON`).
    private static let completionLogprobs: JSONValue = object([
        ("tokens", array(string(nullable: false))),
        ("token_logprobs", array(number())),
        ("top_logprobs", array(object([], additional: number(), nullable: true))),
        ("text_offset", array(integer(nullable: false))),
    ], required: ["tokens", "token_logprobs", "top_logprobs", "text_offset"], nullable: true)

    static let completionResponse: JSONValue = object(envelope(object: "text_completion") + [
        ("choices", array(object([
            ("index", integer(min: 0, nullable: false)), ("text", string(nullable: false)), ("logprobs", completionLogprobs),
            ("finish_reason", finishReason), ("stop_reason", stopReason),
        ], required: ["index", "text", "finish_reason"]))),
        ("usage", usage),
    ], required: ["id", "object", "created", "model", "choices", "usage"])

    /// Chat logprobs (`chatLogprobs`): per token its text, logprob, bytes and alternatives.
    private static let chatLogprobs: JSONValue = {
        let item: [(String, JSONValue)] = [
            ("token", string(nullable: false)), ("logprob", number()), ("bytes", array(integer(min: 0, max: 255, nullable: false))),
        ]
        return object([
            ("content", array(object(item + [("top_logprobs", array(object(item, required: ["token", "logprob"])))],
                                     required: ["token", "logprob", "top_logprobs"]))),
        ], required: ["content"], nullable: true)
    }()

    static let chatCompletionResponse: JSONValue = object(envelope(object: "chat.completion") + [
        ("choices", array(object([
            ("index", integer(min: 0, nullable: false)),
            ("message", object([
                ("role", string(values: ["assistant"], nullable: false)), ("content", string()), ("reasoning_content", string()),
                ("tool_calls", array(object([
                    ("id", string(nullable: false)), ("type", string(values: ["function"], nullable: false)),
                    ("function", object([("name", string(nullable: false)), ("arguments", string(nullable: false))], required: ["name", "arguments"])),
                ], required: ["id", "type", "function"]))),
            ], required: ["role", "content"])),
            ("logprobs", chatLogprobs), ("finish_reason", finishReason), ("stop_reason", stopReason),
        ], required: ["index", "message", "finish_reason"]))),
        ("usage", usage),
    ], required: ["id", "object", "created", "model", "choices", "usage"])

    static let embeddingResponse: JSONValue = object([
        ("id", string(nullable: false)), ("object", string(values: ["list"], nullable: false)),
        ("created", integer(nullable: false)), ("model", string(nullable: false)),
        ("data", array(object([
            ("object", string(values: ["embedding"], nullable: false)), ("index", integer(min: 0, nullable: false)),
            ("embedding", oneOf([array(number()), string(nullable: false, "base64 of little-endian float32")])),
        ], required: ["object", "index", "embedding"]))),
        ("usage", usage),
    ], required: ["object", "data", "model", "usage"])

    static let modelList: JSONValue = object([
        ("object", string(values: ["list"], nullable: false)),
        ("data", array(object([
            ("id", string(nullable: false)), ("object", string(values: ["model"], nullable: false)),
            ("created", integer(nullable: false)), ("owned_by", string(nullable: false)),
            ("root", string()), ("parent", string()), ("max_model_len", integer(min: 1, nullable: false)),
        ], required: ["id", "object", "created", "owned_by"]))),
    ], required: ["object", "data"])

    static let tokenizeResponse: JSONValue = object([
        ("count", integer(min: 0, nullable: false)), ("max_model_len", integer(min: 1, nullable: false)),
        ("tokens", array(integer(min: 0, nullable: false))),
    ], required: ["count", "max_model_len", "tokens"])

    /// One event of a streamed answer (`stream: true`): a chunk of the response as JSON text in
    /// `data`, the last one `[DONE]`.
    static let serverSentEvent: JSONValue = object([("data", string(nullable: false)), ("event", string())], required: ["data"])

    static let detokenizeResponse: JSONValue = object([("prompt", string(nullable: false))], required: ["prompt"])

    static let versionResponse: JSONValue = object([
        ("version", string(nullable: false)), ("kernel_level", string(nullable: false)), ("cpu_features", string(nullable: false)),
    ], required: ["version"])

    /// `/engine/stats`: counters of the engine (`statisticsJSON`).
    static let engineStats: JSONValue = object([
        "num_requests_running", "num_requests_waiting", "num_requests_swapped", "num_requests_finished", "kv_blocks_total",
        "kv_blocks_used", "kv_blocks_free", "kv_blocks_cached", "prefix_cache_queries", "prefix_cache_hits", "preemptions",
        "prompt_tokens", "generation_tokens", "steps",
    ].map { ($0, integer(min: 0, nullable: false)) } + [("kv_cache_usage", number(min: 0, max: 1))],
        required: ["kv_blocks_total", "kv_blocks_used", "kv_blocks_free"])

    /// `/engine/blocks`: each KV block's state and owner (`blockMapJSON`).
    static let engineBlocks: JSONValue = object([
        ("block_size", integer(min: 1, nullable: false)), ("states", array(integer(nullable: false))),
        ("owners", array(integer(nullable: false))), ("requests", array(string(nullable: false))), ("stats", engineStats),
    ], required: ["block_size", "states", "owners", "requests", "stats"])

    /// `/pause` and `/resume`: whether the engine is now paused.
    static let pauseState: JSONValue = object([("paused", boolean())], required: ["paused"])
}
