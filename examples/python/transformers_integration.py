#!/usr/bin/env python3
"""SampleAttention inside a Hugging Face transformers model: greedy generation from a long
prompt, once with transformers' sdpa attention and once with sampleattn (prefill only; the
decode steps fall back to sdpa).

    python examples/python/transformers_integration.py MODEL [--tokens 8192] [--new-tokens 48]

MODEL: a Hugging Face model directory, or a .gguf file (dequantized on load), e.g.
../realdata/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf. Fully offline (HF_HUB_OFFLINE=1).
Needs torch, transformers (>= 4.48; gguf for .gguf files). The prompt is real English text
(the Python reference manual's prose, shipped with CPython) followed by a question.
Library: $SAMPLEATTN_LIBRARY, else the repo's build, else the system.
"""
import argparse
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]

try:
    import torch
    import transformers  # noqa: F401
except ImportError:
    print("needs torch and transformers (pip install torch transformers gguf)")
    sys.exit(0)

try:
    import sampleattn
except ImportError:  # not pip-installed: use the source tree
    sys.path.insert(0, str(REPO / "bindings" / "python"))
    import sampleattn
if not os.environ.get("SAMPLEATTN_LIBRARY"):
    for candidate in (REPO / "build" / "libsampleattn.so.0",
                      REPO / ".build" / "release" / "libSampleAttnDynamic.so"):
        if candidate.exists():
            os.environ["SAMPLEATTN_LIBRARY"] = str(candidate)
            break
import sampleattn.hf  # noqa: E402


def load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    p = pathlib.Path(path)
    kw = {"gguf_file": p.name} if p.suffix == ".gguf" else {}
    where = p.parent if p.suffix == ".gguf" else p
    tok = AutoTokenizer.from_pretrained(where, **kw)
    # attn_implementation="sampleattn" works here once sampleattn.hf.register() has run; we load
    # with sdpa and switch below so that both attentions run on the same weights.
    model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32,
                                                 attn_implementation="sdpa", **kw)
    return tok, model.eval()


def prompt_ids(tok, n_tokens):
    from pydoc_data.topics import topics
    text = "\n\n".join(topics[k] for k in sorted(topics))
    question = ("\n\nIn two sentences: what do the sections above explain, and which Python "
                "statement is discussed last?")
    budget = n_tokens - len(tok(question).input_ids) - 32        # the chat template's tokens
    context = tok.decode(tok(text).input_ids[:budget])
    msgs = [{"role": "user", "content": context + question}]
    if tok.chat_template:
        s = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return tok(s, add_special_tokens=False, return_tensors="pt").input_ids
    return tok(context + question + "\nAnswer:", return_tensors="pt").input_ids


def generate(model, ids, new_tokens):
    """Greedy generation; returns (new token ids, time to first token, total seconds)."""
    first = []

    class FirstToken:     # a stopping criterion sees every step: the first call = prefill done
        def __call__(self, input_ids, scores, **kw):
            if not first:
                first.append(time.perf_counter())
            return torch.zeros(input_ids.shape[0], dtype=torch.bool)

    from transformers import StoppingCriteriaList
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                             do_sample=False, stopping_criteria=StoppingCriteriaList([FirstToken()]))
    total = time.perf_counter() - t0
    return out[0, ids.shape[1]:], first[0] - t0, total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="HF model directory or .gguf file")
    ap.add_argument("--tokens", type=int, default=8192, help="prompt length (default 8192)")
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--alpha", type=float, default=0.95)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(a.threads)

    # 1. register: attn_implementation="sampleattn" now exists for every model
    fn = sampleattn.hf.register("sampleattn", alpha=a.alpha, min_prefill=1024, record_stats=True)
    tok, model = load(a.model)
    ids = prompt_ids(tok, a.tokens)
    print("model %s, prompt %d tokens, library %s %s"
          % (model.config.model_type, ids.shape[1], sampleattn.version(), sampleattn.library_path()))

    texts = {}
    for impl in ("sdpa", "sampleattn"):
        # 2. switch a loaded model (or pass attn_implementation="sampleattn" to from_pretrained)
        model.set_attn_implementation(impl)
        fn.reset()
        new, ttft, total = generate(model, ids, a.new_tokens)
        texts[impl] = tok.decode(new, skip_special_tokens=True)
        print("\n[%s] time to first token %.1f s, %d tokens in %.1f s" % (impl, ttft, len(new), total))
        if impl == "sampleattn":
            kept = sum(s["kept_entries"] for s in fn.stats)
            causal = sum(s["causal_entries"] for s in fn.stats)
            print("  sampleattn prefill calls %d (density %.3f of causal), sdpa fallbacks %s"
                  % (fn.calls, kept / max(causal, 1), dict(fn.fallbacks)))
        print("  " + texts[impl].strip().replace("\n", "\n  "))
    print("\nidentical outputs" if texts["sdpa"] == texts["sampleattn"] else "\noutputs differ")


if __name__ == "__main__":
    main()
