"""Chat template fixtures for Hugging Face model directories.

Gives the tiny Qwen2 family fixture (Tests/Fixtures/families/qwen2) Qwen2.5's chat template in
its tokenizer_config.json, as real Qwen2.5 checkpoints carry it, and records what transformers'
apply_chat_template renders and tokenizes for a few conversations, in chat.json beside it. The
server tests serve that directory and compare /tokenize and /v1/chat/completions with it.

Tool conversations (tools offered, an assistant's tool call, the tool's result) are recorded in
chat_tools.json, rendered with apply_chat_template(tools=...), for two templates:
  - qwen2: Qwen2.5's template (Hermes-style <tool_call> blocks);
  - mistral: the Mistral family fixture carries a Llama-3-style tokenizer (<|start_header_id|>,
    <|eot_id|>); it gets the chat template of meta-llama/Llama-3.2-1B-Instruct
    (Tests/Fixtures/templates/llama32.jinja: that model's tokenizer.chat_template, verbatim as
    its GGUF conversion bartowski/Llama-3.2-1B-Instruct-GGUF stores it, which is the
    tokenizer_config.json template of the Hugging Face repository). Its date comes from
    strftime_now unless `date_string` is passed, so the cases pass date_string.

Run after scripts/make_family_fixtures.py (which rewrites tokenizer_config.json).
Requirements: pip install transformers tokenizers jinja2
"""
import json
import os

from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, "Tests", "Fixtures", "families", "qwen2")
TEMPLATE = os.path.join(ROOT, "Tests", "Fixtures", "templates", "qwen25.jinja")
LLAMA_DIR = os.path.join(ROOT, "Tests", "Fixtures", "families", "mistral")
LLAMA_TEMPLATE = os.path.join(ROOT, "Tests", "Fixtures", "templates", "llama32.jinja")
DATE_STRING = "26 Jul 2024"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1}},
            "required": ["query"],
        },
    },
}


def call(id, name, arguments):
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


# Arguments are mappings here, as transformers' templates expect; the Swift tests also send them
# as JSON strings (OpenAI's form) and check that the server renders the same.
TOOL_CONVERSATIONS = [
    ("offered", [WEATHER, SEARCH], [{"role": "user", "content": "What's the weather in Paris?"}]),
    ("with_system", [WEATHER], [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Oslo?"},
    ]),
    ("round_trip", [WEATHER, SEARCH], [
        {"role": "user", "content": "Weather in Paris, in celsius?"},
        {"role": "assistant", "content": None,
         "tool_calls": [call("call_1", "get_weather", {"city": "Paris", "unit": "celsius"})]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
    ]),
]
# Llama 3.x's template refuses more than one call per assistant turn.
QWEN_ONLY = [
    ("parallel", [WEATHER], [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {"role": "assistant", "content": "Checking both.",
         "tool_calls": [call("call_a", "get_weather", {"city": "Paris"}), call("call_b", "get_weather", {"city": "Oslo"})]},
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "rain"},
    ]),
]

CONVERSATIONS = [
    [{"role": "user", "content": "Hello there!"}],
    [{"role": "system", "content": "You answer in one word."}, {"role": "user", "content": "Sky colour?"}],
    [
        {"role": "user", "content": "Count to three."},
        {"role": "assistant", "content": "One, two, three."},
        {"role": "user", "content": "Now backwards, with ünïcödé."},
    ],
]


def main():
    config_path = os.path.join(DIR, "tokenizer_config.json")
    with open(config_path) as f:
        config = json.load(f)
    with open(TEMPLATE) as f:
        config["chat_template"] = f.read()
    with open(config_path, "w") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")

    tok = AutoTokenizer.from_pretrained(DIR)
    cases = []
    for messages in CONVERSATIONS:
        for add_generation_prompt in (True, False):
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            cases.append({"messages": messages, "add_generation_prompt": add_generation_prompt, "text": text, "ids": ids})
    with open(os.path.join(DIR, "chat.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(cases)} cases")
    write_tool_cases(DIR, TOOL_CONVERSATIONS + QWEN_ONLY, {})

    with open(LLAMA_TEMPLATE) as f:
        set_template(LLAMA_DIR, f.read())
    write_tool_cases(LLAMA_DIR, TOOL_CONVERSATIONS, {"date_string": DATE_STRING})


def set_template(directory, template):
    config_path = os.path.join(directory, "tokenizer_config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["chat_template"] = template
    with open(config_path, "w") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_tool_cases(directory, conversations, kwargs):
    tok = AutoTokenizer.from_pretrained(directory)
    cases = []
    for name, tools, messages in conversations:
        for add_generation_prompt in (True, False):
            text = tok.apply_chat_template(messages, tools=tools, tokenize=False,
                                           add_generation_prompt=add_generation_prompt, **kwargs)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            cases.append({"name": name, "tools": tools, "messages": messages, "kwargs": kwargs,
                          "add_generation_prompt": add_generation_prompt, "text": text, "ids": ids})
    with open(os.path.join(directory, "chat_tools.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{os.path.basename(directory)}: {len(cases)} tool cases")


if __name__ == "__main__":
    main()
