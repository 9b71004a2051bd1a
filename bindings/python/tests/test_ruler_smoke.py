"""A small RULER smoke through sampleattn.hf (bench/ruler.py's tasks and runner) on SmolLM2-135M:
2K-token prompts of the needle and passage-QA tasks, dense (sdpa) vs SampleAttention at alpha
0.95 with the library's defaults, one-shot and in 512-token chunks through the KV cache.
Where dense answers a prompt fully, SampleAttention must too; dense must answer most prompts
(else the check says nothing). Needs what test_hf_smoke needs; skipped with the reason otherwise.
"""
import sys


from conftest import REPO
from test_hf_smoke import smollm  # noqa: F401  (the shared model fixture)

sys.path.insert(0, str(REPO / "bench"))

TASKS = ["niah_single", "qa"]
SEEDS = [0, 1]
LENGTH = 2048


def test_ruler_smoke(smollm):  # noqa: F811
    import ruler
    tok, model, _ = smollm
    prompts = ruler.make_prompts(tok, TASKS, [LENGTH], len(SEEDS))
    methods = ruler.register_methods(["dense", "sample"])
    results = {}
    try:
        for s in prompts:
            ids = ruler.prompt_ids(tok, s)
            assert LENGTH - 200 <= ids.shape[1] <= LENGTH, ids.shape
            for method, chunk in (("dense", 0), ("sample", 0), ("sample", 512)):
                impl, fn = methods[method]
                model.set_attn_implementation(impl)
                out = ruler.answer(model, tok, ids, chunk, new_tokens=16)
                results[(s["task"], s["seed"], method, chunk)] = ruler.rt.score(s, out)
                if fn is not None:
                    assert fn.calls > 0 and "decode" in fn.fallbacks    # prefill ran in the library
    finally:
        model.set_attn_implementation("sdpa")
        import sampleattn.hf as sahf
        for name, _ in methods.values():
            sahf.unregister(name)
    dense_ok = [(t, seed) for (t, seed, m, c), v in results.items() if m == "dense" and v == 1.0]
    assert len(dense_ok) >= 3, results
    missed = [(t, seed, c) for t, seed in dense_ok for c in (0, 512) if results[(t, seed, "sample", c)] < 1.0]
    assert not missed, results
