"""How sparse can a block mask be at a given true CRA? (the ceiling in docs/SLASH.md)

On one captured layer, per query block of B rows, key blocks are taken by descending weight until
their share reaches a target, with the diagonal block and key block 0 always kept:
- oracle: the weight is the true attention mass of the block (the best any block selection can
  do at this granularity, with perfect knowledge);
- pooled: mean-pooled queries x mean-pooled keys (a cheap estimator, as in MInference's
  block-sparse pattern).
Prints per head and the mean over heads: density (kept / causal entries) and true CRA (kept
share of the dense mass, mean over rows). numpy only; about 15 s per head at 32K on one thread.

    python bench/block_oracle.py ../realdata/qwen05b_code_32k L12 32768 [--heads 0,1,2]
"""
import argparse
import numpy as np


def block_mass(q, k, h, group, S, B):
    """M[qb, kb]: the rows of query block qb, summed, their dense causal mass on key block kb."""
    K = k[h // group]
    nb = S // B
    M = np.zeros((nb, nb))
    for qb in range(nb):
        n = (qb + 1) * B
        s = (q[h, qb * B:n] @ K[:n].T) / np.sqrt(q.shape[2])
        rows = np.arange(qb * B, n)[:, None]
        s[np.arange(n)[None, :] > rows] = -np.inf
        p = np.exp(s - s.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        M[qb, :qb + 1] = p.reshape(B, qb + 1, B).sum(2).sum(0)
    return M


def select(weight, mass, target, B):
    """Kept entries and kept true mass (summed over rows) of the blocks chosen by `weight`."""
    kept_entries, kept_mass = 0, 0.0
    for qb in range(weight.shape[0]):
        w = weight[qb, :qb + 1]
        order = np.argsort(-w, kind="stable")
        share = np.cumsum(w[order]) / max(w.sum(), 1e-30)
        chosen = set(order[:int(np.searchsorted(share, target)) + 1].tolist()) | {0, qb}
        kept_entries += sum(B * B if kb < qb else B * (B + 1) // 2 for kb in chosen)
        kept_mass += sum(mass[qb, kb] for kb in chosen)
    return kept_entries, kept_mass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("layer", help="capture prefix, e.g. L12")
    ap.add_argument("tokens", type=int)
    ap.add_argument("--heads", default=None, help="comma list (default: all)")
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--targets", default="0.95,0.976,0.99,0.995")
    a = ap.parse_args()
    S, B = a.tokens - a.tokens % a.block, a.block
    q = np.load(f"{a.folder}/{a.layer}_q.npy")[:, :S].astype(np.float32)
    k = np.load(f"{a.folder}/{a.layer}_k.npy")[:, :S].astype(np.float32)
    group = q.shape[0] // k.shape[0]
    heads = range(q.shape[0]) if a.heads is None else [int(x) for x in a.heads.split(",")]
    targets = [float(t) for t in a.targets.split(",")]
    nb = S // B
    causal = nb * (nb - 1) // 2 * B * B + nb * B * (B + 1) // 2
    results = {}
    for h in heads:
        M = block_mass(q, k, h, group, S, B)
        qp = q[h].reshape(nb, B, -1).mean(1)
        kp = k[h // group].reshape(nb, B, -1).mean(1)
        s = (qp @ kp.T) / np.sqrt(q.shape[2])
        s[np.triu_indices(nb, 1)] = -np.inf
        pooled = np.exp(s - s.max(1, keepdims=True))
        line = ["head %2d" % h]
        for name, weight in (("oracle", M), ("pooled", pooled)):
            for t in targets:
                e, m = select(weight, M, t, B)
                results.setdefault((name, t), []).append((e / causal, m / S))
                line.append("%s@%g density %.3f CRA %.4f" % (name, t, e / causal, m / S))
        print(" | ".join(line), flush=True)
    for (name, t), v in results.items():
        v = np.array(v)
        print("mean over heads, %s@%g: density %.3f, true CRA %.4f (min head %.4f)"
              % (name, t, v[:, 0].mean(), v[:, 1].mean(), v[:, 1].min()))


if __name__ == "__main__":
    main()
