"""Where SampleAttention's mask loses a RULER answer: whose rows, and what they lose.

    python bench/ruler_mask.py --model qwen05b --length 8192 --cases qa/4,qa/8,niah_multikey/8 \
        --variants dense,sample,needle_exact --json bench/results/ruler_mask.json

For each case (task/seed of bench/ruler_tasks.py, the prompts bench/ruler.py runs) the model is
prefilled through the library (the `sample` method of bench/ruler.py: alpha 0.95, the HF
integration's options) and answered greedily. In every layer, the call holding the question
(the last prefill call) is measured against float64 attention computed here:
- tail_cra: the mean share of the dense mass of the question's rows (the tokens after the
  context: question, chat template, answer prefix) that the plan's mask keeps; body_cra the same
  for 64 rows evenly spread over the rest of the call;
- answer_dense / answer_kept: the question rows' mean dense mass on the tokens of the sentences
  holding the expected answers, and the part of it the mask keeps;
- needle_cra: the same share for the rows of the inserted needles or facts (distractors
  included), and needle_dropped_on_needles: the share of their dropped mass on needle tokens.

Variants, each changing the attention of some rows only:
- `dense` (the library's exact attention), `dense_bf16` (the same in bfloat16 precision),
  `sample` (SampleAttention), `alpha:A`, `ratio:R` (SampleAttention at alpha A, at a
  sample_ratio R instead of the integration's 0.1), `layers:A-B`
  (SampleAttention in layers A..B-1, exact attention in the others);
- `tail_exact`, `needle_exact`: the question's rows, the needles' rows exact;
- `tail_alpha`: the question's rows over the mask plus the last 16 rows' own stripes to alpha;
- `needle_columns`, `group_floor:F`, `tail_columns:F`, `block_estimate:K`: the needles' and
  question's rows over a widened mask (Probe.masked_rows).
Each row also has the first answer token's largest logits, to tell a lost answer from a
marginal one.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ruler  # noqa: E402
import ruler_tasks as rt  # noqa: E402

LAST_GROUP = 16       # rows whose own stripes tail_alpha adds (one sampled group of the library)
KEY_BLOCK = 64        # block_estimate's row and key blocks
BODY_ROWS = 64


def softmax_rows(q: np.ndarray, k: np.ndarray, pos: np.ndarray, scale: float) -> np.ndarray:
    """Exact causal softmax of rows q (r, d) at positions pos over keys k (s_k, d), float64."""
    logits = (q.astype(np.float64) @ k.astype(np.float64).T) * scale
    logits[np.arange(k.shape[0])[None, :] > pos[:, None]] = -np.inf
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def attend(weights: np.ndarray, v: np.ndarray):
    """Rows of attention output from unnormalized weights over the keys, as a float32 tensor."""
    import torch
    w = weights / weights.sum(axis=1, keepdims=True)
    return torch.from_numpy((w @ v.astype(np.float64)).astype(np.float32))


def own_stripes(p_last: np.ndarray, m_last: np.ndarray, alpha: float) -> np.ndarray:
    """Columns the last rows need, heaviest first, until their own kept mass reaches alpha."""
    kept = float((p_last * m_last).sum())
    target = alpha * p_last.shape[0]
    if kept >= target:
        return np.zeros(0, dtype=np.int64)
    missing = (p_last * ~m_last).sum(axis=0)
    order = np.argsort(-missing, kind="stable")
    need = np.searchsorted(np.cumsum(missing[order]), target - kept) + 1
    return order[:need]


class Probe:
    """An attention function for transformers: the library's SampleAttention (as bench/ruler.py's
    `sample`, or the variant's options), measured, and with the variant's rows' outputs
    replaced (see the module's docstring)."""

    def __init__(self, options, n_prompt: int, tail: int, answer_tokens: np.ndarray, needle_tokens: np.ndarray,
                 variant: str):
        self.options, self.n_prompt, self.tail = options, n_prompt, tail
        self.answer_tokens, self.needle_tokens, self.variant = answer_tokens, needle_tokens, variant
        self.kind, _, self.arg = variant.partition(":")     # e.g. ("alpha", "0.97")
        self.sparse_layers = range(10 ** 6)
        if self.kind == "layers":
            a, b = self.arg.split("-")
            self.sparse_layers = range(int(a), int(b))
        self.layers = []
        self.kept_entries = self.causal_entries = self.block_entries = 0
        self.widened_needle_cra = []    # the needle rows' kept share over masked_rows' widened mask
        self.extra_columns = []

    def call_options(self, layer: int):
        if self.kind == "dense" or layer not in self.sparse_layers:
            return dict(self.options, mode="dense")
        if self.kind == "alpha":
            return dict(self.options, alpha=float(self.arg))
        if self.kind == "ratio":
            return dict(self.options, sample_ratio=float(self.arg))
        if self.kind == "dense_bf16":
            return dict(self.options, mode="dense", precision="bfloat16")
        return self.options

    def needles_in(self, offset: int, s_q: int) -> np.ndarray:
        """The needle tokens among the call's rows (positions offset ... offset + s_q - 1)."""
        return self.needle_tokens[(self.needle_tokens >= offset) & (self.needle_tokens < offset + s_q)]

    def __call__(self, module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        import torch
        import sampleattn
        b, h_q, s_q, d = query.shape
        s_k = key.shape[2]
        scale = scaling if scaling is not None else 1 / math.sqrt(d)
        if s_q == 1:   # decode: exact
            from transformers.integrations.sdpa_attention import sdpa_attention_forward
            return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                          scaling=scaling, **kwargs)
        assert b == 1
        out, plan = sampleattn.attention(query[0], key[0], value[0], scale=scale, layout="hsd",
                                         threads=torch.get_num_threads(), return_plan=True,
                                         **self.call_options(getattr(module, "layer_idx", 0)))
        plan.close()      # its per-head data stays readable
        self.kept_entries += plan.kept_entries
        self.causal_entries += plan.causal_entries * plan.n_heads
        out = out.transpose(0, 1).contiguous()                      # (s_q, h_q, d)
        q, k, v = (x[0].float().numpy() for x in (query, key, value))
        offset = s_k - s_q
        if self.kind == "needle_exact":
            self.exact_rows(out, q, k, v, scale, offset)
        if self.kind in ("needle_columns", "group_floor", "tail_columns", "block_estimate"):
            self.masked_rows(out, plan, q, k, v, scale, offset)
        if s_k == self.n_prompt:
            self.layers.append(self.measure(out, plan, q, k, v, scale, offset, getattr(module, "layer_idx", None)))
        return out[None], None

    def measure(self, out, plan, q, k, v, scale, offset, layer_idx):
        """The call holding the question: per head, the kept shares of its rows (and, for the
        tail variants, the question rows' outputs replaced)."""
        s_q, s_k = q.shape[1], k.shape[1]
        group = q.shape[0] // k.shape[0]
        t = min(self.tail, s_q)
        pos_tail = np.arange(s_k - t, s_k)
        pos_body = np.linspace(offset, s_k - t - 1, BODY_ROWS).round().astype(np.int64)
        layer = dict(layer=layer_idx, heads=[])
        for h in range(q.shape[0]):
            kh, vh, hp = k[h // group], v[h // group], plan.heads[h]
            p_tail = softmax_rows(q[h, pos_tail - offset], kh, pos_tail, scale)
            m_tail = plan.mask(h, rows=pos_tail - offset)
            p_body = softmax_rows(q[h, pos_body - offset], kh, pos_body, scale)
            m_body = plan.mask(h, rows=pos_body - offset)
            extra = np.zeros(0, dtype=np.int64)
            if self.kind == "tail_alpha":
                last = slice(t - min(LAST_GROUP, t), t)
                extra = own_stripes(p_tail[last], m_tail[last], self.options["alpha"])
                m_tail[:, extra] = True
                m_tail &= np.arange(s_k)[None, :] <= pos_tail[:, None]
                self.extra_columns.append(int(extra.size))
            if self.kind in ("tail_exact", "tail_alpha"):
                out[s_q - t:, h] = attend(p_tail if self.kind == "tail_exact" else p_tail * m_tail, vh)
            a = self.answer_tokens
            layer["heads"].append(dict(**self.needle_stats(q[h], kh, plan, h, offset, scale),
                window=int(hp.window), dense=bool(hp.dense), stripes=int(hp.indices.size),
                tail_cra=float((p_tail * m_tail).sum(axis=1).mean()),
                tail_cra_min=float((p_tail * m_tail).sum(axis=1).min()),
                body_cra=float((p_body * m_body).sum(axis=1).mean()),
                answer_dense=float(p_tail[:, a].sum(axis=1).mean()) if a.size else 0.0,
                answer_kept=float((p_tail[:, a] * m_tail[:, a]).sum(axis=1).mean()) if a.size else 0.0,
                extra_columns=int(extra.size)))
        return layer

    def needle_stats(self, qh, kh, plan, h, offset, scale):
        """The needle rows' kept share under the plan's mask, and the share of what the mask drops
        that falls on needle tokens (the needles' attention to each other)."""
        pos = self.needles_in(offset, qh.shape[0])
        if pos.size == 0:
            return dict(needle_cra=None, needle_dropped_on_needles=None)
        p = softmax_rows(qh[pos - offset], kh, pos, scale)
        m = plan.mask(h, rows=pos - offset)
        dropped = p * ~m
        total = float(dropped.sum())
        return dict(needle_cra=float((p * m).sum(axis=1).mean()),
                    needle_dropped_on_needles=float(dropped[:, self.needle_tokens].sum()) / total if total > 0 else 0.0)

    def masked_rows(self, out, plan, q, k, v, scale, offset):
        """The needle rows and the question rows of this call over the plan's mask widened by the
        variant (the other rows keep the library's output: exact needle rows alone recover the
        answers). needle_columns adds the needles' tokens as columns; group_floor:F adds, for
        each group of rows the library samples (sample_ratio of the rows, groups of 16, evenly
        strided, the last at the end) whose kept share is below F, the columns that bring that
        group to F; tail_columns:F does so for the last group only (the rows that end the call);
        block_estimate:K adds the key blocks of estimated_blocks."""
        s_q, s_k = q.shape[1], k.shape[1]
        group = q.shape[0] // k.shape[0]
        needles = self.needles_in(offset, s_q)
        pos = np.union1d(needles, np.arange(max(offset, offset + s_q - self.tail), offset + s_q))
        groups = sampled_groups(s_q, self.options["sample_ratio"], LAST_GROUP)
        if self.kind == "tail_columns":
            groups = groups[-1:]
        for h in range(q.shape[0]):
            kh = k[h // group]
            mask = plan.mask(h, rows=pos - offset)
            if self.kind == "needle_columns":
                mask[:, self.needle_tokens] = True
            elif self.kind == "block_estimate":
                blocks = self.estimated_blocks(q[h], kh, offset, scale, int(self.arg))
                for i, p in enumerate(pos):
                    for b in blocks[(p - offset) // KEY_BLOCK]:
                        mask[i, b * KEY_BLOCK:(b + 1) * KEY_BLOCK] = True
            else:
                extra = []
                for g in groups:
                    rows = np.arange(s_q)[g]
                    extra.append(own_stripes(softmax_rows(q[h, rows], kh, rows + offset, scale),
                                             plan.mask(h, rows=rows), float(self.arg)))
                extra = np.unique(np.concatenate(extra))
                self.extra_columns.append(int(extra.size))
                mask[:, extra] = True
            mask &= np.arange(s_k)[None, :] <= pos[:, None]
            w = softmax_rows(q[h, pos - offset], kh, pos, scale) * mask
            if needles.size:
                self.widened_needle_cra.append(float(w[np.isin(pos, needles)].sum(axis=1).mean()))
            out[pos - offset, h] = attend(w, v[h // group])

    def estimated_blocks(self, qh, kh, offset, scale, top):
        """Per block of KEY_BLOCK rows of the call, the key blocks that any of its rows ranks among
        its `top` by a cheap estimate (the row's query against each key block's mean key, plus
        log of the block's size: a block-sparse method's selection, blind to where the needles
        are). Counts the entries the selection could add over every row block (an upper bound:
        overlap with the mask not subtracted) in self.block_entries."""
        s_q, s_k = qh.shape[0], kh.shape[0]
        n_blocks = -(-s_k // KEY_BLOCK)
        sizes = np.minimum(KEY_BLOCK, s_k - np.arange(n_blocks) * KEY_BLOCK)
        means = np.add.reduceat(kh.astype(np.float64), np.arange(n_blocks) * KEY_BLOCK, axis=0) / sizes[:, None]
        est = (qh.astype(np.float64) @ means.T) * scale + np.log(sizes)[None, :]
        pos = np.arange(offset, offset + s_q)
        est[np.arange(n_blocks)[None, :] * KEY_BLOCK > pos[:, None]] = -np.inf
        best = np.argsort(-est, axis=1, kind="stable")[:, :top]
        chosen = []
        for a in range(0, s_q, KEY_BLOCK):
            rows = slice(a, min(s_q, a + KEY_BLOCK))
            picks = np.unique(best[rows])
            picks = picks[np.isfinite(est[rows][:, picks]).any(axis=0)]
            chosen.append(picks)
            self.block_entries += int(picks.size) * KEY_BLOCK * (rows.stop - rows.start)
        return chosen

    def exact_rows(self, out, q, k, v, scale, offset):
        """Exact attention for the needle rows of this call (out: (s_q, h_q, d))."""
        pos = self.needles_in(offset, q.shape[1])
        group = q.shape[0] // k.shape[0]
        for h in range(q.shape[0]) if pos.size else ():
            out[pos - offset, h] = attend(softmax_rows(q[h, pos - offset], k[h // group], pos, scale), v[h // group])


def sampled_groups(s_q: int, ratio: float, size: int):
    """The row groups the library's stage 1 samples (Planning/SampleRows.swift)."""
    size = min(size, s_q)
    n = max(1, -(-max(4 * size, math.ceil(ratio * s_q)) // size))
    if n * size >= s_q:
        return [slice(a, min(s_q, a + size)) for a in range(0, s_q, size)]
    if n == 1:
        return [slice(s_q - size, s_q)]
    return [slice(g * (s_q - size) // (n - 1), g * (s_q - size) // (n - 1) + size) for g in range(n)]


def tokens_in_spans(tok, text: str, spans) -> np.ndarray:
    """The tokens of `text` that overlap any (start, end) character span."""
    offsets = tok(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return np.array([i for i, (a, b) in enumerate(offsets) if any(a < hi and b > lo for lo, hi in spans)],
                    dtype=np.int64)


def needle_token_positions(tok, text: str, sample: dict, words) -> np.ndarray:
    """Tokens of every needle or fact inserted into the context (bench/ruler_tasks.py draws them
    first from the sample's generator, so they are drawn again here)."""
    import random
    rng = random.Random("%s/%d/%d" % (sample["task"], sample["length"], sample["seed"]))
    kinds = {"qa": lambda: rt._qa(rng), "niah_single": lambda: rt._niah(rng, words, 1, 1, 1),
             "niah_multikey": lambda: rt._niah(rng, words, 4, 1, 1),
             "niah_multivalue": lambda: rt._niah(rng, words, 1, 4, 1),
             "niah_multiquery": lambda: rt._niah(rng, words, 4, 1, 4)}
    if sample["task"] not in kinds:
        return np.zeros(0, dtype=np.int64)
    spans = []
    for piece in kinds[sample["task"]]()[0]:
        at = text.find(piece)
        assert at >= 0, piece
        spans.append((at, at + len(piece)))
    return tokens_in_spans(tok, text, spans)


def answer_token_positions(tok, text: str, sample: dict) -> np.ndarray:
    """Tokens of the context sentences (or lines) that hold an expected answer."""
    ctx_start = text.find(sample["context"][:200])
    ctx_end = ctx_start + len(sample["context"])
    spans = []
    for ans in sample["answers"]:
        at = text.find(ans, ctx_start)
        while 0 <= at < ctx_end:
            lo = max(text.rfind(".", ctx_start, at), text.rfind("\n", ctx_start, at)) + 1
            hi = min(x for x in (text.find(".", at), text.find("\n", at), ctx_end) if x >= 0)
            spans.append((lo, hi))
            at = text.find(ans, at + len(ans))
    return tokens_in_spans(tok, text, spans)


def mean_of(heads, name):
    values = [h[name] for h in heads if h[name] is not None]
    return float(np.mean(values)) if values else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen05b", choices=sorted(ruler.MODELS))
    ap.add_argument("--gguf", type=Path, default=None)
    ap.add_argument("--length", type=int, default=8192)
    ap.add_argument("--cases", required=True, help="comma list of task/seed")
    ap.add_argument("--prefill", default="oneshot", help="comma list: oneshot and/or chunk sizes")
    ap.add_argument("--variants", default="sample,tail_exact,tail_alpha")
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)

    import torch
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    import sampleattn.hf as sahf
    if args.threads:
        torch.set_num_threads(args.threads)
    tok, model = ruler.load_model(args.gguf or ruler.REALDATA / ruler.MODELS[args.model])
    prose, code = rt.haystack_prose(), rt.haystack_code()
    words = rt.vocabulary(prose)

    def count(s):
        return len(tok(s, add_special_tokens=False).input_ids)
    options = {**sahf.DEFAULT_OPTIONS, **ruler.METHODS["sample"]}
    rows, t0 = [], time.time()
    for case in args.cases.split(","):
        task, seed = case.split("/")
        s = rt.make_sample(task, args.length, int(seed), prose, code, words, count)
        ids = ruler.prompt_ids(tok, s)
        msgs = [{"role": "user", "content": s["context"] + "\n\n" + s["question"]}]
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) + s["answer_prefix"]
        n = ids.shape[1]
        tail = n - len(tok(text[:text.find(s["question"], len(text) - len(s["question"]) - 400)],
                           add_special_tokens=False).input_ids)
        answer_tokens = answer_token_positions(tok, text, s)
        needle_tokens = needle_token_positions(tok, text, s, words)
        for prefill in args.prefill.split(","):
            chunk = 0 if prefill == "oneshot" else int(prefill)
            for variant in args.variants.split(","):
                probe = Probe(options, n, tail, answer_tokens, needle_tokens, variant)
                AttentionInterface.register("ruler_probe", probe)
                AttentionMaskInterface.register("ruler_probe", sdpa_mask)
                model.set_attn_implementation("ruler_probe")
                t1 = time.perf_counter()
                out, logits = ruler.answer(model, tok, ids, chunk, args.new_tokens, top=5)
                heads = [h for layer in probe.layers for h in layer["heads"]]
                row = dict(task=task, seed=int(seed), length=args.length, tokens=n, tail_rows=tail,
                           answer_tokens=int(answer_tokens.size), needle_tokens=int(needle_tokens.size),
                           prefill=prefill, variant=variant,
                           output=out, answers=s["answers"], score=rt.score(s, out),
                           density=probe.kept_entries / probe.causal_entries,
                           tail_cra=float(np.mean([h["tail_cra"] for h in heads])),
                           body_cra=float(np.mean([h["body_cra"] for h in heads])),
                           answer_dense=float(np.mean([h["answer_dense"] for h in heads])),
                           answer_kept=float(np.mean([h["answer_kept"] for h in heads])),
                           needle_cra=mean_of(heads, "needle_cra"),
                           needle_dropped_on_needles=mean_of(heads, "needle_dropped_on_needles"),
                           first_token_top=logits,
                           block_entries_share=probe.block_entries / probe.causal_entries,
                           widened_needle_cra=(float(np.mean(probe.widened_needle_cra))
                                               if probe.widened_needle_cra else None),
                           mean_extra_columns=float(np.mean(probe.extra_columns)) if probe.extra_columns else 0.0,
                           seconds=time.perf_counter() - t1, layers=probe.layers)
                rows.append(row)
                print("%-14s %s %-8s %-10s score %.2f  tail CRA %.4f body %.4f answer %.4f of %.4f  extra %.1f  %r"
                      % (task, seed, prefill, variant, row["score"], row["tail_cra"], row["body_cra"],
                         row["answer_kept"], row["answer_dense"], row["mean_extra_columns"], out[:50]),
                      flush=True)
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(dict(
                    schema_version=1, command=" ".join(sys.argv), machine=dict(
                        cpu=platform.processor() or platform.machine(), torch_threads=torch.get_num_threads()),
                    seconds=time.time() - t0, rows=rows), indent=1))
    model.set_attn_implementation("sdpa")


if __name__ == "__main__":
    main()
