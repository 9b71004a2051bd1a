#!/usr/bin/env python3
"""Passkey retrieval through llama.cpp built by examples/llama.cpp/build.sh.

A five-digit key is stated once inside a long stretch of repeated filler sentences, at a given
depth; the prompt ends by asking for it. Greedy decoding of a few tokens; a run passes when the
key's digits appear in the answer. Stock llama.cpp (`fa-on`), `dense` and `sample` answer the
same prompts; keys and depths are seeded, so runs are repeatable.

  python3 bench/llama_passkey.py --bin OUT_DIR/bin --model qwen.gguf --lengths 8192,16384
"""
import argparse
import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_cpp  # noqa: E402  (the runner and configurations of the timing script)

FILLER = ("The river runs past the mill. The hills stay quiet in the evening. "
          "A cart goes up the road and comes back down. Nothing else happens today. ")
QUESTION = "\n\nWhat is the pass key? The pass key is"


def prompt(n_tokens, depth, key, bytes_per_token):
    """About n_tokens of filler with the key stated at `depth` (0 = start, 1 = end)."""
    n_chars = int(n_tokens * bytes_per_token)
    filler = (FILLER * (n_chars // len(FILLER) + 1))[:n_chars]
    cut = filler.rfind(". ", 0, int(depth * n_chars)) + 2 if depth > 0 else 0
    needle = f"The pass key is {key}. Remember it: {key} is the pass key. "
    return ("There is a pass key hidden in the text below. Find it and remember it.\n\n"
            + filler[:cut] + needle + filler[cut:] + QUESTION)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    llama_cpp.add_runner_args(ap)
    ap.add_argument("--lengths", default="8192,16384", help="target prompt tokens")
    ap.add_argument("--depths", default="0.1,0.5,0.9")
    ap.add_argument("--configs", default="fa-on,dense,sample")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bytes-per-token", type=float, default=4.4,
                    help="the filler's bytes per token (Qwen2.5's tokenizer: about 4.4)")
    ap.add_argument("--out", default="bench/results/llama_cpp_passkey.json")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    lengths = [int(x) for x in args.lengths.split(",")]
    depths = [float(x) for x in args.depths.split(",")]
    configs = args.configs.split(",")
    work = tempfile.mkdtemp(prefix="llama_passkey_")
    runs = []
    for n in lengths:
        for depth in depths:
            key = rng.randrange(10000, 100000)
            path = os.path.join(work, f"passkey_{n}_{depth}.txt")
            with open(path, "w") as f:
                f.write(prompt(n, depth, key, args.bytes_per_token))
            for c in configs:
                seconds, tokens, text, summary = llama_cpp.completion(args, c, path, n + 256, n_predict=8)
                ok = str(key) in text
                runs.append({"length": n, "depth": depth, "key": key, "config": c, "tokens": tokens,
                             "answer": text.strip(), "pass": ok, "prompt_eval_s": seconds,
                             "sampleattn": summary})
                print(f"{n} depth {depth} {c}: {'pass' if ok else 'FAIL'} ({text.strip()!r})", flush=True)
                with open(args.out, "w") as f:
                    json.dump({"model": os.path.basename(args.model), "threads": args.threads,
                               "ubatch": args.ubatch, "alpha": args.alpha, "seed": args.seed,
                               "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv),
                               "runs": runs}, f, indent=2)
                    f.write("\n")
    for c in configs:
        mine = [r for r in runs if r["config"] == c]
        print(f"{c}: {sum(r['pass'] for r in mine)}/{len(mine)} passed")


if __name__ == "__main__":
    main()
