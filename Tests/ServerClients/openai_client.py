"""Drives a running Swiftlet server with the official `openai` package and checks the answers.

Run by Tests/SwiftletServerTests/ServerTests.swift against a server on loopback:
    python3 openai_client.py BASE_URL API_KEY MODEL
Exits non-zero (with the failed assertion) on the first wrong answer.
"""
import sys

import openai
import requests

base_url, api_key, model = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=1800)  # a hang guard, not a speed bound: the scalar level is slow
checks = []


def check(name):
    def wrap(f):
        checks.append((name, f))
        return f
    return wrap


@check("models")
def _():
    models = client.models.list()
    assert [m.id for m in models.data] == [model], models


@check("completion")
def _():
    r = client.completions.create(model=model, prompt="The capital of France is", max_tokens=8, temperature=0)
    assert r.object == "text_completion" and r.model == model
    assert len(r.choices) == 1 and r.choices[0].index == 0
    assert r.choices[0].finish_reason in ("length", "stop")
    assert r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 8
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # Greedy decoding is deterministic: the same request gives the same text.
    again = client.completions.create(model=model, prompt="The capital of France is", max_tokens=8, temperature=0)
    assert again.choices[0].text == r.choices[0].text, (again.choices[0].text, r.choices[0].text)


@check("completion with token-id prompt and echo")
def _():
    ids = [504, 3458, 282]
    r = client.completions.create(model=model, prompt=ids, max_tokens=4, temperature=0, echo=True)
    text = r.choices[0].text
    assert r.usage.prompt_tokens == 3, r.usage
    plain = client.completions.create(model=model, prompt=ids, max_tokens=4, temperature=0)
    assert text.endswith(plain.choices[0].text) and len(text) > len(plain.choices[0].text), (text, plain.choices[0].text)


@check("batch of prompts")
def _():
    r = client.completions.create(model=model, prompt=["One, two,", "Red, green,"], max_tokens=4, temperature=0, n=2)
    assert sorted(c.index for c in r.choices) == [0, 1, 2, 3], r.choices


@check("n=3 with a seed")
def _():
    kw = dict(model=model, prompt="Once upon a time", max_tokens=12, temperature=1.0, n=3, seed=1234)
    r = client.completions.create(**kw)
    assert sorted(c.index for c in r.choices) == [0, 1, 2]
    texts = [c.text for c in sorted(r.choices, key=lambda c: c.index)]
    assert len(set(texts)) > 1, texts  # sampled completions differ from each other
    again = client.completions.create(**kw)
    assert [c.text for c in sorted(again.choices, key=lambda c: c.index)] == texts  # but the seed repeats them
    other = client.completions.create(**{**kw, "seed": 99})
    assert [c.text for c in sorted(other.choices, key=lambda c: c.index)] != texts


@check("stop string")
def _():
    free = client.completions.create(model=model, prompt="1, 2, 3, 4,", max_tokens=16, temperature=0).choices[0].text
    stop = free.strip().split(" ")[1] if len(free.strip().split(" ")) > 1 else free.strip()[:2]
    r = client.completions.create(model=model, prompt="1, 2, 3, 4,", max_tokens=16, temperature=0, stop=[stop])
    c = r.choices[0]
    assert c.finish_reason == "stop", (free, stop, c)
    assert stop not in c.text and free.startswith(c.text), (free, stop, c.text)


@check("completion logprobs")
def _():
    r = client.completions.create(model=model, prompt="The sky is", max_tokens=5, temperature=0, logprobs=3)
    lp = r.choices[0].logprobs
    n = r.usage.completion_tokens
    assert len(lp.tokens) == n and len(lp.token_logprobs) == n and len(lp.top_logprobs) == n, lp
    for tok, value, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert value <= 0
        assert 3 <= len(top) <= 4, top
        # Greedy: the chosen token is the most likely one.
        assert abs(max(top.values()) - value) < 1e-4, (tok, value, top)
    assert "".join(lp.tokens) == r.choices[0].text


@check("streamed completion with usage")
def _():
    stream = client.completions.create(model=model, prompt="Tell me a story:", max_tokens=20, temperature=0, stream=True,
                                       stream_options={"include_usage": True})
    text, finish, usage, chunks = "", None, None, 0
    for ch in stream:
        chunks += 1
        if ch.usage:
            usage = ch.usage
        for c in ch.choices:
            text += c.text
            finish = c.finish_reason or finish
    whole = client.completions.create(model=model, prompt="Tell me a story:", max_tokens=20, temperature=0)
    assert text == whole.choices[0].text, (text, whole.choices[0].text)
    assert chunks > 3 and finish == whole.choices[0].finish_reason
    assert usage.completion_tokens == whole.usage.completion_tokens and usage.prompt_tokens == whole.usage.prompt_tokens


@check("chat")
def _():
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    r = client.chat.completions.create(model=model, messages=messages, max_tokens=24, temperature=0)
    m = r.choices[0].message
    assert r.object == "chat.completion" and m.role == "assistant" and len(m.content) > 0, r
    # The prompt is the model's own template around the messages, as /tokenize renders it.
    root = base_url.rsplit("/v1", 1)[0]
    rendered = requests.post(root + "/tokenize", json={"messages": messages}, headers={"Authorization": f"Bearer {api_key}"}).json()
    assert r.usage.prompt_tokens == rendered["count"] > len("What is the capital of France?".split()), (r.usage, rendered)
    text = requests.post(root + "/detokenize", json={"tokens": rendered["tokens"]}).json()["prompt"]
    assert "<|im_start|>user\nWhat is the capital of France?<|im_end|>" in text and text.endswith("<|im_start|>assistant\n"), text
    # Streaming gives the same reply.
    streamed = "".join(ch.choices[0].delta.content or "" for ch in client.chat.completions.create(
        model=model, messages=messages, max_tokens=24, temperature=0, stream=True) if ch.choices)
    assert streamed == m.content, (streamed, m.content)


@check("chat logprobs")
def _():
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hi."}], max_tokens=6,
                                       temperature=0, logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens, content
    for t in content:
        assert len(t.top_logprobs) == 2 and t.logprob <= 0
        assert bytes(t.bytes).decode("utf-8", "replace") == t.token
        assert abs(t.top_logprobs[0].logprob - t.logprob) < 1e-4


@check("streamed chat with usage, n=3")
def _():
    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Name a fruit."}], max_tokens=10,
                                            temperature=0.8, n=3, seed=7, stream=True, stream_options={"include_usage": True})
    texts, roles, finishes, usage = {}, {}, {}, None
    for ch in stream:
        assert ch.object == "chat.completion.chunk"
        if ch.usage:
            usage = ch.usage
        for c in ch.choices:
            if c.delta.role:
                roles[c.index] = c.delta.role
            texts[c.index] = texts.get(c.index, "") + (c.delta.content or "")
            if c.finish_reason:
                finishes[c.index] = c.finish_reason
    assert roles == {0: "assistant", 1: "assistant", 2: "assistant"}, roles
    assert sorted(finishes) == [0, 1, 2] and all(t for t in texts.values()), (texts, finishes)
    assert usage is not None and usage.completion_tokens > 0


@check("errors reach the client as exceptions")
def _():
    try:
        client.completions.create(model="no-such-model", prompt="x", max_tokens=1)
        raise AssertionError("unknown model accepted")
    except openai.BadRequestError as e:
        assert e.status_code == 400 and "no-such-model" in str(e)
    bad = openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0)
    try:
        bad.models.list()
        raise AssertionError("wrong key accepted")
    except openai.AuthenticationError as e:
        assert e.status_code == 401


failed = 0
for name, f in checks:
    try:
        f()
        print(f"ok   {name}")
    except Exception as e:  # report every check, then fail
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")
print(f"openai client checks: {len(checks) - failed} ok, {failed} failing")
sys.exit(1 if failed else 0)
