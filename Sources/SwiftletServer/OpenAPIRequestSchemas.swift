import SwiftletAPI
import SwiftletEngine
import SwiftletFormats

/// The request bodies of the OpenAPI document: the fields each route reads (`SamplingRequest.swift`
/// and the endpoints), with the ranges the server enforces for the model it serves.
extension OpenAPISchema {
    /// The sampling fields /v1/completions and /v1/chat/completions share.
    static func samplingProperties(chat: Bool, maxModelLen: Int, vocabSize: Int) -> [(String, JSONValue)] {
        let maxLogprobs = SamplingParams.maxLogprobs
        let maxTokens = integer(min: 1, max: maxModelLen - 1,
                                "Tokens to generate; the prompt and these must fit in max_model_len (default: what the context leaves).")
        var p: [(String, JSONValue)] = [
            ("model", string(minLength: 1, "The served model's name; anything else is a 400.")),
            ("n", integer(min: 1, max: maxChoices, "Choices to return per prompt.")),
            ("best_of", integer(min: 1, max: maxChoices, "Candidates to generate, at least n; the n most likely are returned.")),
            ("temperature", number(min: 0)),
            ("top_p", number(min: 0, max: 1, exclusiveMin: true)),
            ("top_k", integer(min: -1, "0 or -1 disable it.")),
            ("min_p", number(min: 0, max: 1)),
            ("repetition_penalty", number(min: 0, exclusiveMin: true)),
            ("presence_penalty", number(min: -2, max: 2)),
            ("frequency_penalty", number(min: -2, max: 2)),
            ("logit_bias", object([], additional: number(min: -100, max: 100), nullable: true,
                                  "Token id (as a string key) to a bias added to its logit.")),
            ("seed", integer()),
            ("stop", oneOf([string(minLength: 1, nullable: false), array(string(minLength: 1, nullable: false))], nullable: true,
                           "A stop string or a list of them.")),
            ("stop_token_ids", array(tokenID(vocabSize), nullable: true)),
            ("include_stop_str_in_output", boolean()),
            ("ignore_eos", boolean()),
            ("skip_special_tokens", boolean()),
            ("min_tokens", integer(min: 0, "At most max_tokens.")),
            ("max_tokens", maxTokens),
            ("prompt_logprobs", integer(min: 0, max: maxLogprobs)),
            ("use_beam_search", boolean()),
            ("length_penalty", number("Beam search only.")),
            ("stream", boolean()),
            ("stream_options", object([("include_usage", boolean())], nullable: true)),
        ] + structuredOutputProperties
        if chat {
            p += [
                ("max_completion_tokens", maxTokens),
                ("logprobs", boolean()),
                ("top_logprobs", integer(min: 0, max: maxLogprobs, "Needs logprobs set to true.")),
            ] + toolProperties
        } else {
            p += [("logprobs", integer(min: 0, max: maxLogprobs))]
        }
        return p
    }

    /// The output constraints (`StructuredOutputRequest.swift`): at most one per request.
    static let structuredOutputProperties: [(String, JSONValue)] = {
        let json = oneOf([object([]), string(nullable: false)], nullable: true, "A JSON Schema, or its text.")
        let choice = array(string(nullable: false), minItems: 1, nullable: true)
        return [
            ("response_format", object([
                ("type", string(values: ["text", "json_object", "json_schema"], nullable: false)),
                ("json_schema", object([("name", string()), ("schema", object([])), ("strict", boolean())], nullable: true)),
            ], required: ["type"], nullable: true, "Any JSON object, or JSON valid under json_schema.schema.")),
            ("guided_json", json),
            ("guided_regex", string("Text matching this regular expression in full.")),
            ("guided_choice", choice),
            ("guided_grammar", string("Text in this GBNF grammar (start rule root).")),
            ("structured_outputs", object([
                ("json", json), ("regex", string()), ("choice", choice), ("grammar", string()), ("json_object", boolean()),
            ], nullable: true, "vLLM's form of the guided_* fields.")),
        ]
    }()

    /// Tool calling in /v1/chat/completions (`Tools/`).
    static let toolProperties: [(String, JSONValue)] = {
        let function = object([("name", string(minLength: 1, nullable: false)), ("description", string()), ("parameters", object([]))],
                              required: ["name"])
        let named = object([("type", string(values: ["function"], nullable: false)),
                            ("function", object([("name", string(nullable: false))], required: ["name"]))],
                           required: ["type", "function"])
        return [
            ("tools", array(object([("type", string(values: ["function"], nullable: false)), ("function", function)],
                                   required: ["type", "function"]), nullable: true)),
            ("tool_choice", oneOf([string(values: ["none", "auto", "required"], nullable: false), named], nullable: true)),
            ("parallel_tool_calls", boolean()),
            ("chat_template_kwargs", object([], nullable: true, "Extra variables for the chat template.")),
        ]
    }()

    static func completionRequest(maxModelLen: Int, vocabSize: Int) -> JSONValue {
        let ids = array(tokenID(vocabSize), minItems: 1)
        let prompt = oneOf([
            string(nullable: false), array(string(nullable: false), minItems: 1), ids, array(ids, minItems: 1),
        ], "A string, a list of strings, a list of token ids or a list of lists of token ids.")
        return object([("prompt", prompt), ("echo", boolean())] + samplingProperties(chat: false, maxModelLen: maxModelLen, vocabSize: vocabSize),
                      required: ["prompt"])
    }

    static func chatCompletionRequest(maxModelLen: Int, vocabSize: Int) -> JSONValue {
        let part = object([("type", string(nullable: false)), ("text", string())], required: ["type"])
        let message = object([
            ("role", string(nullable: false)),
            ("content", oneOf([string(nullable: false), array(part)], nullable: true)),
            ("name", string()),
            ("tool_calls", array(object([]), nullable: true)),
            ("tool_call_id", string()),
        ], required: ["role"])
        return object([("messages", array(message, minItems: 1)), ("add_generation_prompt", boolean())]
            + samplingProperties(chat: true, maxModelLen: maxModelLen, vocabSize: vocabSize),
            required: ["messages"])
    }

    static func embeddingRequest(vocabSize: Int) -> JSONValue {
        let ids = array(tokenID(vocabSize), minItems: 1)
        let maxInputs = maxEmbeddingInputs
        return object([
            ("input", oneOf([
                string(nullable: false), array(string(nullable: false), minItems: 1, maxItems: maxInputs), ids,
                array(ids, minItems: 1, maxItems: maxInputs),
            ], "A string, a list of strings, a list of token ids or a list of lists of token ids.")),
            ("model", string(minLength: 1)),
            ("encoding_format", string(values: ["float", "base64"])),
            ("dimensions", integer(min: 1, "Must equal the model's dimensions.")),
        ], required: ["input"])
    }

    static let tokenizeRequest: JSONValue = object([
        ("model", string(minLength: 1)),
        ("prompt", string("Text to tokenize; or give messages.")),
        ("messages", array(object([("role", string(nullable: false))], required: ["role"]), nullable: true)),
        ("add_special_tokens", boolean()),
        ("add_generation_prompt", boolean()),
    ])

    static func detokenizeRequest(vocabSize: Int) -> JSONValue {
        object([("model", string(minLength: 1)), ("tokens", array(tokenID(vocabSize)))], required: ["tokens"])
    }
}
