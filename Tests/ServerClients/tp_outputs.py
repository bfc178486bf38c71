"""Greedy completions with logprobs through a running server, for comparing tensor-parallel sizes.

`collect HOST PORT MAX_TOKENS OUT.json`: sends eight prompts at once (several sharing a prefix, so
the prefix cache serves them; the server under test has a KV cache small enough that they preempt
one another), and writes each completion's text, token logprobs and top-5 logprobs, with the
server's preemption count, to OUT.json.
`compare A.json B.json TOLERANCE`: the texts must be identical and every logprob within TOLERANCE.
Prints "ok" and exits 0 when every check held."""
import asyncio
import json
import re
import sys

from raw_http import request

PREFIX = "Once upon a time, in a small town by the sea, there lived a girl who loved to"
PROMPTS = [PREFIX + " sing.", PREFIX + " swim.", PREFIX + " paint pictures of boats.", "The cat sat",
           "Tom and Ben went to the park", PREFIX + " sing.", "Café au lait, naïve résumé:", "def add(a, b):\n   "]


async def collect(host, port, max_tokens, path):
    async def one(prompt):
        status, body = await request(host, port, "POST", "/v1/completions",
                                     {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "logprobs": 5,
                                      "ignore_eos": True})
        if status != 200:
            sys.exit(f"status {status}: {body[:300]!r}")
        choice = json.loads(body)["choices"][0]
        return {"text": choice["text"], "finish_reason": choice["finish_reason"],
                "token_logprobs": choice["logprobs"]["token_logprobs"], "top_logprobs": choice["logprobs"]["top_logprobs"]}

    # The engine is paused while the requests arrive, so that all of them are waiting when it
    # resumes, however fast it is: then the cache is short for them and they preempt one another.
    status, body = await request(host, port, "POST", "/pause")
    if status != 200:
        sys.exit(f"/pause: {status} {body[:200]!r}")
    tasks = [asyncio.create_task(one(p)) for p in PROMPTS]
    while True:
        _, stats = await request(host, port, "GET", "/engine/stats")
        if json.loads(stats)["num_requests_waiting"] == len(PROMPTS) or any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.01)
    await request(host, port, "POST", "/resume")
    outputs = await asyncio.gather(*tasks)
    _, metrics = await request(host, port, "GET", "/metrics")
    preemptions = sum(float(m) for m in re.findall(rb"^swiftlet:num_preemptions_total\{[^}]*\} (\S+)$", metrics, re.M))
    with open(path, "w") as f:
        json.dump({"outputs": outputs, "preemptions": preemptions}, f)
    print(f"{len(outputs)} completions, {preemptions:.0f} preemptions")


def compare(a_path, b_path, tolerance):
    a, b = json.load(open(a_path)), json.load(open(b_path))
    problems, worst = [], 0.0
    for i, (x, y) in enumerate(zip(a["outputs"], b["outputs"])):
        if x["text"] != y["text"]:
            problems.append(f"prompt {i}: texts differ:\n  {x['text']!r}\n  {y['text']!r}")
            continue
        for p, q in zip(x["token_logprobs"], y["token_logprobs"]):
            worst = max(worst, abs(p - q))
        for tx, ty in zip(x["top_logprobs"], y["top_logprobs"]):
            for token, lp in tx.items():
                if token in ty:
                    worst = max(worst, abs(lp - ty[token]))
                elif abs(lp - min(ty.values())) > tolerance:
                    problems.append(f"prompt {i}: top token {token!r} ({lp}) missing from the other run")
    if len(a["outputs"]) != len(b["outputs"]):
        problems.append("different numbers of completions")
    for name, run in (("first", a), ("second", b)):
        if run["preemptions"] <= 0:
            problems.append(f"the {name} run had no preemption: give its server a smaller KV cache")
    if worst > tolerance:
        problems.append(f"largest logprob difference {worst:.3g} > {tolerance}")
    print(f"largest logprob difference {worst:.3g}; preemptions {a['preemptions']:.0f} and {b['preemptions']:.0f}")
    print("\n".join(problems) if problems else "ok")
    sys.exit(1 if problems else 0)


if sys.argv[1] == "collect":
    asyncio.run(collect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
else:
    compare(sys.argv[2], sys.argv[3], float(sys.argv[4]))
