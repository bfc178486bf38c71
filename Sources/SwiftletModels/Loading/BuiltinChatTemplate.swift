import Foundation
import SwiftletFormats
import SwiftletTokenizers

extension ModelArchitecture {
    /// The family's built-in template with the BOS/EOS text of a GGUF file's vocabulary; nil
    /// when the family has none (the model then only completes text).
    func builtinChatTemplate(gguf: GGUFFile) -> ChatTemplate? {
        guard let source = builtinChatTemplateSource else { return nil }
        let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array
        func token(_ key: String) -> String {
            guard let id = gguf.metadata[key]?.int, let tokens, tokens.indices.contains(id) else { return "" }
            return tokens[id].string ?? ""
        }
        return try? ChatTemplate(source: source, bosToken: token("tokenizer.ggml.bos_token_id"),
                                 eosToken: token("tokenizer.ggml.eos_token_id"))
    }

    /// The family's built-in template with the BOS/EOS text of `tokenizer`.
    func builtinChatTemplate(tokenizer: any Tokenizer) -> ChatTemplate? {
        guard let source = builtinChatTemplateSource else { return nil }
        return try? ChatTemplate(source: source, bosToken: tokenizer.bosTokenID.flatMap { tokenizer.tokenString($0) } ?? "",
                                 eosToken: tokenizer.eosTokenIDs.first.flatMap { tokenizer.tokenString($0) } ?? "")
    }
}

/// Chat formats of families whose files may come without a template.
enum BuiltinChatTemplates {
    /// Gemma's turns: `<start_of_turn>user` / `<start_of_turn>model`, each closed by
    /// `<end_of_turn>`; a system message has no turn of its own but opens the first user turn;
    /// roles must alternate user, model, user...; content is trimmed.
    static let gemma = """
        {{- bos_token -}}
        {%- if messages and messages[0]['role'] == 'system' -%}
            {%- if messages[0]['content'] is string -%}
                {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
            {%- else -%}
                {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
            {%- endif -%}
            {%- set loop_messages = messages[1:] -%}
        {%- else -%}
            {%- set first_user_prefix = '' -%}
            {%- set loop_messages = messages -%}
        {%- endif -%}
        {%- for message in loop_messages -%}
            {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
                {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
            {%- endif -%}
            {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
            {{- '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') -}}
            {%- if message['content'] is string -%}
                {{- message['content'] | trim -}}
            {%- elif message['content'] is iterable -%}
                {%- for item in message['content'] -%}
                    {%- if item['type'] == 'image' -%}
                        {{- '<start_of_image>' -}}
                    {%- elif item['type'] == 'text' -%}
                        {{- item['text'] | trim -}}
                    {%- endif -%}
                {%- endfor -%}
            {%- endif -%}
            {{- '<end_of_turn>\\n' -}}
        {%- endfor -%}
        {%- if add_generation_prompt -%}
            {{- '<start_of_turn>model\\n' -}}
        {%- endif -%}
        """
}
