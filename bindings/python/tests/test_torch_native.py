"""torch tensors in give torch tensors out (q decides), numpy in gives numpy out; inputs and
outputs share the caller's memory when it is on the CPU with a supported dtype and a unit
head-dim stride."""
import os
import subprocess
import sys

import numpy as np
import pytest

import sampleattn
from sampleattn import api
import sa_reference as ref

torch = pytest.importorskip("torch")

DTYPES = {torch.float32: (np.float32, 1e-5), torch.float16: (np.float16, 2e-3),
          torch.bfloat16: (None, 2e-2)}


def qkv(rng, s_q=48, s_k=80, h_q=4, h_kv=2, d=32):
    return ref.random_qkv(rng, s_q, s_k, h_q, h_kv, d)


@pytest.mark.parametrize("dtype", list(DTYPES), ids=lambda t: str(t).split(".")[-1])
def test_tensor_in_tensor_out(rng, dtype):
    q, k, v = qkv(rng)
    tq, tk, tv = (torch.from_numpy(x).to(dtype) for x in (q, k, v))
    out, lse = sampleattn.attention(tq, tk, tv, mode="dense", return_lse=True)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == tq.shape
    assert isinstance(lse, torch.Tensor) and lse.dtype == torch.float32 and lse.shape == (4, 48)
    want, want_lse = ref.attention(*(t.float().numpy() for t in (tq, tk, tv)))
    assert ref.rel_l2(out.float().numpy(), want) <= DTYPES[dtype][1]
    np.testing.assert_allclose(lse.numpy(), want_lse, rtol=1e-4, atol=1e-4)


def test_numpy_in_numpy_out(rng):
    q, k, v = qkv(rng)
    out, lse = sampleattn.attention(q, k, v, mode="dense", return_lse=True)
    assert type(out) is np.ndarray and type(lse) is np.ndarray
    # q decides: numpy q with tensor k and v still gives numpy
    mixed = sampleattn.attention(q, torch.from_numpy(k), torch.from_numpy(v), mode="dense")
    assert type(mixed) is np.ndarray and np.array_equal(mixed, out)


@pytest.mark.parametrize("dtype", list(DTYPES), ids=lambda t: str(t).split(".")[-1])
def test_inputs_are_not_copied(rng, dtype):
    """A CPU tensor of a supported dtype is passed as a view of its own memory, strided views
    (head-major slices of a larger cache) included."""
    cache = torch.randn(2, 128, 32).to(dtype)            # (H_kv, max_tokens, d)
    view = cache[:, 16:96]                                # (H, S, d) view, token stride d
    for t, layout in ((cache, "hsd"), (view, "hsd"), (view.permute(1, 0, 2), "shd")):
        a, code = api._prepare(t, "k", layout)
        assert a.ctypes.data == t.data_ptr()
        assert a.strides == tuple(s * t.element_size() for s in t.stride())
        assert code == {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}[dtype]


def test_output_tensor_memory_is_written_in_place(rng):
    q, k, v = qkv(rng)
    tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
    buf = torch.full((2, 48, 4, 32), float("nan"))
    res = sampleattn.attention(tq, tk, tv, mode="dense", out=buf[1])
    assert res.data_ptr() == buf[1].data_ptr()
    assert torch.isnan(buf[0]).all()
    assert ref.rel_l2(buf[1].numpy(), ref.attention(q, k, v)[0]) <= 1e-5
    # numpy q with a tensor out: out is returned as given
    first = buf[0]
    res = sampleattn.attention(q, k, v, mode="dense", out=first)
    assert res is first and torch.equal(buf[0], buf[1])


def test_head_major_tensor_out(rng):
    """The output has q's layout: a (H, S, d) view of a (S, H, d) tensor works as out."""
    q, k, v = qkv(rng)
    tq, tk, tv = (torch.from_numpy(np.ascontiguousarray(x.transpose(1, 0, 2))) for x in (q, k, v))
    out_shd = torch.empty(48, 4, 32)
    res = sampleattn.attention(tq, tk, tv, mode="dense", layout="hsd", out=out_shd.transpose(0, 1))
    assert res.data_ptr() == out_shd.data_ptr()
    assert ref.rel_l2(out_shd.numpy(), ref.attention(q, k, v)[0]) <= 1e-5


def test_non_unit_head_dim_stride_is_copied_and_correct(rng):
    q, k, v = qkv(rng)
    wide = torch.from_numpy(np.repeat(q, 2, axis=2))      # every element twice
    tq = wide[:, :, ::2]                                  # head-dim stride 2: not viewable
    a, _ = api._prepare(tq, "q", "shd")
    assert a.ctypes.data != tq.data_ptr() and a.strides[2] == 4
    out = sampleattn.attention(tq, torch.from_numpy(k), torch.from_numpy(v), mode="dense")
    assert isinstance(out, torch.Tensor) and out.is_contiguous()
    assert ref.rel_l2(out.numpy(), ref.attention(q, k, v)[0]) <= 1e-5


def test_other_dtypes_are_converted_to_float32(rng):
    q, k, v = qkv(rng)
    tq, tk, tv = (torch.from_numpy(x).double() for x in (q, k, v))
    out = sampleattn.attention(tq, tk, tv, mode="dense")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert ref.rel_l2(out.numpy(), ref.attention(q, k, v)[0]) <= 1e-5


def test_bad_tensor_out_is_refused_and_untouched(rng):
    q, k, v = qkv(rng)
    tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
    out64 = torch.zeros(48, 4, 32, dtype=torch.float64)
    with pytest.raises(sampleattn.SampleAttnError) as e:
        sampleattn.attention(tq, tk, tv, out=out64)
    assert e.value.status_name == "SA_ERR_INVALID_DTYPE" and not out64.any()
    strided = torch.zeros(48, 4, 64)[:, :, ::2]
    with pytest.raises(sampleattn.SampleAttnError) as e:
        sampleattn.attention(tq, tk, tv, out=strided)
    assert e.value.status_name == "SA_ERR_INVALID_STRIDE"


def test_plan_apply_with_tensors(rng):
    q, k, v = ref.random_qkv(rng, 256, 256, 4, 2, 32)
    tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
    out, plan = sampleattn.attention(tq, tk, tv, force_sparse=True, return_plan=True)
    with plan:
        again, lse = plan.apply(tq, tk, tv, return_lse=True)
        assert isinstance(again, torch.Tensor) and isinstance(lse, torch.Tensor)
        assert torch.equal(again, out)
        want, _ = ref.attention(q, k, v, masks=[ref.plan_mask(h, 256, 256) for h in plan.heads])
    assert ref.rel_l2(out.numpy(), want) <= 1e-5


def test_requires_grad_tensors_are_read(rng):
    q, k, v = qkv(rng)
    tq = torch.from_numpy(q).requires_grad_()
    out = sampleattn.attention(tq, torch.from_numpy(k), torch.from_numpy(v), mode="dense")
    assert not out.requires_grad
    assert ref.rel_l2(out.numpy(), ref.attention(q, k, v)[0]) <= 1e-5


def test_bfloat16_tensors_need_no_ml_dtypes(tmp_path):
    """torch's bfloat16 goes to the library as raw bits: works with ml_dtypes unavailable."""
    code = ("import sys; sys.modules['ml_dtypes'] = None\n"
            "import torch, sampleattn\n"
            "g = torch.Generator().manual_seed(0)\n"
            "q, k, v = (torch.randn(64, 2, 16, generator=g).bfloat16() for _ in range(3))\n"
            "out = sampleattn.attention(q, k, v, mode='dense')\n"
            "ref = torch.nn.functional.scaled_dot_product_attention(\n"
            "    *(t.float().transpose(0, 1) for t in (q, k, v)), is_causal=True).transpose(0, 1)\n"
            "err = float((out.float() - ref).norm() / ref.norm())\n"
            "print(out.dtype, err < 2e-2)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    assert r.stdout.split() == ["torch.bfloat16", "True"], r.stdout + r.stderr
