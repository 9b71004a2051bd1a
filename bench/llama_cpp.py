#!/usr/bin/env python3
"""Prompt-eval time (time to first token) of llama.cpp built by examples/llama.cpp/build.sh.

Configurations, alternated within each round (the order rotates every round, so slow drift of
the machine spreads over all of them):
  fa-on    stock graph, llama.cpp's flash attention      (LLAMA_SA_MODE=off, -fa on)
  fa-off   stock graph, mul_mat + soft_max attention      (LLAMA_SA_MODE=off, -fa off)
  dense    libsampleattn exact attention for prefill      (LLAMA_SA_MODE=dense, -fa on)
  sample   SampleAttention, alpha --alpha                 (LLAMA_SA_MODE=sample, -fa on)
Each run is one llama-completion process on a prompt of real text cut to about the target length
(the token count llama.cpp reports is recorded), one generated token. Medians per length and
configuration, and every run, go to the JSON file.

  python3 bench/llama_cpp.py --bin OUT_DIR/bin --model qwen.gguf --lengths 4096,8192,16384,32768
"""
import argparse
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CONFIGS = {
    "fa-on": ("off", "on"),
    "fa-off": ("off", "off"),
    "dense": ("dense", "on"),
    "sample": ("sample", "on"),
}
PERF = re.compile(r"prompt eval time =\s*([0-9.]+) ms /\s*([0-9]+) tokens")


def default_text():
    """CPython's standard library sources, concatenated in a fixed order (real code text)."""
    import argparse as a
    lib = os.path.dirname(a.__file__)
    parts = []
    for path in sorted(glob.glob(os.path.join(lib, "*.py"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            parts.append(f.read())
    return "\n".join(parts)


def completion(args, config, prompt_file, n_ctx, n_predict=1):
    """One llama-completion process (greedy): prompt-eval seconds and tokens, the generated text,
    and the library's exit summary lines."""
    mode, fa = CONFIGS[config]
    env = dict(os.environ, LLAMA_SA_MODE=mode, LLAMA_SA_ALPHA=str(args.alpha))
    cmd = [os.path.join(args.bin, "llama-completion"), "-m", args.model, "-f", prompt_file,
           "-n", str(n_predict), "-c", str(n_ctx), "-b", str(args.batch), "-ub", str(args.ubatch),
           "-t", str(args.threads), "-fa", fa, "--temp", "0", "-no-cnv", "--no-display-prompt",
           "--no-warmup"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    m = PERF.search(p.stderr + p.stdout)
    if p.returncode != 0 or not m:
        sys.exit(f"{config}: llama-completion failed ({p.returncode}):\n{p.stderr[-3000:]}")
    summary = [line for line in p.stderr.splitlines() if "llama-sampleattn:" in line]
    return float(m.group(1)) / 1000.0, int(m.group(2)), p.stdout, summary


def add_runner_args(ap):
    """The options completion() reads: binaries, model, threads, batch sizes and alpha."""
    ap.add_argument("--bin", required=True, help="folder with llama-completion (build.sh OUT_DIR/bin)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--ubatch", type=int, default=512)
    ap.add_argument("--alpha", type=float, default=0.95)


def run_once(args, config, prompt_file, n_ctx):
    seconds, tokens, _, summary = completion(args, config, prompt_file, n_ctx)
    return seconds, tokens, summary


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def medians_of(runs, lengths, configs):
    """Per length and configuration: the median time, and its speed-up over the faster stock."""
    medians = {}
    for n in lengths:
        for c in configs:
            xs = [x["seconds"] for x in runs if x["length"] == n and x["config"] == c]
            if not xs:
                continue
            toks = [x["tokens"] for x in runs if x["length"] == n and x["config"] == c]
            medians.setdefault(str(n), {})[c] = {"median_s": statistics.median(xs), "runs": len(xs),
                                                 "tokens": toks[0],
                                                 "tokens_per_s": toks[0] / statistics.median(xs)}
    for row in medians.values():
        stock = [row[c]["median_s"] for c in ("fa-on", "fa-off") if c in row]
        for v in row.values():
            if stock:
                v["speedup_vs_faster_stock"] = min(stock) / v["median_s"]
    return medians


def write_results(args, bpt, runs, removed, lengths, configs):
    out = {"label": args.label, "model": os.path.basename(args.model), "threads": args.threads,
           "batch": args.batch, "ubatch": args.ubatch, "alpha": args.alpha, "rounds": args.rounds,
           "machine": cpu_model(), "logical_cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
           "bytes_per_token": bpt, "command": " ".join(sys.argv),
           "medians": medians_of(runs, lengths, configs), "runs": runs}
    if removed:   # runs taken out by hand, each with the reason
        out["removed_runs"] = removed
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_runner_args(ap)
    ap.add_argument("--text", help="prompt text file (default: CPython's stdlib sources)")
    ap.add_argument("--lengths", default="4096,8192,16384,32768", help="target prompt tokens")
    ap.add_argument("--configs", default="fa-on,fa-off,dense,sample")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bytes-per-token", type=float, default=3.6,
                    help="first guess of the text's bytes per token; a calibration run corrects it")
    ap.add_argument("--label", default="", help="free text stored in the JSON (e.g. 'smoke test')")
    ap.add_argument("--out", default="bench/results/llama_cpp_prefill.json")
    ap.add_argument("--resume", action="store_true",
                    help="keep the runs already in --out (same prompts) and do only the missing ones")
    args = ap.parse_args()

    if args.text:
        with open(args.text, encoding="utf-8", errors="replace") as f:
            text = f.read()
    else:
        text = default_text()
    lengths = [int(x) for x in args.lengths.split(",")]
    configs = args.configs.split(",")
    for c in configs:
        if c not in CONFIGS:
            sys.exit(f"unknown config {c}; known: {', '.join(CONFIGS)}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    work = tempfile.mkdtemp(prefix="llama_cpp_prompts_")

    def write_prompts(bpt):
        paths = {}
        for n in lengths:
            paths[n] = os.path.join(work, f"prompt_{n}.txt")
            with open(paths[n], "w", encoding="utf-8") as f:
                f.write(text[: int(n * bpt)])
        return paths

    runs, removed = [], []
    if args.resume and os.path.exists(args.out):
        with open(args.out) as f:
            previous = json.load(f)
        runs, bpt = previous["runs"], previous["bytes_per_token"]
        removed = previous.get("removed_runs", [])
    else:
        # Calibration (not recorded, also warms the page cache): the text's bytes per token.
        prompts = write_prompts(args.bytes_per_token)
        _, tokens, _ = run_once(args, configs[0], prompts[lengths[0]], 2 * lengths[0] + 64)
        bpt = len(text[: int(lengths[0] * args.bytes_per_token)]) / tokens
    prompts = write_prompts(bpt * 0.995)
    done = {(x["round"], x["length"], x["config"]) for x in runs}
    for r in range(args.rounds):
        for n in lengths:
            order = configs[r % len(configs):] + configs[: r % len(configs)]
            for c in order:
                if (r, n, c) in done:
                    continue
                seconds, tokens, summary = run_once(args, c, prompts[n], n + 64)
                runs.append({"round": r, "length": n, "config": c, "seconds": seconds,
                             "tokens": tokens, "sampleattn": summary})
                print(f"round {r} length {n} {c}: {seconds:.2f} s for {tokens} tokens", flush=True)
                # Written after every run: a long sweep that is cut short keeps what it measured.
                write_results(args, bpt, runs, removed, lengths, configs)

    shutil.rmtree(work)
    print(json.dumps(medians_of(runs, lengths, configs), indent=2))


if __name__ == "__main__":
    main()
