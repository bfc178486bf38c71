#!/usr/bin/env python3
"""Record reference values for Swiftlet's sampler and beam search tests.

Two fixtures, written under Tests/Fixtures/reference/:

* sampling.json (`--sampling`, needs torch only, seconds): random rows of logits with a token
  history and sampling parameters, and for each the logits after logit bias and the repetition,
  frequency and presence penalties, and the final distribution after temperature, top-k, top-p
  and min-p. The rules are written here independently, following the semantics of vLLM's
  sampler (bias, min_tokens mask and penalties on raw logits; then temperature; top-k and top-p
  on the sorted row, top-p over the top-k renormalised distribution, keeping the smallest prefix
  whose mass reaches top_p; then min-p against the most likely token). Computed in float64.

* beam_search.json (`--beam`, needs torch + transformers + gguf, about a minute): Hugging Face
  transformers' beam search (`generate(num_beams=W, num_return_sequences=W,
  output_scores=True, return_dict_in_generate=True)`) on stories260K in fp32, for 5 prompts, beam
  widths 2, 4 and 6, and several length_penalty / early_stopping settings (most with "." as the
  end-of-sequence token, see BEAM_SETTINGS). Each case records every
  returned sequence's generated token ids and its `sequences_scores` value (the length-normalised
  score). EOS is the model's EOS id; do_sample=False; no other logits processors are active
  (repetition_penalty 1, no min_length, no bad words; the model's own generation config is
  replaced by an explicit one).

Usage:

    python3 scripts/make_sampling_fixtures.py --sampling --beam
    python3 scripts/make_sampling_fixtures.py --beam --stories /path/to/stories260K.gguf

The model is loaded by scripts/make_reference_fixtures.py's `load` (a sanitised temporary copy of
the GGUF, every tensor dequantized to fp32, eager attention), the same as the greedy fixtures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_DIR = os.path.join(REPO_ROOT, "Tests", "Fixtures", "reference")
DEFAULT_STORIES = "/work/shared/models/stories260K.gguf"


# --------------------------------------------------------------------------
# Sampling controls
# --------------------------------------------------------------------------

def penalised(torch, logits, prompt, output, p):
    """Logits after the min_tokens mask, logit bias and penalties (float64)."""
    x = logits.clone()
    vocab = x.shape[0]
    if len(output) < p["min_tokens"]:
        for t in p["stop_token_ids"]:
            x[t] = float("-inf")
    for t, b in p["logit_bias"].items():
        x[int(t)] += b
    seen = torch.zeros(vocab, dtype=torch.bool)
    for t in prompt + output:
        seen[t] = True
    r = p["repetition_penalty"]
    factor = torch.where(seen, torch.tensor(r, dtype=x.dtype), torch.tensor(1.0, dtype=x.dtype))
    x = torch.where(x > 0, x / factor, x * factor)
    counts = torch.zeros(vocab, dtype=x.dtype)
    for t in output:
        counts[t] += 1
    x = x - p["frequency_penalty"] * counts - p["presence_penalty"] * (counts > 0).to(x.dtype)
    return x


def filtered_distribution(torch, x, p):
    """Probabilities after temperature, top-k, top-p and min-p (float64)."""
    x = x / p["temperature"]
    ascending, order = torch.sort(x)
    n = x.shape[0]
    k = p["top_k"]
    if 0 < k < n:
        kth = ascending[n - k]
        ascending = ascending.masked_fill(ascending < kth, float("-inf"))
    if p["top_p"] < 1:
        probs = torch.softmax(ascending, dim=0)
        mass_up_to = torch.cumsum(probs, dim=0)
        drop = mass_up_to <= 1 - p["top_p"]
        drop[-1] = False
        ascending = ascending.masked_fill(drop, float("-inf"))
    y = torch.empty_like(x)
    y[order] = ascending
    probs = torch.softmax(y, dim=0)
    if p["min_p"] > 0:
        probs = torch.where(probs < p["min_p"] * probs.max(), torch.zeros_like(probs), probs)
        probs = probs / probs.sum()
    return probs


def sampling_cases(torch):
    g = torch.Generator().manual_seed(1234)
    base = dict(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0, presence_penalty=0.0,
                frequency_penalty=0.0, logit_bias={}, min_tokens=0, stop_token_ids=[])
    settings = [
        ("temperature only", 50, dict(temperature=0.7)),
        ("top-k 5", 50, dict(top_k=5)),
        ("top-k 12 hot", 50, dict(top_k=12, temperature=1.6)),
        ("top-p 0.8", 50, dict(top_p=0.8)),
        ("top-p 0.5 cool", 50, dict(top_p=0.5, temperature=0.6)),
        ("min-p 0.1", 50, dict(min_p=0.1)),
        ("min-p 0.02 hot", 50, dict(min_p=0.02, temperature=1.5)),
        ("top-k 20 + top-p 0.9", 50, dict(top_k=20, top_p=0.9)),
        ("top-k + top-p + min-p", 50, dict(top_k=30, top_p=0.95, min_p=0.05, temperature=0.9)),
        ("repetition 1.3", 50, dict(repetition_penalty=1.3)),
        ("repetition 0.8", 50, dict(repetition_penalty=0.8, top_k=10)),
        ("presence + frequency", 50, dict(presence_penalty=0.7, frequency_penalty=0.4)),
        ("negative presence/frequency", 50, dict(presence_penalty=-0.5, frequency_penalty=-0.3, top_p=0.9)),
        ("bias", 50, dict(logit_bias={"3": 5.0, "17": -100.0, "40": 1.5})),
        ("everything", 50, dict(logit_bias={"8": 2.0}, repetition_penalty=1.2, presence_penalty=0.3,
                                 frequency_penalty=0.2, top_k=25, top_p=0.85, min_p=0.03, temperature=0.8)),
        ("min_tokens masks stops", 50, dict(min_tokens=10, stop_token_ids=[2, 7])),
        ("wide top-p 0.95", 1000, dict(top_p=0.95, temperature=1.2)),
        ("wide top-k 300 + top-p", 1000, dict(top_k=300, top_p=0.9)),
        ("wide min-p", 1000, dict(min_p=0.2, temperature=2.0)),
    ]
    cases = []
    for name, vocab, over in settings:
        p = dict(base)
        p.update(over)
        scale = 1.0 if vocab > 100 else 2.0
        logits = torch.randn(vocab, generator=g, dtype=torch.float64) * scale
        logits = logits.to(torch.float32).to(torch.float64)  # exactly representable in float32
        prompt = torch.randint(0, vocab, (12,), generator=g).tolist()
        output = torch.randint(0, vocab, (8,), generator=g).tolist()
        output += output[:3]  # repeats, so counts above 1 occur
        x = penalised(torch, logits, prompt, output, p)
        probs = filtered_distribution(torch, x, p)
        # Ten significant digits are far below what the tests resolve and keep the file small.
        cases.append(dict(name=name, logits=logits.tolist(), prompt=prompt, output=output, params=p,
                          processed=[float(f"{v:.10g}") if v != float("-inf") else None for v in x.tolist()],
                          probs=[float(f"{v:.10g}") for v in probs.tolist()]))
    return cases


def write_sampling():
    import torch
    out = os.path.join(FIXTURE_DIR, "sampling.json")
    data = dict(generator="scripts/make_sampling_fixtures.py --sampling", cases=sampling_cases(torch))
    with open(out, "w") as f:
        json.dump(data, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out}: {len(data['cases'])} cases")


# --------------------------------------------------------------------------
# Beam search
# --------------------------------------------------------------------------

BEAM_PROMPTS = [
    "Once upon a time",
    "Lily wanted to play",
    "The big dog ran to the park and",
    "Tom had a red ball.",
    "One day, a little bird",
]

# (width, length_penalty, early_stopping, max_new_tokens, end). stories260K hardly ever emits EOS
# within a few dozen tokens, so most settings end sequences at a full stop instead
# (eos_token_id = the id of "."): hypotheses then finish at different lengths, which is what
# length_penalty and early_stopping act on.
BEAM_SETTINGS = [
    (2, 1.0, False, 24, "eos"),
    (4, 1.0, False, 24, "eos"),
    (6, 1.0, False, 24, "eos"),
    (2, 1.0, False, 40, "."),
    (4, 1.0, False, 40, "."),
    (6, 1.0, False, 40, "."),
    (4, 0.0, "never", 40, "."),
    (4, 2.0, True, 40, "."),
    (6, -0.5, False, 40, "."),
    (2, 1.5, "never", 40, "."),
    (6, 1.0, True, 40, "."),
    (6, 0.5, "never", 40, "."),
]


def write_beam(stories):
    import tempfile
    import torch
    from transformers import GenerationConfig
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from make_reference_fixtures import load  # the same fp32, dequantized, eager-attention model
    torch.manual_seed(0)
    torch.set_num_threads(2)
    workdir = tempfile.TemporaryDirectory()
    tokenizer, model, _ = load(stories, workdir.name)
    full_stop = tokenizer.convert_tokens_to_ids(".")
    assert isinstance(full_stop, int) and full_stop != tokenizer.unk_token_id, full_stop
    cases = []
    for width, lp, early, max_new, end in BEAM_SETTINGS:
        eos = tokenizer.eos_token_id if end == "eos" else full_stop
        for prompt in BEAM_PROMPTS:
            ids = tokenizer(prompt, return_tensors="pt").input_ids
            config = GenerationConfig(num_beams=width, num_return_sequences=width, do_sample=False,
                                      length_penalty=lp, early_stopping=early, max_new_tokens=max_new,
                                      eos_token_id=eos, pad_token_id=eos, bos_token_id=tokenizer.bos_token_id,
                                      output_scores=True, return_dict_in_generate=True)
            with torch.no_grad():
                out = model.generate(ids, generation_config=config)
            prompt_len = ids.shape[1]
            beams = []
            for seq, score in zip(out.sequences.tolist(), out.sequences_scores.tolist()):
                gen = seq[prompt_len:]
                # Sequences shorter than the longest are padded with EOS after their own EOS.
                if eos in gen:
                    gen = gen[: gen.index(eos) + 1]
                beams.append(dict(tokens=gen, score=score))
            cases.append(dict(prompt=prompt, prompt_ids=ids[0].tolist(), width=width, length_penalty=lp,
                              early_stopping=early if isinstance(early, str) else bool(early),
                              max_new_tokens=max_new, eos=eos, ends_at_model_eos=end == "eos", beams=beams))
            print(f"width {width} lp {lp} early {early}: {prompt!r} -> {beams[0]['score']:.4f}", file=sys.stderr)
    out_path = os.path.join(FIXTURE_DIR, "beam_search.json")
    with open(out_path, "w") as f:
        json.dump(dict(model="stories260K fp32", generator="scripts/make_sampling_fixtures.py --beam", cases=cases), f)
        f.write("\n")
    print(f"wrote {out_path}: {len(cases)} cases")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sampling", action="store_true", help="write sampling.json")
    ap.add_argument("--beam", action="store_true", help="write beam_search.json")
    ap.add_argument("--stories", default=DEFAULT_STORIES, help="path of stories260K.gguf")
    args = ap.parse_args()
    if not (args.sampling or args.beam):
        ap.error("choose --sampling and/or --beam")
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    if args.sampling:
        write_sampling()
    if args.beam:
        write_beam(args.stories)


if __name__ == "__main__":
    main()
