"""Every option None = the library's default; one mode vocabulary; type hints and py.typed."""
import ctypes
import inspect
import os
import types
import typing

import numpy as np
import pytest

import sampleattn
from sampleattn import _capi, api
import sa_reference as ref

# attention's keywords that choose what is returned or how arrays are read, not library options
NOT_OPTIONS = {"layout", "return_lse", "return_plan", "out", "stats"}


def library_defaults():
    p = _capi.sa_params()
    assert _capi.lib().sa_params_init(ctypes.byref(p), ctypes.sizeof(p)) == 0
    return p


def test_every_option_defaults_to_none():
    sig = inspect.signature(sampleattn.attention)
    options = [n for n in sig.parameters if n not in NOT_OPTIONS | {"q", "k", "v"}]
    assert len(options) == 23
    assert {n: sig.parameters[n].default for n in options} == dict.fromkeys(options)


def test_none_options_give_the_library_defaults():
    """All-None parameters are byte for byte what sa_params_init writes."""
    sig = inspect.signature(sampleattn.attention)
    fields = {n: None for n in sig.parameters
              if n not in NOT_OPTIONS | {"q", "k", "v", "mode", "scale", "share_kv_group",
                                         "force_sparse", "threads"}}
    p = api._make_params(None, None, None, None, **fields)
    assert bytes(p) == bytes(library_defaults())


@pytest.mark.parametrize("name", ["alpha", "window_ratio", "sample_ratio", "sink_tokens",
                                  "min_seq_len", "max_density", "sample_group", "max_diagonals",
                                  "alpha_correction"])
def test_none_equals_the_default_value(rng, name):
    """attention(option=None) computes what attention(option=<library default>) computes."""
    q, k, v = ref.random_qkv(rng, 1100, 1100, 2, 1, 32)
    default = getattr(library_defaults(), name)
    a = sampleattn.attention(q, k, v, threads=1, **{name: None})
    b = sampleattn.attention(q, k, v, threads=1, **{name: default})
    c = sampleattn.attention(q, k, v, threads=1)
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_flags_none_and_false_are_the_default(rng):
    q, k, v = ref.random_qkv(rng, 300, 300, 2, 1, 32)
    _, st_none = sampleattn.attention(q, k, v, force_sparse=None, stats=True)
    _, st_false = sampleattn.attention(q, k, v, force_sparse=False, stats=True)
    _, st_true = sampleattn.attention(q, k, v, force_sparse=True, stats=True)
    # S_k 300 < min_seq_len: dense unless forced sparse
    assert st_none["n_dense_heads"] == st_false["n_dense_heads"] == 2
    assert st_true["n_dense_heads"] < 2


def test_mode_vocabulary(rng):
    q, k, v = ref.random_qkv(rng, 1100, 1100, 2, 1, 64)
    results = {}
    for mode in ("sample_slash", "slash", "SLASH", 2):
        out, st = sampleattn.attention(q, k, v, mode=mode, threads=1, stats=True)
        assert st["mode"] == _capi.SA_MODE_SAMPLE_SLASH
        results[mode] = out
    assert all(np.array_equal(results["slash"], r) for r in results.values())
    _, st = sampleattn.attention(q, k, v, stats=True)
    assert st["mode"] == _capi.SA_MODE_SAMPLE          # None = the default mode
    assert set(sampleattn.MODES) == {"dense", "sample", "sample_slash", "slash"}


def test_unknown_mode_lists_the_vocabulary(rng):
    q, k, v = ref.random_qkv(rng, 16, 16, 1, 1, 8)
    with pytest.raises(sampleattn.SampleAttnError) as e:
        sampleattn.attention(q, k, v, mode="column")
    assert e.value.status_name == "SA_ERR_INVALID_MODE"
    for name in ("'dense'", "'sample'", "'sample_slash'", "'slash'"):
        assert name in str(e.value)


def public_callables():
    for name in sampleattn.__all__:
        obj = getattr(sampleattn, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj) and obj.__module__ == "sampleattn.api":
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and (not attr.startswith("_") or attr == "__init__"):
                    yield "%s.%s" % (name, attr), member


def test_public_api_has_type_hints():
    namespace = dict(vars(api))
    try:
        import torch
    except ImportError:     # the hints name torch.Tensor only for type checkers
        torch = types.SimpleNamespace(Tensor=object)
    namespace["torch"] = torch
    missing = []
    for name, fn in public_callables():
        hints = typing.get_type_hints(fn, globalns=namespace)   # also resolves them
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters if p != "self"]
        missing += ["%s(%s)" % (name, p) for p in params if p not in hints]
        if "return" not in hints:
            missing.append("%s -> ?" % name)
    assert not missing, "no type hint: " + ", ".join(missing)


def test_package_is_typed():
    assert os.path.isfile(os.path.join(os.path.dirname(sampleattn.__file__), "py.typed"))
