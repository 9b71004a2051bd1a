"""RULER-style evaluation through the Hugging Face integration (sampleattn.hf).

    python bench/ruler.py --model smollm2 --lengths 4096 --samples 10 \
        --methods dense,sample,paper,slash --prefill oneshot,512,2048 --json bench/results/ruler.json

Prompts come from bench/ruler_tasks.py (real text, seeded); ``--write-prompts F`` saves them as
JSON lines and ``--prompts F`` runs saved ones, so runs are repeatable. Each prompt is prefilled
one-shot or in chunks through the KV cache (``--prefill 512`` feeds 512-token chunks, as engines
do), then answered greedily; scores per task and overall, with the sample count and a 95% Wilson
interval of the fully correct samples.

Methods: dense (transformers' sdpa), sample (SampleAttention, library defaults, alpha 0.95),
paper (alpha_correction 0, max_diagonals 0, min_window 0, rank_prior_rows 0: the paper's rule and
mask), slash (the slash mode); METHOD@A runs a sparse method at alpha A (e.g. sample@0.97).
Models: GGUF files under $SAMPLEATTN_REALDATA/models (../realdata, made by
../shared/tools/get_real_models.sh), or --gguf PATH.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ruler_tasks as rt  # noqa: E402

REALDATA = Path(os.environ.get("SAMPLEATTN_REALDATA", HERE.parent.parent / "realdata"))
MODELS = {"smollm2": "models/SmolLM2-135M-Instruct.Q4_1.gguf",
          "qwen05b": "models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
          "qwen15b": "models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"}
METHODS = {"dense": None,
           "sample": dict(alpha=0.95),
           "paper": dict(alpha=0.95, alpha_correction=0, max_diagonals=0, min_window=0, rank_prior_rows=0,
                         sample_ratio=0.05),
           "slash": dict(mode="slash", alpha=0.95)}


def log(*a):
    print(*a, flush=True)


def load_model(gguf: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    return tok, model.eval()


def register_methods(names, min_prefill=2):
    """{method: (attn_implementation name, SampleAttentionFunction or None)}."""
    import sampleattn.hf as sahf
    out = {}
    for m in names:
        base, _, alpha = m.partition("@")
        if METHODS[base] is None:
            out[m] = ("sdpa", None)
        else:
            options = dict(METHODS[base], **({"alpha": float(alpha)} if alpha else {}))
            name = "ruler_" + m.replace("@", "_")
            out[m] = (name, sahf.register(name, min_prefill=min_prefill, record_stats=True, **options))
    return out


def prompt_ids(tok, sample):
    msgs = [{"role": "user", "content": sample["context"] + "\n\n" + sample["question"]}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    text += sample["answer_prefix"]
    return tok(text, add_special_tokens=False, return_tensors="pt").input_ids


def answer(model, tok, ids, chunk, new_tokens, top=0):
    """Greedy answer after a one-shot (chunk 0) or chunked prefill through the cache; with top > 0,
    also the first answer token's `top` largest logits as (token, logit) pairs."""
    import torch
    from transformers import DynamicCache
    extra = getattr(model.generation_config, "eos_token_id", None)
    eos = {tok.eos_token_id} | set(extra if isinstance(extra, (list, tuple)) else [extra])
    with torch.no_grad():
        cache = DynamicCache(config=model.config)
        step = chunk or ids.shape[1]
        for a in range(0, ids.shape[1], step):
            out = model(input_ids=ids[:, a:a + step], past_key_values=cache, use_cache=True,
                        logits_to_keep=1)
        first = out.logits[0, -1]
        nxt = out.logits[:, -1].argmax(-1)
        gen = [int(nxt)]
        for _ in range(new_tokens - 1):
            if gen[-1] in eos:
                break
            out = model(input_ids=nxt[:, None], past_key_values=cache, use_cache=True)
            nxt = out.logits[:, -1].argmax(-1)
            gen.append(int(nxt))
    text = tok.decode(gen, skip_special_tokens=True)
    if top:
        values, index = first.topk(top)
        return text, [(tok.decode([int(i)]), float(v)) for v, i in zip(values, index)]
    return text


def make_prompts(tok, tasks, lengths, samples, seed0=0):
    prose, code = rt.haystack_prose(), rt.haystack_code()
    words = rt.vocabulary(prose)

    def count(s):
        return len(tok(s, add_special_tokens=False).input_ids)
    # seed by seed, so that a run cut short has the same number of prompts of every task
    return [rt.make_sample(t, L, seed0 + i, prose, code, words, count)
            for L in lengths for i in range(samples) for t in tasks]


def summarize(rows):
    """{(length, prefill, method): {task: {...}, "overall": {...}}}, as a list of dicts."""
    groups = {}
    for r in rows:
        groups.setdefault((r["length"], r["prefill"], r["method"]), []).append(r)
    table = []
    for (L, prefill, method), rs in sorted(groups.items()):
        tasks = {}
        for t in sorted({r["task"] for r in rs}):
            tr = [r for r in rs if r["task"] == t]
            full = sum(r["score"] == 1.0 for r in tr)
            tasks[t] = dict(n=len(tr), score=100 * sum(r["score"] for r in tr) / len(tr),
                            correct=full, wilson95=rt.wilson(full, len(tr)))
        # overall: the mean of the task scores (RULER's average), and all samples pooled
        full = sum(r["score"] == 1.0 for r in rs)
        overall = dict(n=len(rs), score=sum(v["score"] for v in tasks.values()) / len(tasks),
                       correct=full, wilson95=rt.wilson(full, len(rs)))
        dens = [r["density"] for r in rs if r.get("density") is not None]
        table.append(dict(length=L, prefill=prefill, method=method, tasks=tasks, overall=overall,
                          mean_density=sum(dens) / len(dens) if dens else None))
    return table


def paired(rows, method, prefill, reference=("dense", "oneshot")):
    """Per task and overall, method's score minus the reference's on the same prompts: the mean
    difference in points, a normal 95% half-width of it, and the prompts lost / won (fully
    correct in one and not in the other)."""
    def key(r):
        return (r["task"], r["length"], r["seed"])
    ref = {key(r): r for r in rows if (r["method"], r["prefill"]) == reference}
    pairs = [(r, ref[key(r)]) for r in rows if (r["method"], r["prefill"]) == (method, prefill) and key(r) in ref]
    out = {}
    for task in sorted({r["task"] for r, _ in pairs}) + [None]:
        ps = [(a, b) for a, b in pairs if task is None or a["task"] == task]
        d = [100 * (a["score"] - b["score"]) for a, b in ps]
        mean = sum(d) / len(d)
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1)) if len(d) > 1 else float("nan")
        out[task or "overall"] = dict(
            n=len(d), diff=mean, half95=1.96 * sd / math.sqrt(len(d)),
            lost=sum(b["score"] == 1.0 and a["score"] < 1.0 for a, b in ps),
            won=sum(a["score"] == 1.0 and b["score"] < 1.0 for a, b in ps))
    return out


def report(result):
    """A markdown table of a result: scores per task and overall, and each sparse run against
    dense one-shot on the same prompts."""
    rows, lines = result["rows"], []
    tasks = sorted({r["task"] for r in rows})
    lines.append("| length | prefill | method | n | overall | vs dense (95%) | lost / won | density | "
                 + " | ".join(tasks) + " |")
    lines.append("|" + "---|" * (8 + len(tasks)))
    for t in result["summary"]:
        cmp = ("", "")
        if (t["method"], t["prefill"]) != ("dense", "oneshot"):
            p = paired([r for r in rows if r["length"] == t["length"]], t["method"], t["prefill"])
            if "overall" in p:
                o = p["overall"]
                cmp = ("%+.1f (+-%.1f)" % (o["diff"], o["half95"]), "%d / %d" % (o["lost"], o["won"]))
        dens = "" if t["mean_density"] is None else "%.3f" % t["mean_density"]
        lines.append("| %d | %s | %s | %d | %.1f | %s | %s | %s | " % (
            t["length"], t["prefill"], t["method"], t["overall"]["n"], t["overall"]["score"], *cmp, dens)
            + " | ".join("%.0f" % t["tasks"][k]["score"] if k in t["tasks"] else "" for k in tasks) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2", choices=sorted(MODELS))
    ap.add_argument("--gguf", type=Path, default=None)
    ap.add_argument("--lengths", default="4096")
    ap.add_argument("--tasks", default=",".join(rt.TASKS))
    ap.add_argument("--samples", type=int, default=10, help="prompts per task and length")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="dense,sample,paper,slash")
    ap.add_argument("--prefill", default="oneshot", help="comma list: oneshot and/or chunk sizes")
    ap.add_argument("--runs", default=None,
                    help="comma list of method:prefill pairs instead of every method x prefill "
                         "(e.g. dense:oneshot,sample:oneshot,sample:512)")
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--prompts", type=Path, default=None, help="run saved prompts (JSON lines)")
    ap.add_argument("--write-prompts", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "ruler.json")
    ap.add_argument("--report", type=Path, default=None,
                    help="print the markdown table of a result JSON and exit (no model is loaded)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the rows already in --json and run only the missing ones")
    args = ap.parse_args(argv)
    if args.report:
        print(report(json.loads(args.report.read_text())))
        return None

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    gguf = args.gguf or REALDATA / MODELS[args.model]
    tok, model = load_model(gguf)
    if args.prompts:
        prompts = [json.loads(line) for line in args.prompts.read_text().splitlines() if line.strip()]
    else:
        prompts = make_prompts(tok, args.tasks.split(","), [int(x) for x in args.lengths.split(",")],
                               args.samples, args.seed)
    if args.write_prompts:
        args.write_prompts.write_text("".join(json.dumps(p) + "\n" for p in prompts))
    if args.runs:
        pairs = [tuple(r.split(":")) for r in args.runs.split(",")]
    else:
        pairs = [(m, p) for p in args.prefill.split(",") for m in args.methods.split(",")]
    methods = register_methods(list(dict.fromkeys(m for m, _ in pairs)))
    runs = [(m, p, 0 if p == "oneshot" else int(p)) for m, p in pairs]   # (method, label, chunk)
    rows, t_start = [], time.time()
    if args.resume and args.json.exists():
        rows = json.loads(args.json.read_text())["rows"]
    done = {(r["task"], r["length"], r["seed"], r["prefill"], r["method"]) for r in rows}

    def write():
        """The JSON after every prompt, so a run cut short keeps what it measured."""
        result = dict(schema_version=1, model=str(gguf.name), command=" ".join(sys.argv),
                      machine=dict(cpu=platform.processor() or platform.machine(), nproc=os.cpu_count(),
                                   torch_threads=torch.get_num_threads()),
                      seconds=time.time() - t_start, summary=summarize(rows), rows=rows)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        return result

    for i, s in enumerate(prompts):
        ids = prompt_ids(tok, s)
        for m, prefill, chunk in runs:      # methods alternate prompt by prompt
            impl, fn = methods[m]
            if (s["task"], s["length"], s["seed"], prefill, m) in done:
                continue
            model.set_attn_implementation(impl)
            if fn is not None:
                fn.reset()
            t0 = time.perf_counter()
            out = answer(model, tok, ids, chunk, args.new_tokens)
            sec = time.perf_counter() - t0
            density = None
            if fn is not None and fn.stats:
                density = (sum(x["kept_entries"] for x in fn.stats)
                           / sum(x["causal_entries"] for x in fn.stats))
            rows.append(dict(task=s["task"], length=s["length"], seed=s["seed"], tokens=ids.shape[1],
                             prefill=prefill, method=m,
                             output=out, answers=s["answers"], score=rt.score(s, out),
                             seconds=sec, density=density,
                             fallbacks=dict(fn.fallbacks) if fn is not None else None))
            log("[%d/%d] %-16s %5d tok %-8s %-7s score %.2f %5.1fs  %r"
                % (i + 1, len(prompts), s["task"], ids.shape[1], rows[-1]["prefill"], m,
                   rows[-1]["score"], sec, out[:60]))
        write()
    model.set_attn_implementation("sdpa")
    result = write()
    for t in result["summary"]:
        log("%5d %-8s %-7s overall %.1f (n=%d, fully correct %d, 95%% [%.0f, %.0f])%s  %s" % (
            t["length"], t["prefill"], t["method"], t["overall"]["score"], t["overall"]["n"],
            t["overall"]["correct"], *t["overall"]["wilson95"],
            "" if t["mean_density"] is None else "  density %.3f" % t["mean_density"],
            " ".join("%s %.0f" % (k, v["score"]) for k, v in t["tasks"].items())))
    log("wrote", args.json)
    return result


if __name__ == "__main__":
    main()
