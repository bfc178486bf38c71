#!/usr/bin/env python3
"""Hugging Face transformers anchor for `swiftlet bench throughput`.

Loads the same GGUF file with transformers (dequantized, then cast to bf16), and generates
OUTPUT_LEN tokens greedily for batches of random INPUT_LEN-token prompts, EOS ignored (every
sequence generates exactly OUTPUT_LEN tokens). Prints output tokens per second of wall time,
prefill included, like the engine benchmark.

Needs: pip install torch transformers gguf accelerate
"""
import argparse
import os
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="path to a GGUF file")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--num-prompts", type=int, default=64, help="total prompts (a multiple of --batch)")
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    directory, name = os.path.split(os.path.abspath(args.model))
    t0 = time.time()
    kwargs = {}
    try:
        # Recent transformers can keep GGUF blocks packed and compute from them; the anchor is the
        # plain dense bf16 model, so ask for every weight to be unpacked at load time.
        from transformers import GgufConfig
        kwargs["quantization_config"] = GgufConfig(gguf_file=name, dequantize=True)
    except ImportError:
        pass  # older versions always dequantize GGUF files
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.bfloat16, **kwargs)
    weight = next(p for n, p in model.named_parameters() if n.endswith("q_proj.weight"))
    assert weight.dtype == torch.bfloat16, f"weights are {weight.dtype}, not bf16"
    model.eval()
    print(f"loaded {name} in {time.time() - t0:.1f} s (bf16, {args.threads} threads, torch {torch.__version__})", flush=True)

    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(args.seed)
    prompts = torch.randint(100, vocab, (args.num_prompts, args.input_len), generator=gen)
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0

    def run(batch):
        with torch.inference_mode():
            return model.generate(
                input_ids=batch, attention_mask=torch.ones_like(batch), max_new_tokens=args.output_len,
                min_new_tokens=args.output_len, do_sample=False, pad_token_id=pad)

    run(prompts[:2, :16])  # warm-up, untimed
    out_tokens = 0
    start = time.time()
    for i in range(0, args.num_prompts, args.batch):
        batch = prompts[i:i + args.batch]
        out = run(batch)
        out_tokens += (out.shape[1] - batch.shape[1]) * batch.shape[0]
        print(f"  batch {i // args.batch + 1}: {out_tokens / (time.time() - start):.1f} output tok/s so far", flush=True)
    elapsed = time.time() - start
    print(f"HF transformers bf16 batch {args.batch}: {args.num_prompts} requests x ({args.input_len} prompt, "
          f"{args.output_len} output) in {elapsed:.1f} s: {out_tokens / elapsed:.1f} output tokens/s")


if __name__ == "__main__":
    main()
