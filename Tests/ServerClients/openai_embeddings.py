"""Calls POST /v1/embeddings of a running Swiftlet server through the official `openai` package
and compares the vectors with sentence-transformers' (Tests/Fixtures/embeddings).

Run by Tests/SwiftletServerTests/EmbeddingsRouteTests.swift:
    python3 openai_embeddings.py BASE_URL API_KEY MODEL FIXTURE_JSON
Prints one line per check and exits non-zero if any failed.
"""
import base64
import json
import math
import struct
import sys

import openai

base_url, api_key, model, fixture_path = sys.argv[1:5]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=1800)  # a hang guard, not a speed bound: the scalar level is slow
with open(fixture_path, encoding="utf-8") as f:
    fixture = json.load(f)
cases = fixture["cases"]


def reference(case):
    raw = base64.b64decode(case["embedding_f16"])
    return [struct.unpack("<e", raw[i:i + 2])[0] for i in range(0, len(raw), 2)]


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


results = []


def check(name, condition, detail=""):
    results.append((name, bool(condition), detail))


# The client's default: it asks for base64 and decodes the float32 bytes itself.
texts = [c["text"] for c in cases]
r = client.embeddings.create(model=model, input=texts)
check("one embedding per input, in order", [d.index for d in r.data] == list(range(len(texts))))
check("response shape", r.object == "list" and r.model == model and all(d.object == "embedding" for d in r.data))
worst = min(cosine(d.embedding, reference(c)) for d, c in zip(r.data, cases))
check(f"{len(cases)} embeddings (base64) match sentence-transformers", worst > 0.9999, f"lowest cosine {worst:.7f}")
tokens = sum(len(c["token_ids"]) for c in cases)
check("usage counts the input tokens", r.usage.prompt_tokens == tokens and r.usage.total_tokens == tokens,
      f"{r.usage.prompt_tokens} vs {tokens}")

floats = client.embeddings.create(model=model, input=texts[:5], encoding_format="float")
check("float and base64 encodings agree",
      all(max(abs(x - y) for x, y in zip(a.embedding, b.embedding)) < 1e-6 for a, b in zip(floats.data, r.data[:5])))
check("dimensions", all(len(d.embedding) == fixture["dimensions"] for d in floats.data))

single = client.embeddings.create(model=model, input=texts[3])
check("a single string", len(single.data) == 1 and cosine(single.data[0].embedding, reference(cases[3])) > 0.9999)

ids = client.embeddings.create(model=model, input=cases[7]["token_ids"])
check("a list of token ids", len(ids.data) == 1 and cosine(ids.data[0].embedding, reference(cases[7])) > 0.9999)
lists = client.embeddings.create(model=model, input=[c["token_ids"] for c in cases[:4]])
check("a list of token-id lists", len(lists.data) == 4 and all(
    cosine(d.embedding, reference(c)) > 0.9999 for d, c in zip(lists.data, cases[:4])))

try:
    client.embeddings.create(model=model, input=[])
    check("empty input refused", False, "accepted")
except openai.BadRequestError as e:
    check("empty input refused", e.status_code == 400 and e.body.get("param") == "input", str(e))
try:
    client.embeddings.create(model="no-such-model", input="x")
    check("unknown model refused", False, "accepted")
except openai.BadRequestError as e:
    check("unknown model refused", e.status_code == 400 and "no-such-model" in str(e), str(e))

failed = 0
for name, ok, detail in results:
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    failed += not ok
print(f"openai embeddings checks: {len(results) - failed} ok, {failed} failing")
sys.exit(1 if failed else 0)
