"""Perplexity of one model on one text under several attention settings, with one model load.

For choosing defaults: each setting is a JSON object of `sampleattn.hf.register` options (alpha,
mode, window_ratio, alpha_correction, ...) with a "name"; the name "dense" is transformers' sdpa.
Prints perplexity, forward time, the NLL of each eighth of the text, and the sparse plans'
density (with --json, also into a results file). Texts: "code" / "prose" (e2e.py's), or
"files:A,B,..." (paths; relative ones are taken from Python's standard library), for texts no
default was chosen on.

    SAMPLEATTN_LIBRARY=build/libsampleattn.so.0 python bench/ppl_configs.py \\
        --model smollm2-135m --tokens 4096 --text files:typing.py,argparse.py \\
        '[{"name": "dense"}, {"name": "a0.95", "alpha": 0.95}, {"name": "paper", "alpha": 0.95, "alpha_correction": 0}]'
"""
import argparse
import json
import math
import pathlib
import sys
import sysconfig

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bindings" / "python"))   # this checkout's binding first
sys.path.insert(0, str(HERE))
import e2e  # noqa: E402


def load_text(spec):
    if spec == "code":
        return e2e.text_code()
    if spec == "prose":
        return e2e.text_prose()
    if not spec.startswith("files:"):
        raise SystemExit("--text: code, prose or files:A,B,...")
    std = pathlib.Path(sysconfig.get_paths()["stdlib"])
    return "\n\n".join((std / f).read_text(errors="replace") for f in spec[len("files:"):].split(","))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("settings", help="JSON list of {name, ...sampleattn.hf.register options}")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b", help="one of %s" % list(e2e.MODELS))
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--text", default="code")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="write the results here")
    a = ap.parse_args()
    import torch
    import sampleattn.hf as sahf
    torch.set_num_threads(a.threads)
    tok, model, _ = e2e.load_model(e2e.MODELS[a.model])
    ids = tok(load_text(a.text), return_tensors="pt").input_ids[:, :a.tokens]
    results = []
    for setting in json.loads(a.settings):
        options = dict(setting)
        name = options.pop("name")
        fn = None
        if name == "dense":
            model.set_attn_implementation("sdpa")
        else:
            fn = sahf.register("ppl_configs", record_stats=True, **options)
            model.set_attn_implementation("ppl_configs")
        nll, eighths, seconds = e2e.perplexity(model, ids)
        extra = ""
        if fn is not None:
            s = e2e.sparse_summary(fn)
            extra = (" density %.3f dense heads %.3f" % (s["density"], s["dense_head_share"])
                     if "density" in s else " (no sparse call: the prompt is below the integration's minimum)")
        print("%-24s ppl %.4f  fwd %4.0fs  |%s|%s" % (name, math.exp(nll), seconds,
                                                    " ".join("%.3f" % x for x in eighths), extra), flush=True)
        results.append({"setting": setting, "ppl": math.exp(nll), "nll": nll, "nll_by_eighth": eighths,
                        "forward_s": seconds, "sparse": e2e.sparse_summary(fn) if fn is not None else None})
        if a.json:   # after every setting, so a long run that is cut short keeps what it measured
            with open(a.json, "w") as f:
                json.dump({"command": " ".join(sys.argv), "model": a.model, "tokens": int(ids.shape[1]),
                           "text": a.text, "threads": a.threads, "machine": e2e.machine_info(),
                           "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
