#!/usr/bin/env python3
"""Writes the chat-template fixtures in Tests/Fixtures/templates/.

For each template (SmolLM2's real one, read from its GGUF, and templates in the shapes the
model families publish in their tokenizer_config.json) and each conversation below, it records
what Python's jinja2 renders when set up exactly as Hugging Face transformers sets it up for
`apply_chat_template`: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[loopcontrols]), transformers' `tojson` (ensure_ascii=False, indent, separators,
sort_keys), `raise_exception`, `strftime_now`, `namespace`, and the variables messages, tools
(None when absent), documents (None), add_generation_prompt, bos_token, eos_token.
The Swift tests render the same inputs and compare byte for byte.

It also records `features.json`: small templates exercising one language feature each.

Usage: pip install jinja2 gguf; python3 scripts/make_template_fixtures.py [path/to/SmolLM2.gguf]
(the GGUF defaults to $SWIFTLET_MODEL_PATH or ~/.cache/swiftlet/models/SmolLM2-135M-Instruct.Q4_1.gguf;
without it, an existing smollm2.jinja is kept).
"""

import json
import os
import sys
from datetime import datetime
from pathlib import Path

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "templates"


def make_env():
    """The environment transformers' chat_template_utils builds (minus its assistant-mask
    `generation` extension, which renders its body unchanged)."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    class TemplateNamespace(jinja2.utils.Namespace):
        def __init__(*args, **kwargs):
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                if isinstance(name, str) and name.startswith("_"):
                    raise jinja2.exceptions.SecurityError("underscore-prefixed namespace attribute")
            jinja2.utils.Namespace.__init__(self, attrs)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["dict"] = dict
    env.globals["namespace"] = TemplateNamespace
    return env


ENV = make_env()

# --- Templates ------------------------------------------------------------------------------

LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

LLAMA31 = r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

MISTRAL = r"""{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
"""

QWEN25 = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)

GEMMA3 = r"""{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""

# ChatML written out over lines, relying on trim_blocks/lstrip_blocks instead of `-` markers,
# with content given as a string or as a list of parts, tool calls and a tools block.
CHATML = """{% for message in messages %}
    {% if loop.first and message['role'] != 'system' and tools %}
<|im_start|>system
You can call these tools:
        {% for tool in tools %}
- {{ tool['function']['name'] }}: {{ tool['function']['description'] | default('no description') }}
        {% endfor %}
<|im_end|>
    {% endif %}
<|im_start|>{{ message['role'] }}{% if message['name'] is defined %} name={{ message['name'] }}{% endif %}

    {% if message['content'] is string %}
{{ message['content'] }}
    {%- elif message['content'] is not none %}
        {% for part in message['content'] if part['type'] == 'text' %}
{{ part['text'] }}{{ '\\n' if not loop.last }}
        {%- endfor %}
    {% endif %}
    {% if message['tool_calls'] is defined %}
        {% for call in message['tool_calls'] %}
<tool_call>{{ {'name': call['function']['name'], 'arguments': call['function']['arguments']} | tojson }}</tool_call>
        {%- endfor %}
    {% endif %}
<|im_end|>
{% endfor %}
{% if add_generation_prompt %}
<|im_start|>assistant
{% endif %}
"""

PHI3 = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}"
    "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)

TEMPLATES = {
    "llama2": (LLAMA2, "<s>", "</s>"),
    "llama3": (LLAMA3, "<|begin_of_text|>", "<|eot_id|>"),
    "llama31": (LLAMA31, "<|begin_of_text|>", "<|eot_id|>"),
    "mistral": (MISTRAL, "<s>", "</s>"),
    "qwen25": (QWEN25, "", "<|im_end|>"),
    "gemma": (GEMMA, "<bos>", "<eos>"),
    "gemma3": (GEMMA3, "<bos>", "<eos>"),
    "chatml": (CHATML, "<s>", "</s>"),
    "phi3": (PHI3, "<s>", "<|endoftext|>"),
}

# --- Conversations --------------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web — returns the top results",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "default": 5, "minimum": 1.0},
                "safe": {"type": "boolean", "default": True},
            },
            "required": ["query"],
        },
    },
}


def call(cid, name, args):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


CONVERSATIONS = [
    {"name": "single_user", "messages": [{"role": "user", "content": "Hello!"}]},
    {
        "name": "system_user",
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "What is 2+2?"},
        ],
    },
    {
        "name": "multi_turn",
        "messages": [
            {"role": "user", "content": "Hi, who are you?"},
            {"role": "assistant", "content": "I am an assistant."},
            {"role": "user", "content": "Tell me a joke."},
        ],
    },
    {
        "name": "system_multi_turn",
        "messages": [
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Good morning"},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "user", "content": "Thank you"},
            {"role": "assistant", "content": "Merci"},
            {"role": "user", "content": "Bye"},
        ],
    },
    {
        "name": "ends_with_assistant",
        "messages": [
            {"role": "user", "content": "Count to three."},
            {"role": "assistant", "content": "One, two, three."},
        ],
    },
    {
        "name": "unicode_and_whitespace",
        "messages": [
            {"role": "system", "content": "  Système: réponds brièvement.  \n"},
            {"role": "user", "content": "  日本語で答えて 🙂\n\nLine \"two\" with 'quotes' and \\ backslash\t"},
            {"role": "assistant", "content": "\nはい、わかりました 👍  "},
            {"role": "user", "content": "Ελληνικά; {{ not a template }} {% raw %}"},
        ],
    },
    {"name": "empty_content", "messages": [{"role": "user", "content": ""}]},
    {
        "name": "long_conversation",
        "messages": [
            {"role": "user", "content": f"Question {i}"} if i % 2 == 0 else {"role": "assistant", "content": f"Answer {i}"}
            for i in range(9)
        ],
    },
    {
        "name": "tools_available",
        "tools": [WEATHER_TOOL, SEARCH_TOOL],
        "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
    },
    {
        "name": "tools_with_system",
        "tools": [WEATHER_TOOL],
        "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather in Oslo?"},
        ],
    },
    {
        "name": "tool_call_round_trip",
        "tools": [WEATHER_TOOL],
        "messages": [
            {"role": "user", "content": "What's the weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [call("call12345", "get_weather", {"location": "Paris", "unit": "celsius"})]},
            {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temperature\": 22, \"sky\": \"clear\"}"},
            {"role": "assistant", "content": "It is 22 °C and clear in Paris."},
            {"role": "user", "content": "Thanks!"},
        ],
    },
    {
        "name": "parallel_tool_calls",
        "tools": [WEATHER_TOOL, SEARCH_TOOL],
        "messages": [
            {"role": "system", "content": "Use tools when helpful."},
            {"role": "user", "content": "Weather in Rome and news about it?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    call("callAAAAA", "get_weather", {"location": "Rome"}),
                    call("callBBBBB", "search", {"query": "Rome news", "limit": 3, "safe": False}),
                ],
            },
            {"role": "tool", "tool_call_id": "callAAAAA", "name": "get_weather", "content": "18 degrees"},
            {"role": "tool", "tool_call_id": "callBBBBB", "name": "search", "content": "No news today."},
        ],
    },
    {
        "name": "code_block",
        "messages": [
            {"role": "user", "content": "Fix this:\n```python\ndef f(x):\n    return x+1\n```"},
            {"role": "assistant", "content": "Looks fine:\n\n```python\ndef f(x):\n    return x + 1\n```\n"},
            {"role": "user", "content": "   And in Swift?   "},
        ],
    },
    {
        "name": "json_and_braces",
        "messages": [
            {"role": "user", "content": "Parse {\"a\": [1, 2], \"b\": null} and {% literally %} {{ braces }}"},
        ],
    },
    {
        "name": "special_token_text",
        "messages": [
            {"role": "user", "content": "What does <|im_end|> or </s> or [INST] mean?"},
            {"role": "assistant", "content": "They are control tokens."},
            {"role": "user", "content": "<start_of_turn> too?"},
        ],
    },
    {
        "name": "content_parts",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Describe this picture."}, {"type": "image"}, {"type": "text", "text": " Briefly. "}]},
            {"role": "assistant", "content": [{"type": "text", "text": "A cat on a mat."}]},
            {"role": "user", "content": [{"type": "text", "text": "And the colour?"}]},
        ],
    },
]


def render(template, conv, add_generation_prompt, bos, eos):
    ctx = {
        "messages": conv["messages"],
        "tools": conv.get("tools"),
        "documents": None,
        "add_generation_prompt": add_generation_prompt,
        "bos_token": bos,
        "eos_token": eos,
    }
    ctx.update(conv.get("extra", {}))
    try:
        return {"output": ENV.from_string(template).render(**ctx)}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception raises a bare TemplateError; Jinja's own failures are subclasses.
        if type(e) is jinja2.exceptions.TemplateError:
            return {"raised": str(e)}
        return {"error": f"{type(e).__name__}: {e}"}
    except Exception as e:  # TypeError and friends from Python operators
        return {"error": f"{type(e).__name__}: {e}"}


def smollm2_template(path_arg):
    candidates = [path_arg, os.environ.get("SWIFTLET_MODEL_PATH"),
                  os.path.expanduser("~/.cache/swiftlet/models/SmolLM2-135M-Instruct.Q4_1.gguf")]
    for p in candidates:
        if p and os.path.exists(p):
            import gguf

            field = gguf.GGUFReader(p).fields["tokenizer.chat_template"]
            return bytes(field.parts[field.data[0]]).decode("utf-8")
    existing = OUT / "smollm2.jinja"
    if existing.exists():
        return existing.read_text()
    sys.exit("SmolLM2 GGUF not found: pass its path or set SWIFTLET_MODEL_PATH")


# --- Feature snippets -----------------------------------------------------------------------

# (template, context) pairs; each records what jinja2 renders or that it fails.
FEATURES = [
    # whitespace control
    ("a  {% if true %}\n  b\n  {% endif %}\nc", {}),
    ("  {%- if true -%}  x  {%- endif -%}  ", {}),
    ("line\n    {% for i in [1,2] %}\n    {{ i }}\n    {% endfor %}\nend\n", {}),
    ("{% for i in [1,2] %}{{ i }}\n{% endfor %}", {}),
    ("  {{ 'v' }}  \n  {# comment #}\n  x", {}),
    ("a\n  {#- trimmed -#}\n  b", {}),
    ("a {%+ if true %}b{% endif %}", {}),
    ("{% if true +%}\nkeep newline{% endif %}", {}),
    ("x {{- ' y ' -}} z", {}),
    ("{% raw %}{{ not evaluated }}{% endraw %}", {}),
    ("  {% raw -%}  {{x}}  {%- endraw %}\n!", {}),
    ("a\r\nb\r\n{% if true %}\r\nc\r\n{% endif %}\r\n", {}),
    ("trailing newline kept once\n\n", {}),
    ("{{ 'a' }}\n{% if true %}\n  x\n{% endif %}", {}),
    ("{{ 1 }}  {% if true %}y{% endif %}", {}),
    # literals and printing
    ("{{ 'it''s' }}|{{ \"tab\\there\" }}|{{ '\\u00e9\\x41\\101' }}|{{ 'a' 'b' }}", {}),
    ("{{ [1, 2.5, 'a', none, true, {'k': [1]}] }}", {}),
    ("{{ {'a': \"it's\", 'b': 'say \"hi\"', 'c': 'both \\' \"'} }}", {}),
    ("{{ none }}|{{ true }}|{{ false }}|{{ undefined_var }}|{{ 1.0 }}|{{ 1e3 }}|{{ 0.1 + 0.2 }}|{{ 10 / 4 }}", {}),
    # (tuples print as lists here, so the snippets print them through join)
    ("{{ (1, 2) | join(',') }}|{{ (1,) | length }}|{{ [] }}|{{ {} }}|{{ 'é\\n\\x00' ~ [ 'é\\n\\x00' ] }}", {}),
    ("{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e2 }} {{ 2E-3 }}", {}),
    # arithmetic and operators
    ("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 3 ** 2 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}", {}),
    ("{{ 'ab' * 3 }} {{ [1] * 2 }} {{ 'a' ~ 1 ~ none ~ true }} {{ 1 + 2 * 3 - 4 }}", {}),
    ("{{ -2 ** 2 }} {{ (-2) ** 2 }} {{ 2 ** -1 }} {{ not 1 == 2 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}", {}),
    ("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'x' not in 'abc' }} {{ 1 == 1.0 }} {{ true == 1 }}", {}),
    ("{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ '' or [] }}|{{ none and 1 }}|{{ 'y' if 0 else 'n' }}|{{ 'y' if 0 }}", {}),
    ("{{ '%s and %d (%.2f) %5s|%-4d|%03d %%' % ('x', 42, 3.14159, 'r', 7, 5) }}", {}),
    ("{{ 1 + 'a' }}", {}),
    ("{{ 'a' < 1 }}", {}),
    ("{{ 1 / 0 }}", {}),
    # variables and scoping
    ("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}[{{ x }}]{% endfor %}{{ x }}", {}),
    ("{% set ns = namespace(total=0, items=[]) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.total }} {{ ns.items }}", {}),
    ("{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}", {}),
    ("{% set a, b = [1, 2] %}{{ b }}{{ a }}{% set t = 1, 2 %}{{ t | join('+') }}", {}),
    ("{% set block %}  Hello {{ name }}  {% endset %}[{{ block }}]", {"name": "World"}),
    ("{% set block | trim | upper %}  Hello  {% endset %}[{{ block }}]", {}),
    ("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("{% set messages = messages[1:] %}{{ messages | length }}", {"messages": [1, 2, 3]}),
    ("{% set ns = namespace() %}{% set ns.found = false %}{% for m in msgs %}{% if m == 3 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}", {"msgs": [1, 3]}),
    ("{{ ns }}{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns.c is defined }}", {}),
    # loops
    ("{% for i in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }} {% endfor %}", {}),
    ("{% for i in [1, 2, 3] %}{{ loop.cycle('a', 'b') }}{{ loop.previtem | default('-') }}{{ loop.nextitem | default('-') }}{% endfor %}", {}),
    ("{% for i in [1, 2, 3, 4] if i is even %}{{ i }}/{{ loop.length }} {% endfor %}", {}),
    ("{% for i in [] %}x{% else %}empty{% endfor %}", {}),
    ("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}", {}),
    ("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}", {}),
    ("{% for row in [[1, 2], [3, 4]] %}{% for x in row %}{{ loop.depth }}{{ x }}{% endfor %}{{ loop.depth }}{% endfor %}", {}),
    ("{% for x in range(2, 9, 3) %}{{ x }}{% endfor %}|{{ range(3) | list }}|{% for x in range(3, 0, -1) %}{{ x }}{% endfor %}", {}),
    ("{% for a, b in [[1, 2], [3, 4]] %}{{ a * b }},{% endfor %}", {}),
    ("{% for i in [1, 2, 3] %}{% if loop.changed(i // 2) %}{{ i }}{% endif %}{% endfor %}", {}),
    ("{% for x in none %}{% endfor %}", {}),
    ("{% for x in undefined_thing %}x{% else %}nothing{% endfor %}", {}),
    # macros and calls
    ("{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}", {}),
    ("{% macro m(a) %}{{ a }}|{{ varargs | join(',') }}|{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k='v') }}", {}),
    ("{% macro m() %}{{ y }}{% endmacro %}{% set y = 3 %}{{ m() }}{% set y = 4 %}{{ m() }}", {}),
    ("{% macro render(v) %}{% if v is mapping %}{% for k, x in v.items() %}{{ k }}:{{ render(x) }};{% endfor %}{% else %}{{ v }}{% endif %}{% endmacro %}{{ render({'a': {'b': 1}, 'c': 2}) }}", {}),
    ("{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inner{% endcall %}", {}),
    ("{% macro list(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) list([1, 2]) %}[{{ x }}]{% endcall %}", {}),
    ("{% filter upper %}shout {{ 'this' }}{% endfilter %}", {}),
    ("{{ raise_exception('Custom failure: ' ~ 42) }}", {}),
    ("{{ dict(a=1, b='x') }} {{ dict({'z': 0}, y=1) }}", {}),
    # filters
    ("{{ '  pad  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'Hello' | upper }}|{{ 'Hello' | lower }}|{{ 'hello world' | capitalize }}|{{ 'hello-world foo(bar)' | title }}", {}),
    ("{{ [1, 2, 3] | length }} {{ 'héllo' | length }} {{ {'a': 1} | count }} {{ undefined_thing | length }}", {}),
    ("{{ undefined_thing | default('dflt') }}|{{ none | default('dflt') }}|{{ '' | default('dflt', true) }}|{{ 0 | d('zero', boolean=true) }}", {}),
    ("{{ [1, 2, 3] | join(', ') }}|{{ users | join(', ', attribute='name') }}|{{ [1, 'a', none] | join }}", {"users": [{"name": "ann"}, {"name": "bob"}]}),
    ("{{ {'b': 1, 'a': [1, 2]} | items | map('join', '=') | join(';') }}|{{ 'ab' | list }}|{{ {'x': 1, 'y': 2} | list }}", {}),
    ("{{ users | selectattr('active') | map(attribute='name') | list }}|{{ users | rejectattr('active') | map(attribute='name') | join }}", {"users": [{"name": "ann", "active": True}, {"name": "bob", "active": False}, {"name": "cy", "active": True}]}),
    ("{{ users | selectattr('role', 'equalto', 'admin') | list | length }}|{{ users | selectattr('role', 'in', ['x', 'admin']) | map(attribute='name') | first }}|{{ users | selectattr('missing', 'defined') | list }}", {"users": [{"name": "ann", "role": "admin"}, {"name": "bob", "role": "user"}]}),
    ("{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('even') | list }}|{{ [0, 1, '', 'a'] | select | list }}|{{ ['a', 'B'] | map('upper') | list }}", {}),
    ("{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort }}|{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ users | sort(attribute='age') | map(attribute='name') | join }}", {"users": [{"name": "a", "age": 30}, {"name": "b", "age": 20}, {"name": "c", "age": 20}]}),
    ("{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} {{ [] | first }} {{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }}", {}),
    ("{{ [1, 2, 1, 'A', 'a'] | unique | list }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ ['b', 'A'] | max }} {{ [1, 2, 3] | sum }} {{ items | sum(attribute='n') }}", {"items": [{"n": 1}, {"n": 2.5}]}),
    ("{{ {'b': 1, 'A': 2, 'c': 0} | dictsort | map('join', '=') | join(';') }}|{% for k, v in {'b': 1, 'a': 2} | dictsort(by='value', reverse=true) %}{{ k }}{{ v }}{% endfor %}", {}),
    ("{{ '42' | int }} {{ '3.9' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '0x1A' | int(base=16) }} {{ '2.5' | float }} {{ 'x' | float }} {{ 4 | float }}", {}),
    ("{{ -3 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | round(method='ceil') }} {{ 2.9 | round(0, 'floor') }} {{ 7 | round }}", {}),
    ("{{ 'a-b-c' | replace('-', '+') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 42 | string }} {{ [1] | string }} {{ 'x' | string | length }}", {}),
    ("{{ 'line1\\nline2\\n\\nline4' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent('> ', blank=true) }}", {}),
    ("{{ 'hi' | center(9) }}|{{ 'a long sentence to cut here' | truncate(12) }}|{{ 'abcdefghijklmnop' | truncate(9, true) }}|{{ 'one two  three' | wordcount }}", {}),
    ("{{ '<b>bold</b> &amp; text' | striptags }}|{{ '<a href=\"x\">&' | e }}|{{ '<i>' | safe }}|{{ 'x' | escape }}", {}),
    ("{{ {'a': 'x'} | attr('a') }}|{{ '%s-%s' | format('a', 'b') }}|{{ [1, 2, 3, 4, 5] | batch(2) | list }}|{{ [1, 2, 3, 4, 5] | batch(2, 0) | list }}|{{ [1, 2, 3, 4, 5] | slice(2) | list }}", {}),
    ("{{ undefined_thing | upper }}|{{ undefined_thing | list }}|{{ undefined_thing | join(',') }}|{{ undefined_thing | items | list }}|{{ undefined_thing | first }}", {}),
    # tojson
    ("{{ data | tojson }}", {"data": {"b": [1, 2.0, None, True], "a": "é \"q\" \\ \n\t/ <>&'", "e": "😀", "c": {}}}),
    ("{{ data | tojson(indent=2) }}", {"data": {"b": [1, [], {}, {"x": [1]}], "a": "é"}}),
    ("{{ data | tojson(sort_keys=true) }}|{{ data | tojson(separators=[',', ':']) }}|{{ data | tojson(true) }}", {"data": {"z": "ü😀", "a": [1, 2]}}),
    ("{{ 'text' | tojson }} {{ 1.5 | tojson }} {{ none | tojson }} {{ [1e20, 1e-7, 3.0] | tojson }} {{ '\\x01\\x7f\\u2028' | tojson }}", {}),
    ("{{ data | tojson(indent='\\t') }}", {"data": {"k": [1, "v"]}}),
    ("{{ undefined_thing | tojson }}", {}),
    # tests
    ("{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ none is none }} {{ x is none }} {{ 'a' is string }} {{ 1 is string }} {{ {} is mapping }} {{ [] is mapping }}", {"x": 1}),
    ("{{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is integer }} {{ true is boolean }} {{ false is false }} {{ true is true }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ [] is sequence }}", {}),
    ("{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 1 is eq 1 }} {{ 2 is gt 1 }} {{ 2 is lt 1 }} {{ 'a' is in 'cat' }} {{ none is sameas none }}", {}),
    ("{{ x is not none }} {{ not x is none }} {{ x is not defined }} {{ range is callable }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ 'nope' is filter }}", {"x": None}),
    # strings and methods
    ("{{ '  ab  '.strip() }}|{{ 'xxabxx'.strip('x') }}|{{ '  ab  '.lstrip() }}|{{ '  ab  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}", {}),
    ("{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} {{ 'hello world'.title() }} {{ 'hello'.capitalize() }} {{ 'aBc'.upper() }} {{ 'aBc'.lower() }} {{ 'aBc'.swapcase() }}", {}),
    ("{{ 'banana'.replace('a', 'o') }} {{ 'banana'.find('n') }} {{ 'banana'.rfind('n') }} {{ 'banana'.find('z') }} {{ 'banana'.count('a') }} {{ '-'.join(['a', 'b']) }} {{ 'x'.center(5, '*') }} {{ '7'.zfill(3) }}", {}),
    ("{{ 'a\\nb\\r\\nc'.splitlines() }} {{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ ' '.isspace() }} {{ 'key=val=x'.partition('=') | join('|') }} {{ 'key=val=x'.rpartition('=') | join('|') }} {{ 'abc'.partition('z') | list | length }}", {}),
    ("{{ 'Hello {}, {}!'.format('a', 'b') }} {{ '{0}{0}{name}'.format('x', name='y') }} {{ 'prefix_x'.removeprefix('prefix_') }} {{ 'x.txt'.removesuffix('.txt') }}", {}),
    ("{{ 'abcdef'[1] }} {{ 'abcdef'[-1] }} {{ 'abcdef'[1:3] }} {{ 'abcdef'[::2] }} {{ 'abcdef'[::-1] }} {{ [1, 2, 3, 4][1:] }} {{ [1, 2, 3, 4][:-1] }} {{ [1, 2, 3, 4][-2:] }} {{ [1, 2, 3][5:] }}", {}),
    ("{{ 'héllo wörld 😀'[1:4] }} {{ 'héllo'.upper() }} {{ 'ǅungla' | lower }} {{ 'straße' | upper }}", {}),
    ("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d['a'] }} {{ d.a }} {{ d.missing }}|{{ d['missing'] }}", {"d": {"a": 1, "b": 2}}),
    ("{{ [1, 2, 3].index(2) }} {{ [1, 1, 2].count(1) }} {{ items[0].name }} {{ items.0.name }} {{ items[-1]['name'] }}", {"items": [{"name": "first"}, {"name": "last"}]}),
    ("{{ d.items is defined }} {{ d['items'] }} {{ d.values is callable }}", {"d": {"items": "shadowed"}}),
    ("{{ none.attr }}|{{ 5.attr }}", {}),
    ("{% set d = {4096: 'a', 2.0: 'b', none: 'c'} %}{{ d }} {{ d[4096] }} {{ d[2] }} {{ 2 in d }} {{ d | tojson }} {% for k, v in d | dictsort(by='value') %}{{ k }};{% endfor %}", {}),
    # errors
    ("{{ undefined_thing.attr }}", {}),
    ("{{ undefined_thing + 1 }}", {}),
    ("{{ [1].append(2) }}", {}),
    ("{{ 'abc'.nosuchmethod() }}", {}),
    ("{% for x in 5 %}{% endfor %}", {}),
    ("{{ x | nosuchfilter }}", {"x": 1}),
    ("{% set ns = namespace(_secret=1) %}", {}),
    ("{% set a, b = [1] %}", {}),
]

SYNTAX_ERRORS = [
    "{% if true %}unclosed",
    "{% for x in y %}{% endif %}",
    "{{ 1 + }}",
    "{{ 'unterminated }}",
    "{% endfor %}",
    "{{ a b }}",
    "{% nosuchtag %}",
    "{{ (1, 2 }}",
    "line one\n{% if %}",
    "{# never closed",
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    templates = dict(TEMPLATES)
    templates["smollm2"] = (smollm2_template(sys.argv[1] if len(sys.argv) > 1 else None), "<|im_start|>", "<|im_end|>")
    expected = {}
    for name, (source, bos, eos) in sorted(templates.items()):
        (OUT / f"{name}.jinja").write_text(source)
        cases = []
        for conv in CONVERSATIONS:
            for gen in (False, True):
                case = {"conversation": conv["name"], "add_generation_prompt": gen}
                case.update(render(source, conv, gen, bos, eos))
                cases.append(case)
        expected[name] = {"bos_token": bos, "eos_token": eos, "cases": cases}

    def dump(path, value):
        path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n")

    dump(OUT / "conversations.json", CONVERSATIONS)
    dump(OUT / "expected.json", expected)

    features = []
    for source, ctx in FEATURES:
        entry = {"template": source, "context": ctx}
        try:
            entry["output"] = ENV.from_string(source).render(**ctx)
        except jinja2.exceptions.TemplateError as e:
            entry["raised" if type(e) is jinja2.exceptions.TemplateError else "error"] = f"{type(e).__name__}: {e}"
        except Exception as e:
            entry["error"] = f"{type(e).__name__}: {e}"
        features.append(entry)
    for source in SYNTAX_ERRORS:
        try:
            ENV.from_string(source)
            features.append({"template": source, "context": {}, "output": "unexpectedly parsed"})
        except jinja2.exceptions.TemplateSyntaxError as e:
            features.append({"template": source, "context": {}, "syntax_error": f"line {e.lineno}: {e.message}"})
    dump(OUT / "features.json", features)

    total = sum(len(v["cases"]) for v in expected.values())
    ok = sum(1 for v in expected.values() for c in v["cases"] if "output" in c)
    print(f"{len(templates)} templates, {total} renderings ({ok} rendered, {total - ok} raised), {len(features)} feature cases")


if __name__ == "__main__":
    main()
