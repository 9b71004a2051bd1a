#!/usr/bin/env python3
"""End-to-end evaluation: SampleAttention inside a Hugging Face transformers model on CPU.

    SAMPLEATTN_LIBRARY=build/libsampleattn.so.0 python bench/e2e.py            # full run
    python bench/e2e.py --quick                                                # flow check, minutes
    make e2e                                                                   # the full run

Methods: "dense" = transformers' own sdpa attention; "sa0.95" / "sa0.80" = sampleattn.hf with
alpha 0.95 / 0.80 (prefill only; decode steps use sdpa). Every attention function is wrapped by
a timer, so each forward pass reports how much of its time the attention calls took.

(a) Perplexity: one forward pass per (text, length) over real text from the beginning (code:
    CPython standard-library modules; prose: the Python reference manual's prose topics shipped
    in pydoc_data). The model's base forward runs once; the LM head and the cross-entropy are
    applied in chunks (at 16K tokens the full float32 logits of Qwen would be 10 GB); the result
    is exactly the loss `labels=input_ids` would give.
(b) Needle in a haystack: a passkey sentence ("The secret passkey is NNNNN. Remember it.") at
    depths 10..90% of English filler text (pydoc_data prose, another order than (a)), inside the
    model's chat template, followed by the question, and the assistant's turn started with "The
    secret passkey is"; greedy decoding of a few tokens; correct if the number appears in them.
    The passkey is a fixed pseudo-random 5-digit number per (length, depth), the same for every
    method.
(c) Time to first token: the prefill forward of (b) (logits of the last position only, plus the
    argmax) per method, the median over the depths, and the attention calls' share of it.
Methods run side by side for every cell (rotating the order), because the machine is shared.

Writes a table to stdout and JSON (default bench/results/e2e.json).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# This checkout's binding, not an older copy installed in the environment (an installed 0.1.0
# without the integration's defaults once made a run sample 5% of the rows instead of 10%).
sys.path.insert(0, str(REPO / "bindings" / "python"))
REALDATA = Path(os.environ.get("SAMPLEATTN_REALDATA", REPO.parent / "realdata"))

MODELS = {
    "qwen2.5-coder-0.5b": {
        "gguf": "models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "hf_cache": "hf/qwen05b",          # a dequantized copy (optional, faster to load)
        "max_ctx": 32768,
        "ppl": [8192, 16384], "needle": [4096, 8192, 16384],
    },
    "smollm2-135m": {
        "gguf": "models/SmolLM2-135M-Instruct.Q4_1.gguf",
        "hf_cache": None,
        "max_ctx": 8192,
        "ppl": [4096, 8192], "needle": [4096, 8192],
    },
}
CODE_FILES = ["tarfile.py", "shutil.py", "threading.py", "configparser.py", "difflib.py",
              "enum.py", "ast.py", "email/message.py"]
NEEDLE = "The secret passkey is {key}. Remember it."
QUESTION = ("What is the secret passkey mentioned in the text above? "
            "Answer with the number only.")
ANSWER_PREFIX = "The secret passkey is"     # starts the assistant's turn


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------- texts
def text_code() -> str:
    std = sysconfig.get_paths()["stdlib"]
    return "\n\n".join("### file: Lib/%s\n%s" % (n, Path(std, n).read_text(encoding="utf-8"))
                       for n in CODE_FILES)


def text_prose(reverse=False) -> str:
    from pydoc_data.topics import topics
    return "\n\n".join(topics[k] for k in sorted(topics, reverse=reverse))


# ---------------------------------------------------------------- models
def load_model(spec):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = REALDATA / spec["hf_cache"] if spec["hf_cache"] else None
    if cache is not None and (cache / "config.json").exists():
        tok = AutoTokenizer.from_pretrained(cache)
        model = AutoModelForCausalLM.from_pretrained(cache, dtype=torch.float32)
        source = str(cache)
    else:
        gguf = REALDATA / spec["gguf"]
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                     dtype=torch.float32)
        source = str(gguf)
    return tok, model.eval(), source


class Timed:
    """An attention function wrapped with a wall-clock timer (summed over calls)."""

    def __init__(self, fn):
        self.fn, self.seconds, self.calls = fn, 0.0, 0

    def reset(self):
        self.seconds, self.calls = 0.0, 0

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1


def install_methods(alphas, min_prefill):
    """{method: (attn_implementation name, Timed, SampleAttentionFunction or None)}."""
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    import sampleattn.hf as sahf
    methods = {}
    timed = Timed(sdpa_attention_forward)
    AttentionInterface.register("e2e_dense", timed)
    AttentionMaskInterface.register("e2e_dense", sdpa_mask)
    methods["dense"] = ("e2e_dense", timed, None)
    for a in alphas:
        name = "e2e_sa%.2f" % a
        fn = sahf.register(name, alpha=a, min_prefill=min_prefill, record_stats=True)
        timed = Timed(fn)
        AttentionInterface.register(name, timed)     # same name, timed; mask builder stays
        methods["sa%.2f" % a] = (name, timed, fn)
    return methods


def sparse_summary(fn):
    """Density and dense-head share over the sampleattn calls since the last reset."""
    if fn is None or not fn.stats:
        return {}
    kept = sum(s["kept_entries"] for s in fn.stats)
    causal = sum(s["causal_entries"] for s in fn.stats)
    heads = sum(s["n_heads"] for s in fn.stats)
    dense_heads = sum(s["n_dense_heads"] for s in fn.stats)
    return {"density": kept / causal if causal else None,
            "dense_head_share": dense_heads / heads if heads else None,
            "cra_estimate": statistics.fmean(s["cra_estimate"] for s in fn.stats),
            "sa_calls": fn.calls, "fallbacks": dict(fn.fallbacks)}


def use(model, methods, method):
    name, timed, fn = methods[method]
    model.set_attn_implementation(name)
    timed.reset()
    if fn is not None:
        fn.reset()
    return timed, fn


# ---------------------------------------------------------------- (a) perplexity
def perplexity(model, ids, chunk=1024, buckets=8):
    """(nll per predicted token, mean nll of each 1/buckets of the positions, base forward
    seconds): one forward of the base model, then the LM head + cross-entropy in chunks (the
    same value as the model's loss with labels=ids)."""
    import torch
    import torch.nn.functional as F
    with torch.no_grad():
        t0 = time.perf_counter()
        hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state[0]
        fwd = time.perf_counter() - t0
        n = ids.shape[1] - 1
        nll = torch.empty(n)
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            logits = model.lm_head(hidden[s:e]).float()
            nll[s:e] = F.cross_entropy(logits, ids[0, s + 1:e + 1], reduction="none")
    parts = [float(x.mean()) for x in nll.double().chunk(buckets)]
    return float(nll.double().mean()), parts, fwd


def rotated(methods, rotate):
    order = list(methods)
    k = rotate[0] % len(order)
    rotate[0] += 1
    return order[k:] + order[:k]


def run_ppl(model, tok, methods, lengths, texts, rotate, rows, save):
    for kind, text in texts.items():
        all_ids = tok(text, return_tensors="pt").input_ids
        for L in lengths:
            if all_ids.shape[1] < L:
                raise SystemExit("%s text has only %d tokens (< %d)" % (kind, all_ids.shape[1], L))
            ids = all_ids[:, :L]
            for method in rotated(methods, rotate):
                timed, fn = use(model, methods, method)
                nll, parts, fwd = perplexity(model, ids)
                row = {"text": kind, "length": L, "method": method, "nll": nll,
                       "ppl": math.exp(nll), "nll_by_eighth": parts, "forward_s": fwd,
                       "attention_s": timed.seconds, "attention_share": timed.seconds / fwd}
                row.update(sparse_summary(fn))
                rows.append(row)
                save()
                log("  ppl %-5s %6d %-7s ppl %8.4f  fwd %6.1fs  attn %5.1f%%%s"
                    % (kind, L, method, row["ppl"], fwd, 100 * row["attention_share"],
                       "  density %.3f" % row["density"] if row.get("density") else ""))
    return rows


# ---------------------------------------------------------------- (b, c) needle + TTFT
def needle_prompt(tok, filler_ids, length, depth, key):
    """input ids of a chat prompt of ~length tokens with the passkey at `depth` of the filler."""
    def encode(filler):
        msgs = [{"role": "user", "content": filler + "\n\n" + QUESTION}]
        s = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        s += ANSWER_PREFIX
        return tok(s, add_special_tokens=False, return_tensors="pt").input_ids

    needle = "\n" + NEEDLE.format(key=key) + "\n"
    overhead = encode(needle).shape[1]
    n_fill = length - overhead
    filler = tok.decode(filler_ids[:n_fill])
    pos = int(depth * len(filler))
    nl = filler.find("\n", pos)                 # insert at a line boundary near the depth
    if nl != -1 and nl - pos < 2000:
        pos = nl
    ids = encode(filler[:pos] + needle + filler[pos:])
    for _ in range(3):                          # decode/encode round trips may shift a few tokens
        if ids.shape[1] <= length:
            break
        n_fill -= ids.shape[1] - length
        filler = tok.decode(filler_ids[:n_fill])
        pos = min(pos, len(filler))
        ids = encode(filler[:pos] + needle + filler[pos:])
    return ids, pos / max(len(filler), 1)


def greedy(model, ids, new_tokens, eos_ids, timed):
    """(generated ids, prefill seconds, attention seconds of the prefill, decode seconds): the
    prefill computes only the last position's logits; decode steps reuse the KV cache."""
    import torch
    with torch.no_grad():
        t0 = time.perf_counter()
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        nxt = out.logits[:, -1].argmax(-1)
        prefill = time.perf_counter() - t0
        attn = timed.seconds
        gen = [int(nxt)]
        cache = out.past_key_values
        t1 = time.perf_counter()
        for _ in range(new_tokens - 1):
            if gen[-1] in eos_ids:
                break
            out = model(input_ids=nxt[:, None], past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1)
            gen.append(int(nxt))
        decode = time.perf_counter() - t1
    return gen, prefill, attn, decode


def run_needle(model, tok, methods, lengths, depths_for, new_tokens, max_ctx, seed, rotate, rows,
               save):
    filler_ids = tok(text_prose(reverse=True)).input_ids
    eos_ids = {i for i in [tok.eos_token_id, getattr(model.generation_config, "eos_token_id", None)]
               if isinstance(i, int)}
    gen_eos = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(gen_eos, (list, tuple)):
        eos_ids.update(gen_eos)
    for L in lengths:
        target = min(L, max_ctx - new_tokens)
        for depth in depths_for(L):
            key = random.Random("%s/%d/%g" % (seed, L, depth)).randint(10000, 99999)
            ids, real_depth = needle_prompt(tok, filler_ids, target, depth, key)
            for method in rotated(methods, rotate):
                timed, fn = use(model, methods, method)
                gen, prefill, attn, decode = greedy(model, ids, new_tokens, eos_ids, timed)
                text = tok.decode(gen, skip_special_tokens=True)
                row = {"length": L, "n_tokens": int(ids.shape[1]), "depth": depth,
                       "depth_actual": round(real_depth, 4), "method": method, "passkey": key,
                       "output": text, "correct": str(key) in text, "prefill_s": prefill,
                       "decode_s": decode, "new_tokens": len(gen),
                       "attention_s": attn}
                row.update(sparse_summary(fn))
                rows.append(row)
                save()
                log("  needle %6d d=%.1f %-7s %-4s ttft %6.1fs attn %4.1f%%  %r"
                    % (ids.shape[1], depth, method, "OK" if row["correct"] else "MISS", prefill,
                       100 * attn / prefill, text))
    return rows


# ---------------------------------------------------------------- reporting
def pct(a, b):
    return 100.0 * (a - b) / b


def summarize(results, methods):
    """Tables (list of lines), the list of every cell where a SampleAttention run differs from
    dense, and the target verdicts."""
    lines, diffs = [], []
    sa = [m for m in methods if m != "dense"]
    targets = {"ppl_within_1pct_at_0.95": True, "needle_equal_at_0.95": True,
               "ttft_better_at_16k_0.95": None}
    for model_name, res in results.items():
        lines.append("")
        lines.append("== %s (%s)" % (model_name, res["source"]))
        # (a) perplexity
        lines.append("(a) perplexity (one forward pass; % = vs dense; density = kept share of "
                     "the causal attention entries)")
        hdr = "  %-6s %6s  %10s" % ("text", "tokens", "dense")
        for m in sa:
            hdr += "  %18s %7s" % (m + " (diff)", "density")
        lines.append(hdr)
        ppl = {(r["text"], r["length"], r["method"]): r for r in res["ppl"]}
        for text, L in sorted({(r["text"], r["length"]) for r in res["ppl"]}):
            if any((text, L, m) not in ppl for m in methods):
                continue
            d = ppl[(text, L, "dense")]["ppl"]
            s = "  %-6s %6d  %10.4f" % (text, L, d)
            for m in sa:
                r = ppl[(text, L, m)]
                p = pct(r["ppl"], d)
                r["diff_pct"] = p
                s += "  %9.4f (%+6.2f%%) %7.3f" % (r["ppl"], p, r.get("density") or float("nan"))
                diffs.append("ppl %s %s %d %s: %.4f vs dense %.4f (%+.2f%%)"
                             % (model_name, text, L, m, r["ppl"], d, p))
                if m == "sa0.95" and abs(p) > 1.0:
                    targets["ppl_within_1pct_at_0.95"] = False
            lines.append(s)
        # (b) needle
        lines.append("(b) needle retrieval (+ found, - missed, by depth)")
        nd = {}
        for r in res["needle"]:
            nd.setdefault((r["length"], r["method"]), []).append(r)
        lengths = sorted(L for L in {r["length"] for r in res["needle"]}
                         if len({len(nd.get((L, m), [])) for m in methods}) == 1)
        for L in lengths:
            s = "  %6d %-14s" % (L, ",".join("%d%%" % round(100 * r["depth"]) for r in
                                           sorted(nd[(L, "dense")], key=lambda r: r["depth"])))
            for m in methods:
                rs = sorted(nd[(L, m)], key=lambda r: r["depth"])
                s += "  %s %s %d/%d" % (m, "".join("+" if r["correct"] else "-" for r in rs),
                                       sum(r["correct"] for r in rs), len(rs))
            lines.append(s)
            dense_rows = {r["depth"]: r for r in nd[(L, "dense")]}
            for m in sa:
                for r in nd[(L, m)]:
                    dr = dense_rows[r["depth"]]
                    if r["correct"] != dr["correct"]:
                        diffs.append("needle %s %d depth %d%% %s: %s (dense %s)"
                                     % (model_name, L, round(100 * r["depth"]), m,
                                        "found" if r["correct"] else "MISSED",
                                        "found" if dr["correct"] else "missed"))
                        if m == "sa0.95":
                            targets["needle_equal_at_0.95"] = False
                    elif r["output"] != dr["output"]:
                        diffs.append("needle %s %d depth %d%% %s: same verdict, other text %r "
                                     "(dense %r)" % (model_name, L, round(100 * r["depth"]), m,
                                                     r["output"], dr["output"]))
        tot = {m: [r["correct"] for L in lengths for r in nd[(L, m)]] for m in methods}
        lines.append("  all     " + "  ".join("%s %d/%d" % (m, sum(v), len(v))
                                               for m, v in tot.items()))
        # (c) TTFT
        lines.append("(c) time to first token, median over the needle prompts (s); attention "
                     "share of the prefill; speedup vs dense")
        res["ttft"] = []
        for L in lengths:
            s = "  %6d" % L
            for m in methods:
                rs = nd[(L, m)]
                t = statistics.median(r["prefill_s"] for r in rs)
                share = statistics.median(r["attention_s"] / r["prefill_s"] for r in rs)
                ratios = [dr["prefill_s"] / r["prefill_s"] for r, dr in
                          zip(sorted(rs, key=lambda r: r["depth"]),
                              sorted(nd[(L, "dense")], key=lambda r: r["depth"]))]
                sp = statistics.median(ratios)
                res["ttft"].append({"length": L, "method": m, "ttft_s": t,
                                    "attention_share": share, "speedup_vs_dense": sp})
                s += "  %s %7.1fs attn %4.1f%% x%.2f" % (m, t, 100 * share, sp)
                if m == "sa0.95" and L >= 16384:
                    ok = sp > 1.0
                    targets["ttft_better_at_16k_0.95"] = (ok if targets["ttft_better_at_16k_0.95"]
                                                          is None else
                                                          targets["ttft_better_at_16k_0.95"] and ok)
            lines.append(s)
        # (c') the no-cache base forward passes of (a)
        fw = {}
        for r in res["ppl"]:
            fw.setdefault((r["length"], r["method"]), []).append(r)
        if fw:
            lines.append("(c') forward pass of (a) (no cache, no LM head), median over the texts (s); "
                         "attention share")
        for L in sorted({L for L, _ in fw}):
            if any((L, m) not in fw for m in methods):
                continue
            dense_t = statistics.median(r["forward_s"] for r in fw[(L, "dense")])
            s = "  %6d" % L
            for m in methods:
                t = statistics.median(r["forward_s"] for r in fw[(L, m)])
                share = statistics.median(r["attention_share"] for r in fw[(L, m)])
                s += "  %s %7.1fs attn %4.1f%% x%.2f" % (m, t, 100 * share, dense_t / t)
            lines.append(s)
    return lines, diffs, targets


def merge(old, results):
    """Adds the rows of an earlier run (`old`, a parsed e2e.json) to `results`, except cells this
    run measured again; returns the earlier run's command(s)."""
    for name, res_old in old["results"].items():
        res = results.setdefault(name, {"source": res_old["source"], "config": res_old["config"],
                                        "ppl": [], "needle": []})
        for part, key in (("ppl", ("text", "length", "method")),
                          ("needle", ("length", "depth", "method"))):
            have = {tuple(r[k] for k in key) for r in res[part]}
            res[part] = [r for r in res_old[part] if tuple(r[k] for k in key) not in have] \
                + res[part]
        res["merged_config"] = res_old["config"]
    return old.get("commands") or [old.get("command")]


def machine_info():
    import torch
    import transformers
    import sampleattn
    info = {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpu": platform.processor(), "nproc": os.cpu_count(), "torch": torch.__version__,
            "transformers": transformers.__version__, "sampleattn": sampleattn.version(),
            "library": sampleattn.library_path(), "binding": str(Path(sampleattn.__file__).parent),
            "torch_threads": torch.get_num_threads()}
    try:
        info["cpu"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                           if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        info["git"] = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    try:
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help="comma list of %s" % list(MODELS))
    ap.add_argument("--alphas", default="0.95,0.80")
    ap.add_argument("--depths", default="0.1,0.3,0.5,0.7,0.9")
    ap.add_argument("--long-depths", default="",
                    help="other depths for needle lengths > 8192 (to save time); '' = --depths")
    ap.add_argument("--ppl-lengths", default=None, help="override the models' perplexity lengths")
    ap.add_argument("--needle-lengths", default=None, help="override the models' needle lengths")
    ap.add_argument("--merge", default=None,
                    help="an earlier e2e.json: its rows are kept unless this run redoes the same "
                         "cell (e.g. to add depths or lengths), and the tables cover both")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=8)
    ap.add_argument("--min-prefill", type=int, default=2048)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: ppl,needle")
    ap.add_argument("--quick", action="store_true",
                    help="flow check: SmolLM2 only, 2048/3072 tokens, depths 0.1,0.9")
    ap.add_argument("--json", default=str(HERE / "results" / "e2e.json"))
    a = ap.parse_args()

    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    alphas = [float(x) for x in a.alphas.split(",") if x]
    depths = [float(x) for x in a.depths.split(",") if x]
    long_depths = [float(x) for x in a.long_depths.split(",") if x] or depths
    models = {k: dict(MODELS[k]) for k in a.models.split(",") if k}
    for spec in models.values():
        if a.ppl_lengths is not None:
            spec["ppl"] = [int(x) for x in a.ppl_lengths.split(",") if x]
        if a.needle_lengths is not None:
            spec["needle"] = [int(x) for x in a.needle_lengths.split(",") if x
                              and int(x) <= spec["max_ctx"]]
    if a.quick:
        models = {"smollm2-135m": dict(MODELS["smollm2-135m"], ppl=[2048], needle=[3072])}
        depths = long_depths = [0.1, 0.9]

    def depths_for(L):
        return long_depths if L > 8192 else depths

    skip = set(x for x in a.skip.split(",") if x)
    t_start = time.time()
    methods = install_methods(alphas, a.min_prefill)
    results = {}
    out = {"schema_version": 1, "created": datetime.datetime.now().isoformat(timespec="seconds"),
           "command": " ".join(sys.argv), "complete": False, "machine": machine_info(),
           "results": results}
    json_path = Path(a.json)
    json_path.parent.mkdir(parents=True, exist_ok=True)

    def save():
        out["elapsed_s"] = time.time() - t_start
        json_path.write_text(json.dumps(out, indent=1))

    for name, spec in models.items():
        t0 = time.time()
        tok, model, source = load_model(spec)
        log("%s: loaded %s in %.0fs" % (name, source, time.time() - t0))
        cfg = {"ppl_lengths": spec["ppl"], "needle_lengths": spec["needle"],
               "needle_depths": {L: depths_for(L) for L in spec["needle"]}, "alphas": alphas,
               "threads": a.threads, "new_tokens": a.new_tokens, "min_prefill": a.min_prefill,
               "max_ctx": spec["max_ctx"]}
        res = results[name] = {"source": source, "config": cfg, "ppl": [], "needle": []}
        rotate = [0]
        if "ppl" not in skip:
            run_ppl(model, tok, methods, spec["ppl"], {"code": text_code(), "prose": text_prose()},
                    rotate, res["ppl"], save)
        if "needle" not in skip:
            run_needle(model, tok, methods, spec["needle"], depths_for, a.new_tokens,
                       spec["max_ctx"], name, rotate, res["needle"], save)
        res["elapsed_s"] = time.time() - t0
        log("%s: done in %.0fs" % (name, res["elapsed_s"]))
        del model
        save()
    if a.merge:
        out["commands"] = merge(json.loads(Path(a.merge).read_text()), results) + [out["command"]]
        save()
    lines, diffs, targets = summarize(results, list(methods))
    out.update(complete=True, table=lines, differences=diffs, targets=targets)
    save()
    print("\n".join(lines))
    print("\ncells where SampleAttention differs from dense:")
    print("\n".join("  " + d for d in diffs) if diffs else "  (none)")
    print("\ntargets:", json.dumps(targets))
    print("total %.0f s" % out["elapsed_s"])
    print("wrote", a.json)


if __name__ == "__main__":
    main()
