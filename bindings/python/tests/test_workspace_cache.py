"""The workspace kept between calls (set_workspace_cache): off by default, the same bits as
fresh memory in every mode and precision, released when lowered."""
import threading

import numpy as np
import pytest

import sampleattn
import sa_reference as ref


@pytest.fixture
def cache_off():
    yield
    sampleattn.set_workspace_cache(0)


def calls(rng):
    for s in (640, 1400, 640):
        q, k, v = ref.random_qkv(rng, s, s, 4, 2, 64)
        for mode in ("dense", "sample", "sample_slash"):
            for precision in ("float32", "bfloat16"):
                yield dict(q=q, k=k, v=v, mode=mode, precision=precision, min_seq_len=256, threads=2)


def run(c):
    return sampleattn.attention(c["q"], c["k"], c["v"], mode=c["mode"], precision=c["precision"],
                                min_seq_len=c["min_seq_len"], threads=c["threads"])


def test_cache_is_off_by_default_and_keeps_bits(cache_off):
    fresh = [run(c) for c in calls(np.random.default_rng(3))]
    assert sampleattn.workspace_cached() == 0
    sampleattn.set_workspace_cache(1 << 30)
    cached = [run(c) for c in calls(np.random.default_rng(3))]
    held = sampleattn.workspace_cached()
    assert 0 < held <= 1 << 30
    for a, b in zip(fresh, cached):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))
    sampleattn.set_workspace_cache(held // 2)
    assert sampleattn.workspace_cached() <= held // 2
    sampleattn.set_workspace_cache(0)
    assert sampleattn.workspace_cached() == 0


def test_cache_applies_to_contexts_of_other_threads(cache_off):
    sampleattn.set_workspace_cache(1 << 30)
    seen = []

    def worker():
        q, k, v = ref.random_qkv(np.random.default_rng(5), 600, 600, 2, 1, 64)
        sampleattn.attention(q, k, v, threads=1)
        seen.append(sampleattn.workspace_cached())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen and seen[0] > 0


@pytest.mark.parametrize("bad", [-1, 2 ** 64, 1.5, "1"])
def test_bad_sizes_are_refused(bad, cache_off):
    with pytest.raises(sampleattn.SampleAttnError):
        sampleattn.set_workspace_cache(bad)
