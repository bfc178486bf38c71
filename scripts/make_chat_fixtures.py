"""Chat template fixture for a Hugging Face model directory.

Gives the tiny Qwen2 family fixture (Tests/Fixtures/families/qwen2) Qwen2.5's chat template in
its tokenizer_config.json, as real Qwen2.5 checkpoints carry it, and records what transformers'
apply_chat_template renders and tokenizes for a few conversations, in chat.json beside it. The
server tests serve that directory and compare /tokenize and /v1/chat/completions with it.

Run after scripts/make_family_fixtures.py (which rewrites tokenizer_config.json).
Requirements: pip install transformers tokenizers jinja2
"""
import json
import os

from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, "Tests", "Fixtures", "families", "qwen2")
TEMPLATE = os.path.join(ROOT, "Tests", "Fixtures", "templates", "qwen25.jinja")

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


if __name__ == "__main__":
    main()
